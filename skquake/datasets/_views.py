"""Lazy, scikit-learn-indexable views of a QuakeSet: split a file without reading its pixels.

:class:`LazyImages` is skorch's :class:`~skorch.helper.SliceDataset` (which imports torch), so
:mod:`skquake.datasets` exposes this module's names lazily and stays torch-free.
"""
from __future__ import annotations

import numbers

import numpy as np
from skorch.helper import SliceDataset

__all__ = ["LazyImages", "lazy_xy"]


def _is_quakeset(X) -> bool:
    # Duck-typed so that any dataset following the QuakeSet contract (index attributes, dict
    # samples) works, including subclasses and test doubles.
    return all(hasattr(X, a) for a in ("image_shape", "labels", "magnitudes", "__getitem__", "__len__"))


class LazyImages(SliceDataset):
    """The images of a QuakeSet as a lazily-loaded, scikit-learn-indexable sequence.

    scikit-learn splits ``X`` by indexing it with arrays of sample indices. Indexing a
    ``LazyImages`` with an array, list, boolean mask or slice returns another ``LazyImages``
    over those samples (no pixel is read); indexing with an int reads that one image. So
    ``GridSearchCV``/``cross_val_score`` can split a file that does not fit in memory, and
    each fit reads its batches from disk.

    A :class:`skorch.helper.SliceDataset` over the ``"image"`` entry of the dataset's samples,
    with what scikit-learn and the deep estimators need on top: ``shape`` ``(n, C, H, W)`` and
    ``ndim`` 4 (SliceDataset reports ``(n,)``), ``X[key, ...]`` indexing, images read as
    float32 and refused when they hold NaN or infinite pixels, and the targets and groups of
    the samples in the view.

    Parameters
    ----------
    dataset : QuakeSet
        Any dataset whose ``ds[i]`` is a dict with an ``"image"`` array (C, H, W) and that has
        ``image_shape``, ``labels``, ``magnitudes``.
    indices : array-like of int, optional
        The samples of ``dataset`` in this view (default: all).
    idx : str, default="image"
        The entry of a sample that the view returns (SliceDataset's argument).

    Attributes
    ----------
    shape : tuple
        ``(n, C, H, W)``; scikit-learn reads the number of samples from it.
    indices : ndarray of int
        The samples of ``dataset`` in this view.
    """

    def __init__(self, dataset, indices=None, idx="image"):
        n = len(dataset)
        indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {indices.shape}")
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"indices out of range for a dataset of {n} samples")
        super().__init__(dataset, idx=idx, indices=indices)
        self.ndim = 4  # SliceDataset sets 1: scikit-learn must see images, not a 1-D sequence

    @property
    def shape(self):
        return (len(self),) + tuple(int(s) for s in self.dataset.image_shape)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            # scikit-learn's array indexing passes ``X[key, ...]``.
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise IndexError(f"LazyImages supports indexing along samples only, got {key!r}")
        if isinstance(key, (numbers.Integral, np.integer)):
            image = super().__getitem__(int(key))
            if not np.isfinite(image).all():
                raise ValueError(
                    f"sample {int(self.indices_[key])} of the dataset has NaN or infinite pixels; fill "
                    "no-data first (QuakeSet(fill_value=0.0)) before training"
                )
            return image
        if not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool and key.shape != self.indices_.shape:
                raise IndexError(f"boolean mask of shape {key.shape} for {len(self)} samples")
            if key.dtype != bool:
                key = key.astype(np.int64)
        return super().__getitem__(key)

    def transform(self, data):
        """The image of one sample as float32 (SliceDataset's hook)."""
        return np.asarray(data, dtype=np.float32)

    @property
    def batch_encoding(self):
        """How :meth:`read_batch` delivers images, or None when the dataset is read per sample.

        The dataset's ``batch_encoding`` (:class:`~skquake.datasets.CachedQuakeSet`:
        ``"decibels"`` for float16 decibels, ``"linear"`` for the samples' float32 images) for
        a view of its images; None for a dataset without batch reads or a view of another entry.
        """
        if self.idx != "image":
            return None
        return getattr(self.dataset, "batch_encoding", None)

    def read_batch(self, positions):
        """The images of the samples at ``positions`` of this view, in one read of the dataset.

        ``dataset.read_batch(indices, decode=False)``: a ``(n, C, H, W)`` array in the
        encoding :attr:`batch_encoding` names (a tensor on the device of a device-resident
        cache). No per-sample check of the pixels: the dataset's ``batch_encoding`` is None
        where a batch would differ from its samples.
        """
        if self.batch_encoding is None:
            raise TypeError(f"{self!r} is read sample by sample: its dataset has no batch reads "
                            "(batch_encoding is None)")
        return self.dataset.read_batch(self.indices_[np.asarray(positions, dtype=np.int64)], decode=False)

    def __repr__(self):
        return f"LazyImages({type(self.dataset).__name__}, n={len(self)}, image_shape={self.shape[1:]})"

    def targets(self, target="magnitude"):
        """``magnitudes`` (float32) or ``labels`` (int64) of the samples in this view."""
        if target == "magnitude":
            return np.asarray(self.dataset.magnitudes, dtype=np.float32)[self.indices_]
        if target == "label":
            return np.asarray(self.dataset.labels, dtype=np.int64)[self.indices_]
        raise ValueError(f"target must be 'magnitude' or 'label', got {target!r}")

    def groups(self):
        """Event ids of the samples in this view (for ``GroupKFold``)."""
        return np.asarray(self.dataset.groups)[self.indices_]


def lazy_xy(dataset, target="magnitude"):
    """``(X, y, groups)`` of a QuakeSet without reading pixels: the lazy twin of ``load_quakeset``.

    ``X`` is a :class:`LazyImages`, ``y`` the magnitudes or labels, ``groups`` the event ids, so
    ``GridSearchCV(...).fit(X, y, groups=groups)`` with ``GroupKFold`` works on a file that does
    not fit in memory.
    """
    X = dataset if isinstance(dataset, LazyImages) else LazyImages(dataset)
    return X, X.targets(target), X.groups()
