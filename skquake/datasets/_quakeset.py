"""Reading QuakeSet HDF5 files (the real ``earthquakes.h5`` or a synthetic one).

The sample convention follows the public loaders (TorchGeo ``QuakeSet``):

* events (top-level groups) and their patches are visited in ``sorted()`` order, i.e. plain
  string order: ``patch_10`` comes before ``patch_2``, as in TorchGeo;
* for each patch, first the positive sample ``(pre, post)`` with ``label=1`` and the event's
  magnitude, then, only where ``before`` exists, the negative ``(before, pre)`` with
  ``label=0`` and magnitude 0.0;
* bitemporal images are ``[t0 VV, t0 VH, t1 VV, t1 VH]`` channels-first; single images are the
  later acquisition (``post`` for positives, ``pre`` for negatives), ``[VV, VH]``;
* NaN (no data) is replaced by ``fill_value`` (0 as in the public loaders); no other
  normalisation.

Opening a :class:`QuakeSet` reads only groups and attributes (the index); pixels are read in
``__getitem__`` through an HDF5 handle opened lazily in each process, after checking that the
file has not changed since the index was read (:class:`~skquake.utils.FileChangedError`).
Every error about the file names it and the HDF5 key (:mod:`skquake.datasets._hdf5`).
"""
from __future__ import annotations

import os
from numbers import Real
from pathlib import Path

import h5py
import numpy as np

from ..utils import (
    Hidden,
    StrictInterval,
    StrOptions,
    validate_parameter_constraints,
)
from ._hdf5 import HDF5FormatError, LazyHDF5File, Layout, open_index
from ._masks import sample_masks

__all__ = ["QuakeSet", "QuakeSetFormatError", "SPLITS", "MODES"]

#: user-facing split name -> split values stored in the file's ``split`` attribute
SPLITS = {
    "train": ("train",),
    "val": ("validation",),
    "validation": ("validation",),
    "test": ("test",),
    "all": ("train", "validation", "test"),
}
MODES = ("bitemporal", "single")
FILE_SPLITS = ("train", "validation", "test")
COORDINATE_KEYS = ("x", "y")
# (t0, t1) image names of a positive and a negative sample
POSITIVE_IMAGES = ("pre", "post")
NEGATIVE_IMAGES = ("before", "pre")


class QuakeSetFormatError(HDF5FormatError):
    """The file is not an HDF5 file in the QuakeSet layout; the message names file and key.

    ``path`` is the file and ``key`` the HDF5 object (:class:`HDF5FormatError`).
    """


#: Constraints of the arguments QuakeSet and load_quakeset share.
_PARAMETER_CONSTRAINTS = {
    "path": [str, os.PathLike],
    "split": [StrOptions(set(SPLITS))],
    "mode": [StrOptions(set(MODES))],
    # Any number but a bool; NaN is accepted as before (it leaves no-data as NaN, like None).
    "fill_value": [None, StrictInterval(Real, None, None, closed="both"), Hidden("nan")],
}
_WHAT = "QuakeSet file"
_IMAGE = "an H x W x 2 dataset of real backscatter (VV, VH)"


def _event_info(layout, event, key):
    """``(split, magnitude)`` of an event group, decoded and checked."""
    owner = f"event {key!r}"
    split = layout.text_attr(event, "split", owner)
    if split not in FILE_SPLITS:
        layout.fail(f"{owner} has split {split!r}; expected one of "
                    f"{', '.join(map(repr, FILE_SPLITS))}", key=event.name)
    magnitude = layout.number_attr(event, "magnitude", owner)
    if not np.isfinite(magnitude):
        layout.fail(f"{owner} has magnitude {magnitude}; expected a finite number", key=event.name)
    return split, magnitude


