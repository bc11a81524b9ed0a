"""Change detection data (QuakeSet task 4): bitemporal pairs and, where the file has them, masks.

Synthetic files store per patch where each change is substantial (:mod:`skquake.datasets._masks`);
the real ``earthquakes.h5`` stores no mask, so its pairs come without truth (``masks=None``) and
only the unsupervised statistics can be computed on it.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ..utils import StrictInterval, StrOptions, average_pool, check_capacity, validate_params
from ._masks import CHANGE_MASKS
from ._quakeset import _PARAMETER_CONSTRAINTS, QuakeSet, QuakeSetFormatError
from ._source import check_hdf5_source, load_quakeset

__all__ = ["CHANGE_MASKS", "load_change", "read_change_masks"]


def _no_masks(ds, i, why):
    where = f"{ds.groups[i]}/{ds.patches[i]}"
    raise QuakeSetFormatError(
        f"{ds.path}: patch '{where}' has no change masks ({why}); masks are written by "
        "skquake.datasets.make_quakeset (generator_version >= 2), the real earthquakes.h5 has none: "
        "pass masks='auto' to read the pairs without truth", path=ds.path, key=f"/{where}")


def read_change_masks(ds, pool=1, required=False):
    """``(n, 2, H // pool, W // pool)`` uint8 masks of every sample of the bitemporal ``ds``, or None.

    None when no patch of the split has masks (unless ``required``); a split where some patches
    have masks and others not is refused, naming the first patch without. Pooled masks are the
    majority of their block (mean >= 0.5).
    """
    _, h, w = ds.image_shape
    out = None
    first_without = None
    for i in range(len(ds)):
        masks = ds.read_masks(i)
        if masks is None:
            if out is not None:
                _no_masks(ds, i, "other patches of the file have them")
            first_without = i if first_without is None else first_without
            continue
        if first_without is not None:
            _no_masks(ds, first_without, f"'{ds.groups[i]}/{ds.patches[i]}' has them")
        if out is None:
            out = np.empty((len(ds), len(CHANGE_MASKS), h // pool, w // pool), dtype=np.uint8)
        out[i] = masks if pool == 1 else average_pool(masks.astype(np.float32), pool) >= 0.5
    if out is None and required and len(ds):
        _no_masks(ds, 0, "masks='required'")
    if out is None and not len(ds):
        out = np.zeros((0, len(CHANGE_MASKS), h // pool, w // pool), dtype=np.uint8)
    return out


@validate_params(
    {
        **{k: _PARAMETER_CONSTRAINTS[k] for k in ("path", "split", "fill_value")},
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
        "masks": [StrOptions({"auto", "required"})],
    },
    prefer_skip_nested_validation=True,
)
def load_change(path, split="train", pool=1, fill_value=0.0, masks="auto"):
    """Read the bitemporal pairs of a QuakeSet split and their change masks (QuakeSet task 4).

    Parameters
    ----------
    path, split, pool, fill_value
        As for :func:`load_quakeset` in ``mode="bitemporal"``.
    masks : {"auto", "required"}, default="auto"
        ``"auto"``: ``masks`` is None when the file has no masks (the real file);
        ``"required"``: such a file raises a :class:`QuakeSetFormatError` naming it and a patch.

    Returns
    -------
    X : ndarray of float32, shape (n, 4, H // pool, W // pool)
        ``[t0 VV, t0 VH, t1 VV, t1 VH]``, linear, NaN filled: the samples of :class:`QuakeSet`,
        in its order (positives ``(pre, post)`` and negatives ``(before, pre)``).
    masks : ndarray of uint8, shape (n, 2, H // pool, W // pool), or None
        :data:`CHANGE_MASKS` order: ``[:, 0]`` the earthquake's substantial change (all zero
        for negatives), ``[:, 1]`` any substantial change between the two images (earthquake
        or unrelated). With ``pool > 1`` a pooled pixel is 1 where at least half its block is.
    groups : ndarray of str, shape (n,)
        Event id of each sample.

    Examples
    --------
    >>> from skquake.datasets import load_change, make_quakeset
    >>> path = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=6, patch_size=8)
    >>> X, masks, groups = load_change(path, split="all", pool=2)
    >>> X.shape[1:], masks.shape[1:], masks.dtype
    ((4, 4, 4), (2, 4, 4), dtype('uint8'))
    """
    check_hdf5_source(path, "change masks")
    with QuakeSet(path, split=split, mode="bitemporal") as ds:
        _, h, w = ds.image_shape
        if h % pool or w % pool:
            raise ValueError(f"pool={pool} does not divide the image size {h} x {w} of {ds.path}; "
                             "choose a pool that divides both")
        check_capacity(
            f"load_change({str(ds.path)!r}, split={split!r}, pool={pool}): masks of shape "
            f"{(len(ds), 2, h // pool, w // pool)}",
            memory=2 * len(ds) * (h // pool) * (w // pool) + 4 * 2 * h * w,
            parameters=("split", "pool"),
            hint="pass a larger pool, or read masks lazily with QuakeSet(path).read_masks(i)",
        )
        truth = read_change_masks(ds, pool=pool, required=masks == "required")
    X, _, groups = load_quakeset(path, split=split, mode="bitemporal", pool=pool, fill_value=fill_value)
    return X, truth, groups
