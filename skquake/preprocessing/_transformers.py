"""Layout and radiometry: un-flatten, flatten, fill no-data, decibels, multilook pooling.

The input layouts every transformer takes are described in :mod:`skquake.preprocessing._base`.
"""
from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..utils import StrictInterval, average_pool, fill_nan, to_decibels
from ._base import FINITE, POSITIVE, _ImageTransformer

__all__ = ["AveragePooling", "Decibels", "Flatten", "NaNFiller", "ToImages"]

_SIZE = StrictInterval(Integral, 1, None, closed="left")


class ToImages(_ImageTransformer):
    """Reshape flattened images ``(n, C*H*W)`` to ``(n, C, H, W)``; check 4-D input.

    Put it first in a pipeline that receives flattened input, so that ``input_shape`` is
    declared once; the steps after it see 4-D arrays. Without ``input_shape``, 2-D input is
    passed through unchanged (plain features).

    Parameters
    ----------
    input_shape : tuple (C, H, W), optional
        Shape of one image, required to un-flatten 2-D input.

    Attributes
    ----------
    input_shape_ : tuple (C, H, W)
        Image shape seen in ``fit`` (``(F, 1, 1)`` for 2-D input without ``input_shape``).
    output_shape_ : tuple
        Same as ``input_shape_``.
    n_features_in_ : int
        ``C * H * W``.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import ToImages
    >>> X = np.zeros((2, 4 * 3 * 3))  # two flattened 4 x 3 x 3 images
    >>> ToImages(input_shape=(4, 3, 3)).fit_transform(X).shape
    (2, 4, 3, 3)
    """

    def __init__(self, input_shape=None):
        self.input_shape = input_shape

    def transform(self, X):
        check_is_fitted(self)
        X4, was_2d = self._validate_images(X, reset=False)
        if was_2d and self.input_shape is None:
            return self._wrap_2d(X4.reshape(X4.shape[0], -1), X)
        return X4


class Flatten(_ImageTransformer):
    """Flatten ``(n, C, H, W)`` to ``(n, C*H*W)`` (channel-major, like ``ndarray.reshape``).

    Returns a view of the input when it is C-contiguous (no copy of a large stack).

    Parameters
    ----------
    input_shape : tuple (C, H, W), optional
        Declared shape of flattened input (then only checked).

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import Flatten
    >>> Flatten().fit_transform(np.zeros((2, 4, 3, 3))).shape
    (2, 36)
    """

    def __init__(self, input_shape=None):
        self.input_shape = input_shape

    def _transform_images(self, X):
        return X.reshape(X.shape[0], -1)


class NaNFiller(_ImageTransformer):
    """Replace NaN (no-data) pixels by a constant.

    Parameters
    ----------
    fill_value : float, default=0.0
        Value written in place of NaN. 0 (in linear units) is what the public QuakeSet
        loaders use; it becomes -90 dB after :class:`Decibels`.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import NaNFiller
    >>> X = np.array([[[[np.nan, 0.5]]]])  # one image: 1 channel, 1 x 2 pixels
    >>> NaNFiller(fill_value=0.0).fit_transform(X)
    array([[[[0. , 0.5]]]])
    """

    _parameter_constraints = {**_ImageTransformer._parameter_constraints, "fill_value": [FINITE]}

    def __init__(self, fill_value=0.0, input_shape=None):
        self.fill_value = fill_value
        self.input_shape = input_shape

    def _transform_images(self, X):
        return fill_nan(X, self.fill_value, copy=True)


class Decibels(_ImageTransformer):
    """Convert linear backscatter to decibels, ``10 * log10(x + eps)``.

    Uses :func:`skquake.preprocessing.to_decibels`. NaN stays NaN (fill it first with
    :class:`NaNFiller`).

    Parameters
    ----------
    eps : float, default=1e-9
        Added before the logarithm; a zero becomes ``10 * log10(eps)`` (-90 dB).
    clip_negative : bool, default=True
        Calibrated Sentinel-1 intensities can be slightly negative after thermal-noise
        removal; they are set to 0 first (so they read as no signal). With False, a negative
        value raises ``ValueError`` (useful to catch input that is already in dB).
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import Decibels
    >>> X = np.array([[[[1.0, 0.1, 0.0]]]])  # one image: 1 channel, 1 x 3 pixels
    >>> Decibels().fit_transform(X).round(1)
    array([[[[  0., -10., -90.]]]])
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "eps": [POSITIVE],
        "clip_negative": ["boolean"],
    }

    def __init__(self, eps=1e-9, clip_negative=True, input_shape=None):
        self.eps = eps
        self.clip_negative = clip_negative
        self.input_shape = input_shape

    def _transform_images(self, X):
        if self.clip_negative:
            X = np.maximum(X, X.dtype.type(0))
        elif np.nanmin(X, initial=0.0) < 0:
            raise ValueError(
                "Decibels: X has negative values; linear backscatter is non-negative "
                "(is X already in dB?). Pass clip_negative=True to set negatives to 0."
            )
        return to_decibels(X, eps=self.eps)


class AveragePooling(_ImageTransformer):
    """Average non-overlapping ``k x k`` blocks of pixels (multilooking).

    Pool linear intensities (before :class:`Decibels`), as :func:`skquake.load_quakeset`
    does with ``pool=``: averaging power is the physical multilook; averaging dB is not.

    The factor ``k`` is ``pool_size``, raised if needed so that the output side is at most
    ``max_size``: ``k = max(pool_size, ceil(max(H, W) / max_size))``, then capped at
    ``min(H, W)``. Edge rows and columns that do not fill a block are dropped. With
    ``pool_size=1, max_size=128``, 512 x 512 images are pooled 4x and images already 128 x 128
    (e.g. read with ``load_quakeset(..., pool=4)``) or smaller are left as they are, so both
    give the same features.

    Parameters
    ----------
    pool_size : int, default=2
        Minimum block size.
    max_size : int, optional
        Largest allowed output height / width.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Attributes
    ----------
    pool_factor_ : int
        The block size used.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import AveragePooling
    >>> X = np.arange(2 * 4 * 8 * 8, dtype=np.float32).reshape(2, 4, 8, 8)
    >>> pool = AveragePooling(pool_size=1, max_size=4).fit(X)
    >>> pool.pool_factor_, pool.transform(X).shape
    (2, (2, 4, 4, 4))
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "pool_size": [_SIZE],
        "max_size": [None, _SIZE],
    }

    def __init__(self, pool_size=2, max_size=None, input_shape=None):
        self.pool_size = pool_size
        self.max_size = max_size
        self.input_shape = input_shape

    def _output_shape(self, shape):
        c, h, w = shape
        k = int(self.pool_size)
        if self.max_size is not None:
            k = max(k, math.ceil(max(h, w) / self.max_size))
        k = min(k, h, w)
        self.pool_factor_ = k
        return (c, h // k, w // k)

    def _transform_images(self, X):
        k = self.pool_factor_
        h, w = X.shape[-2:]
        return average_pool(X[..., : h - h % k, : w - w % k], k)

    def _feature_index(self):
        return np.arange(self.n_features_in_) if self.pool_factor_ == 1 else None