def _build_index(path: Path, file_splits: tuple):
    """Walk groups and attributes (never pixels); validate the layout of the whole file.

    Returns the sample rows, the image height and width and the file's fingerprint.
    """
    rows = []
    image_hw = None
    n_events = 0
    with open_index(path, what=_WHAT, error=QuakeSetFormatError) as (f, layout, fingerprint):
        for key in sorted(f.keys()):
            event = layout.member(f, key, "an event group")
            if not isinstance(event, h5py.Group):
                continue
            n_events += 1
            split, magnitude = _event_info(layout, event, key)
            for patch in sorted(event.keys()):
                if patch in COORDINATE_KEYS:
                    continue
                group = layout.member(event, patch, "a patch group")
                if not isinstance(group, h5py.Group):
                    continue
                for image in POSITIVE_IMAGES:
                    if image not in group:
                        layout.fail(f"patch '{key}/{patch}' has no {image!r} image", key=group.name)
                has_before = "before" in group
                for image in POSITIVE_IMAGES + (("before",) if has_before else ()):
                    dataset = layout.member(group, image, _IMAGE, kind=h5py.Dataset)
                    layout.check_real(dataset, _IMAGE)
                    shape = dataset.shape
                    where = f"image '{key}/{patch}/{image}'"
                    if shape is None or len(shape) != 3 or shape[2] != 2:
                        layout.fail(f"{where} has shape {shape}; expected (H, W, 2) with channels VV, VH",
                                    key=dataset.name)
                    if image_hw is None:
                        image_hw = shape[:2]
                    elif shape[:2] != image_hw:
                        layout.fail(f"{where} has shape {shape}; expected {image_hw + (2,)} like the "
                                    "images before it (all images of a file must have one size)",
                                    key=dataset.name)
                if split not in file_splits:
                    continue
                rows.append((key, patch, 0, 1, magnitude, split))
                if has_before:
                    rows.append((key, patch, 1, 0, 0.0, split))
        if n_events == 0:
            layout.fail("no event groups (not a QuakeSet file?)")
        if image_hw is None:
            layout.fail("no event has a patch group with 'pre'/'post' images")
    return rows, image_hw, fingerprint


