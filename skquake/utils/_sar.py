"""Sample-level transforms for QuakeSet images.

Every function takes one image or a batch with the channel axis before the two spatial axes
(``(C, H, W)`` or ``(n, C, H, W)``) and works on numpy arrays; :func:`to_decibels` and
:func:`from_decibels` also accept torch tensors and return the same type. They are plain
module-level functions, so they pickle and can be passed as ``QuakeSet(transform=...)`` to a
DataLoader with worker processes.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ._validation import StrictInterval, validate_params

__all__ = ["to_decibels", "from_decibels", "fill_nan", "average_pool"]


def _is_torch(x) -> bool:
    # Checked by module name so that numpy-only users never import torch.
    return type(x).__module__.startswith("torch")


def to_decibels(x, eps=1e-9):
    """Convert linear backscatter (sigma0) to decibels: ``10 * log10(x + eps)``.

    Parameters
    ----------
    x : ndarray or torch.Tensor
        Linear backscatter, any shape. NaN pixels should be filled first: a pixel filled with
        0 becomes ``10 * log10(eps)`` (-90 dB for the default ``eps``), as in the public code.
    eps : float, default=1e-9
        Added before the logarithm so that zeros stay finite.

    Returns
    -------
    ndarray or torch.Tensor
        Same type, shape and (floating) dtype as ``x``.
    """
    if _is_torch(x):
        import torch  # keeps torch out of the torch-free import path: only torch input gets here

        return 10.0 * torch.log10(x + eps)
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    db = 10.0 * np.log10(x.astype(dtype, copy=False) + dtype.type(eps))
    return db.astype(dtype, copy=False)


def from_decibels(x):
    """Inverse of :func:`to_decibels` (without removing ``eps``): ``10 ** (x / 10)``."""
    if _is_torch(x):
        import torch  # keeps torch out of the torch-free import path: only torch input gets here

        return torch.pow(10.0, x / 10.0)
    x = np.asarray(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    return np.power(dtype.type(10.0), x.astype(dtype, copy=False) / dtype.type(10.0))


def fill_nan(x, fill_value=0.0, copy=True):
    """Replace NaN (no-data) pixels by ``fill_value``.

    Unlike :func:`numpy.nan_to_num`, infinities are left alone: only no-data is touched.
    With ``copy=False`` the array is changed in place and returned.
    """
    x = np.array(x, copy=True) if copy else np.asarray(x)
    np.copyto(x, x.dtype.type(fill_value), where=np.isnan(x))
    return x


@validate_params(
    {
        "x": ["array-like"],
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
        "out": [None, np.ndarray],
    },
    prefer_skip_nested_validation=True,
)
def average_pool(x, pool, out=None):
    """Average-pool the two last (spatial) axes over non-overlapping ``pool x pool`` blocks.

    Parameters
    ----------
    x : ndarray of shape (..., H, W)
        NaN must be filled first: a NaN pixel makes its whole block NaN.
    pool : int
        Block size; H and W must both be divisible by it.
    out : ndarray of shape (..., H // pool, W // pool), optional
        Written in place (lets a loader pool straight into a preallocated result).

    Returns
    -------
    ndarray of shape (..., H // pool, W // pool), dtype of ``x`` (or of ``out``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    >>> average_pool(x, 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]], dtype=float32)
    """
    x = np.asarray(x)
    pool = int(pool)
    if x.ndim < 2:
        raise ValueError(
            f"average_pool needs at least 2 dimensions (..., H, W), got shape {x.shape}"
        )
    h, w = x.shape[-2:]
    if h % pool or w % pool:
        raise ValueError(
            f"pool={pool} does not divide the image size {h} x {w}; "
            f"choose a pool that divides both (e.g. one of {_divisors(h, w)})"
        )
    if pool == 1:
        if out is None:
            return x.copy()
        out[...] = x
        return out
    blocks = x.reshape(x.shape[:-2] + (h // pool, pool, w // pool, pool))
    return np.mean(blocks, axis=(-3, -1), out=out, dtype=None if out is not None else x.dtype)


def _divisors(h, w):
    return [k for k in range(1, min(h, w) + 1) if h % k == 0 and w % k == 0][:8]
