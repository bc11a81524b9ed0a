"""Change masks stored inside a QuakeSet patch group (synthetic files), and reading one sample's.

The synthetic generator knows where it put every change and writes, per patch, ``uint8``
``H x W`` datasets next to the images (public readers, TorchGeo's included, only open the images
they know, so the extra datasets are invisible to them):

* ``mask_earthquake``: where the earthquake signature's expected absolute change is at least
  :data:`SUBSTANTIAL_CHANGE_DB` (between ``pre`` and ``post``);
* ``mask_<date>`` for each date of the patch (``mask_before``, ``mask_pre``, ``mask_post``):
  where that date's unrelated changes (fields, floods, construction; not the soil-moisture
  drift) reach :data:`SUBSTANTIAL_CHANGE_DB`, relative to the patch's unchanged ground.

A sample ``(t0, t1)`` then has two masks: the earthquake's (positives only; zero for negatives)
and "any" substantial change, ``mask_t0 | mask_t1`` (``| mask_earthquake`` for ``(pre, post)``).
"""
from __future__ import annotations

import h5py
import numpy as np

__all__ = ["CHANGE_MASKS", "EARTHQUAKE_MASK", "SUBSTANTIAL_CHANGE_DB", "date_mask", "sample_masks"]

#: The two masks of a sample, in the order of the mask axis: [earthquake change, any change].
CHANGE_MASKS = ("earthquake", "any")
#: Name of the earthquake mask inside a patch group.
EARTHQUAKE_MASK = "mask_earthquake"
#: A change is "substantial" where its expected absolute backscatter change is >= this (dB).
SUBSTANTIAL_CHANGE_DB = 1.0


def date_mask(date: str) -> str:
    """Name of the mask of ``date``'s unrelated changes inside a patch group."""
    return f"mask_{date}"


def _is_mask_name(name: str) -> bool:
    return name.startswith("mask_")


def sample_masks(group, dates, negative, shape, fail):
    """``(2, H, W)`` uint8 masks of the sample ``dates = (t0, t1)`` of patch ``group``, or None.

    None when the patch holds no mask dataset at all (the real file); a patch that holds some
    but not those the sample needs, or masks of the wrong shape or type, is refused through
    ``fail(message, key)`` (which raises).
    """
    if not any(_is_mask_name(name) for name in group):
        return None
    names = [date_mask(d) for d in dates] + ([] if negative else [EARTHQUAKE_MASK])
    where = group.name.lstrip("/")
    out = np.zeros((2,) + tuple(shape), dtype=np.uint8)
    for name in names:
        if name not in group:
            present = sorted(n for n in group if _is_mask_name(n))
            fail(f"patch '{where}' has the masks {present} but not {name!r}, which the sample "
                 f"{tuple(dates)} needs (uint8 H x W)", f"{group.name}/{name}")
        dataset = group[name]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biu":
            kind = "a group" if isinstance(dataset, h5py.Group) else f"dtype {dataset.dtype}"
            fail(f"mask '{where}/{name}' is {kind}; expected a uint8 H x W dataset of 0 and 1",
                 dataset.name)
        if dataset.shape != tuple(shape):
            fail(f"mask '{where}/{name}' has shape {dataset.shape}; expected {tuple(shape)} like "
                 "the images of its patch", dataset.name)
        mask = dataset[()] != 0
        if name == EARTHQUAKE_MASK:
            out[0] = mask
        out[1] |= mask
    return out