class QuakeSet(LazyHDF5File):
    """Lazy QuakeSet dataset: one sample per (patch, image pair), read on access.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file (the real ``earthquakes.h5`` or one written by
        :func:`skquake.datasets.make_quakeset`). Opened read-only.
    split : {"train", "val", "test", "all"}, default="train"
        ``"val"`` selects the events whose ``split`` attribute is ``"validation"``.
    mode : {"bitemporal", "single"}, default="bitemporal"
        ``"bitemporal"``: 4 channels ``[t0 VV, t0 VH, t1 VV, t1 VH]``; ``"single"``: the later
        image only, 2 channels ``[VV, VH]``.
    fill_value : float or None, default=0.0
        Replaces NaN (no-data) pixels; ``None`` keeps the NaN.
    transform : callable, optional
        Applied to the image array ``(C, H, W)`` after NaN filling, e.g.
        :func:`skquake.preprocessing.to_decibels`. Must be picklable for worker processes.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
        1 for ``(pre, post)`` pairs, 0 for ``(before, pre)`` pairs.
    magnitudes : ndarray of float32, shape (n,)
        The event magnitude for positives, 0.0 for negatives.
    groups : ndarray of str, shape (n,)
        Event id of each sample (for group-wise cross-validation).
    patches : ndarray of str, shape (n,)
        Patch group name of each sample.
    file_splits : ndarray of str, shape (n,)
        The ``split`` attribute stored in the file for each sample.
    image_shape : tuple (C, H, W)
        Shape of every image returned.

    Examples
    --------
    A synthetic file of four events, 8 x 8 pixels:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import QuakeSet, make_quakeset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_quakeset(Path(tmp.name) / "tiny.h5", n_events=4, patch_size=8)
    >>> with QuakeSet(path, split="all") as ds:
    ...     sample = ds[0]
    ...     print(len(ds), ds.image_shape)
    14 (4, 8, 8)
    >>> sample["image"].shape, sample["label"], type(sample["magnitude"]).__name__
    ((4, 8, 8), 1, 'float')
    >>> tmp.cleanup()
    """

    _parameter_constraints = {**_PARAMETER_CONSTRAINTS, "transform": [None, callable]}
    _what = _WHAT
    _format_error = QuakeSetFormatError

    def __init__(self, path, split="train", mode="bitemporal", fill_value=0.0, transform=None):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"path": path, "split": split, "mode": mode, "fill_value": fill_value, "transform": transform},
            caller_name=type(self).__name__,
        )
        self._patch_images = (None, {})
        self.path = Path(path)
        self.split = split
        self.mode = mode
        self.fill_value = fill_value
        self.transform = transform
        rows, (h, w), self._fingerprint = _build_index(self.path, SPLITS[split])
        n = len(rows)
        self.groups = np.array([r[0] for r in rows], dtype=str if n else "<U1")
        self.patches = np.array([r[1] for r in rows], dtype=str if n else "<U1")
        self._negative = np.array([r[2] for r in rows], dtype=bool)
        self.labels = np.array([r[3] for r in rows], dtype=np.int64)
        self.magnitudes = np.array([r[4] for r in rows], dtype=np.float32)
        self.file_splits = np.array([r[5] for r in rows], dtype=str if n else "<U1")
        self.image_shape = (4 if mode == "bitemporal" else 2, int(h), int(w))

    # -- per-process HDF5 handle (LazyHDF5File), plus the current patch's images -------------
    def close(self):
        """Close this process's HDF5 handle (it is reopened on the next access)."""
        super().close()
        self._patch_images = (None, {})

    def __getstate__(self):
        state = super().__getstate__()
        state["_patch_images"] = (None, {})
        return state

    # -- samples -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def _index(self, index) -> int:
        n = len(self)
        try:
            i = int(index)
        except TypeError:
            kind = type(index).__name__
            raise TypeError(f"QuakeSet indices must be integers, got {kind}") from None
        if i != index:
            raise TypeError(f"QuakeSet indices must be integers, got {index!r}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for a QuakeSet of {n} samples")
        return i

    def _image_names(self, i):
        t0, t1 = NEGATIVE_IMAGES if self._negative[i] else POSITIVE_IMAGES
        return (t0, t1) if self.mode == "bitemporal" else (t1,)

    def read_image(self, index):
        """The image of sample ``index``: float32 ``(C, H, W)``, NaN filled, no transform."""
        i = self._index(index)
        c, h, w = self.image_shape
        image = np.empty((h, w, c), dtype=np.float32)
        for j, name in enumerate(self._image_names(i)):
            image[:, :, 2 * j : 2 * j + 2] = self._raw_image(i, name)
        image = np.ascontiguousarray(image.transpose(2, 0, 1))
        if self.fill_value is not None:
            np.copyto(image, np.float32(self.fill_value), where=np.isnan(image))
        return image

    def _raw_image(self, i, name):
        # The positive and the negative of a patch share 'pre' and are neighbours in the
        # index: keeping the current patch's images saves a quarter of the reads when
        # reading in order (load_quakeset), at the cost of three images of memory.
        key = (self.groups[i], self.patches[i])
        if self._patch_images[0] != key:
            self._patch_images = (key, {})
        images = self._patch_images[1]
        if name not in images:
            images[name] = self._read(f"{key[0]}/{key[1]}/{name}")
        else:
            self._check_unchanged()  # a cached image must still be the file's
        return images[name]

    def read_masks(self, index):
        """The change masks of sample ``index``: uint8 ``(2, H, W)``, or None if its patch has none.

        ``[0]`` where the earthquake's change is substantial (all zero for a negative), ``[1]``
        where any change between the sample's two images is (``CHANGE_MASKS`` order; masks are
        written by :func:`skquake.datasets.make_quakeset`, the real file has none). Reads only
        the masks, never the images. Refused in ``mode="single"``: a change mask needs two dates.
        """
        if self.mode != "bitemporal":
            raise ValueError(f"QuakeSet(mode={self.mode!r}) has no change masks: a mask needs two dates; "
                             f"open {self.path} with mode='bitemporal'")
        i = self._index(index)
        key = f"{self.groups[i]}/{self.patches[i]}"
        try:
            group = self._file()[key]
        except (KeyError, OSError) as exc:
            self._check_unchanged()  # a change explains the failure: say so
            raise self._format_error(f"{self.path}: cannot read '{key}' ({exc})", path=self.path, key=key) from exc
        dates = NEGATIVE_IMAGES if self._negative[i] else POSITIVE_IMAGES
        layout = Layout(self.path, self._format_error)
        return sample_masks(group, dates, bool(self._negative[i]), self.image_shape[1:], layout.fail)

    def __getitem__(self, index):
        i = self._index(index)
        image = self.read_image(i)
        if self.transform is not None:
            image = self.transform(image)
        return {
            "image": image,
            "label": int(self.labels[i]),
            "magnitude": float(self.magnitudes[i]),
            "event_id": str(self.groups[i]),
            "patch": str(self.patches[i]),
        }

    def __repr__(self) -> str:
        return (
            f"QuakeSet({str(self.path)!r}, split={self.split!r}, mode={self.mode!r}, "
            f"n_samples={len(self)}, image_shape={self.image_shape})"
        )
