"""The skquake building-damage HDF5 format: constants, the lazy reader and the 2-D layout.

Every building has a post-event image chip, a table of single-valued metadata, an ordered
damage class and a region (the QuakeMetaFormer setting; format documented in
``docs/damage.md``). Every damage estimator takes one 2-D float array
``[flattened image | metadata]`` so that ``cross_val_score``, ``GridSearchCV`` and
``permutation_importance`` can slice it; :func:`to_layout` builds it from images and a named
metadata table, checking the column names.
"""
from __future__ import annotations

import os
import pathlib
from numbers import Integral
from typing import Mapping, Sequence

import h5py
import numpy as np

from ..utils import (
    InvalidParameterError,
    StrOptions,
    check_capacity,
    validate_parameter_constraints,
    validate_params,
)
from ._hdf5 import HDF5FormatError, LazyHDF5File, open_index

FORMAT_NAME = "skquake-damage"
FORMAT_VERSION = 1

#: Damage classes of the Turkey-L data set, ordered from least to most severe.
CLASS_NAMES = ("slightly damaged", "heavily damaged", "needs demolition", "collapsed")

#: Class frequencies implied by the paper's class weights 0.34 / 1.26 / 9.8 / 5.85
#: (inverse-frequency weights, so frequency is proportional to 1 / weight).
_CLASS_FREQUENCIES = np.array([1 / 0.34, 1 / 1.26, 1 / 9.8, 1 / 5.85])
_CLASS_FREQUENCIES = _CLASS_FREQUENCIES / _CLASS_FREQUENCIES.sum()

_INTENSITY = ("MMI", "PGA", "PGV", "PSA03", "PSA10", "PSA30")
_N_AFTERSHOCKS = 2


def _metadata_columns(n_aftershocks: int = _N_AFTERSHOCKS) -> tuple:
    cols = list(_INTENSITY)
    for k in range(1, n_aftershocks + 1):
        cols += [f"{name}_AS{k}" for name in _INTENSITY]
    return tuple(cols + ["VV", "VH", "DPM", "VS30"])


#: Metadata columns written by :func:`make_damage_dataset`: the six intensity measures of the
#: main shock, the same for the two largest aftershocks (suffix ``_AS1``, ``_AS2``), SAR
#: backscatter (VV, VH, dB), the damage proxy map value (DPM, 0..1) and VS30 (m/s).
DEFAULT_METADATA_COLUMNS = _metadata_columns()

_SPLITS = ("train", "val", "test")
_IMAGE_CHANNELS = ("red", "green", "blue")


# =========================================================================== reading
class DamageFormatError(HDF5FormatError):
    """The file is not a skquake damage file; the message names the file and the key.

    ``path`` is the file and ``key`` the HDF5 object (:class:`HDF5FormatError`).
    """


_REQUIRED_KEYS = ("images", "metadata", "label", "region", "split")
_WHAT = "damage file"


def _read_index(path: pathlib.Path) -> dict:
    """Everything but the pixels: small arrays and attributes, validated."""
    with open_index(path, what=_WHAT, error=DamageFormatError) as (f, layout, fingerprint):
        missing = [k for k in _REQUIRED_KEYS if k not in f]
        if missing:
            layout.fail(f"missing dataset(s) {missing}; a damage file has {list(_REQUIRED_KEYS)}")
        images = layout.member(f, "images", "the image chips (N, C, H, W)", kind=h5py.Dataset)
        layout.check_real(images, "real pixel values (N, C, H, W)")
        if images.ndim != 4:
            layout.fail(f"'images' must be (N, C, H, W), got shape {images.shape}", key="/images")
        n = images.shape[0]
        meta = layout.member(f, "metadata", "the metadata table (N, columns)", kind=h5py.Dataset)
        layout.check_real(meta, "real metadata values (NaN where missing)")
        columns = layout.texts_attr(meta, "columns", "dataset 'metadata'")
        if meta.ndim != 2 or meta.shape != (n, len(columns)):
            layout.fail(f"'metadata' must be (N={n}, {len(columns)} columns), got shape {meta.shape}",
                        key="/metadata")
        scale = layout.number_attr(images, "scale", "dataset 'images'", default=1.0)
        if not np.isfinite(scale) or scale <= 0:
            layout.fail(f"dataset 'images' has scale {scale}; expected a positive number", key="/images")
        codes = {key: layout.read_codes(layout.member(f, key, f"the {key} of each building (N,)",
                                                      kind=h5py.Dataset), f"integer {key} codes")
                 for key in ("label", "region", "split")}
        building_id = (layout.read_codes(layout.member(f, "building_id", "building ids (N,)",
                                                       kind=h5py.Dataset), "integer building ids")
                       if "building_id" in f else np.arange(n))
        out = {
            "n": n,
            "image_shape": tuple(int(s) for s in images.shape[1:]),
            "scale": scale,
            "channels": layout.texts_attr(images, "channels", "dataset 'images'", default=()),
            "metadata_columns": columns,
            "metadata": meta[...].astype(np.float32),
            **codes,
            "class_names": layout.texts_attr(f["label"], "class_names", "dataset 'label'", default=()),
            "region_names": layout.texts_attr(f["region"], "region_names", "dataset 'region'", default=()),
            "split_names": layout.texts_attr(f["split"], "split_names", "dataset 'split'", default=_SPLITS),
            "building_id": building_id,
            "fingerprint": fingerprint,
        }
        for key in ("label", "region", "split", "building_id"):
            if out[key].shape != (n,):
                layout.fail(f"'{key}' must have shape ({n},), got {out[key].shape}", key=f"/{key}")
    return out


def _select(index: dict, split, regions, path) -> np.ndarray:
    if split == "all":
        mask = np.ones(index["n"], dtype=bool)
    else:
        name = "val" if split == "validation" else split
        if name not in index["split_names"]:
            raise InvalidParameterError(
                f"The 'split' parameter: {path} has no split {split!r}; its 'split' dataset names "
                f"{list(index['split_names'])} (pass one of them as 'train', 'val', 'test', or 'all')")
        mask = index["split"] == index["split_names"].index(name)
    if regions is not None:
        wanted = []
        for r in np.atleast_1d(regions):
            if isinstance(r, str):
                if r not in index["region_names"]:
                    raise InvalidParameterError(
                        f"The 'regions' parameter: unknown region {r!r}; {path} has regions "
                        f"{list(index['region_names'])}")
                r = index["region_names"].index(r)
            wanted.append(int(r))
        mask &= np.isin(index["region"], wanted)
    return np.flatnonzero(mask)


#: Constraints of the arguments that choose a file's samples (DamageDataset, load_damage).
_SELECTION_CONSTRAINTS = {
    "path": [str, os.PathLike],
    # "validation" is an alias of "val"; whether the file has the split is checked on reading.
    "split": [StrOptions({"train", "val", "validation", "test", "all"})],
    "regions": [None, Integral, str, "array-like"],
}


class DamageDataset(LazyHDF5File):
    """Lazy view of a skquake damage file (one sample per building).

    Opening reads the index and the metadata table (small) into memory; image chips are read
    one by one in ``__getitem__`` through an HDF5 handle opened lazily in each process, so the
    dataset can be pickled to ``DataLoader`` workers or joblib.

    Parameters
    ----------
    path : str or path-like
        A file in the format of ``docs/damage.md`` (e.g. from :func:`make_damage_dataset`).
    split : {"train", "val", "test", "all"}, default="train"
    regions : int, str or sequence, optional
        Keep only these regions (ids or names).
    transform : callable, optional
        Applied to each image (float32 ``(C, H, W)``).

    Attributes
    ----------
    indices : ndarray of int
        Rows of the file in this view.
    labels, groups : ndarray of int64
        Damage class and region id per sample (for scikit-learn splitters and scorers).
    metadata : ndarray of float32, shape (n, n_metadata)
        The metadata table, NaN where missing.
    metadata_columns, class_names, region_names, channels : tuple of str
    image_shape : tuple (C, H, W)

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import DamageDataset, make_damage_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_damage_dataset(Path(tmp.name) / "damage.h5", n_buildings=40, image_size=8)
    >>> ds = DamageDataset(path, split="all")
    >>> len(ds), ds.image_shape, ds[0]["image"].shape, len(ds.metadata_columns)
    (40, (3, 8, 8), (3, 8, 8), 22)
    >>> tmp.cleanup()
    """

    _parameter_constraints = {**_SELECTION_CONSTRAINTS, "transform": [None, callable]}
    _what = _WHAT
    _format_error = DamageFormatError

    def __init__(self, path, split="train", regions=None, transform=None):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"path": path, "split": split, "regions": regions, "transform": transform},
            caller_name=type(self).__name__,
        )
        self.path = pathlib.Path(path)
        self.split = split
        self.regions = regions
        self.transform = transform
        index = _read_index(self.path)
        self.indices = _select(index, split, regions, self.path)
        self.labels = index["label"][self.indices]
        self.groups = index["region"][self.indices]
        self.metadata = index["metadata"][self.indices]
        self.building_ids = index["building_id"][self.indices]
        self.metadata_columns = index["metadata_columns"]
        self.class_names = index["class_names"]
        self.region_names = index["region_names"]
        self.channels = index["channels"]
        self.image_shape = index["image_shape"]
        self._scale = index["scale"]
        self._fingerprint = index["fingerprint"]

    def __len__(self):
        return len(self.indices)

    def read_images(self, positions=None) -> np.ndarray:
        """Chips of the given positions (all by default) as float32 ``(n, C, H, W)``."""
        rows = self.indices if positions is None else self.indices[np.asarray(positions)]
        order = np.argsort(rows)  # h5py fancy indexing needs increasing indices
        out = np.empty((len(rows),) + self.image_shape, dtype=np.float32)
        if len(rows):
            out[order] = self._read("images", rows[order])
        out *= np.float32(self._scale)
        return out

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        row = int(self.indices[i])
        image = self._read("images", row).astype(np.float32) * np.float32(self._scale)
        if self.transform is not None:
            image = self.transform(image)
        return {
            "image": image,
            "metadata": self.metadata[i].copy(),
            "label": int(self.labels[i]),
            "region": int(self.groups[i]),
            "building_id": int(self.building_ids[i]),
        }

    def layout(self) -> dict:
        """``{"input_shape": (C, H, W), "metadata_columns": (...)}``: the estimators' layout."""
        return {"input_shape": self.image_shape, "metadata_columns": self.metadata_columns}

    def __repr__(self):
        return (f"DamageDataset({str(self.path)!r}, split={self.split!r}, n={len(self)}, "
                f"image_shape={self.image_shape}, n_metadata={len(self.metadata_columns)})")


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def read_damage_layout(path) -> dict:
    """The layout of a damage file: ``{"input_shape": (C, H, W), "metadata_columns": (...)}``.

    Pass it to the estimators (``create_model("damage-fusion", **layout)``) so that they can
    cut the 2-D arrays of :func:`load_damage` into image and metadata.
    """
    index = _read_index(pathlib.Path(path))
    return {"input_shape": index["image_shape"], "metadata_columns": index["metadata_columns"]}


@validate_params(
    {**_SELECTION_CONSTRAINTS, "metadata": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_damage(path, split="train", regions=None, metadata=True):
    """Load a damage file as arrays for scikit-learn.

    Parameters
    ----------
    path : str or path-like
    split : {"train", "val", "test", "all"}, default="train"
    regions : int, str or sequence, optional
        Keep only these regions.
    metadata : bool, default=True
        Append the metadata table to each flattened image. ``False`` gives images only.

    Returns
    -------
    X : ndarray of float32, shape (n, C*H*W + n_metadata)
        One row per building: the flattened chip (values in [0, 1]) followed by the metadata
        columns in the file's order (NaN where missing). See :func:`read_damage_layout`.
    y : ndarray of int64, shape (n,)
        Damage class, 0 (least) to K-1 (most severe).
    groups : ndarray of int64, shape (n,)
        Region id, for ``LeaveOneGroupOut`` or :class:`RegionTransferSplit`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import load_damage, make_damage_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_damage_dataset(Path(tmp.name) / "damage.h5", n_buildings=40, image_size=8)
    >>> X, y, groups = load_damage(path, split="all")
    >>> X.shape  # 3 x 8 x 8 pixels, then 22 metadata columns
    (40, 214)
    >>> tmp.cleanup()
    """
    ds = DamageDataset(path, split=split, regions=regions)
    n_pixels = int(np.prod(ds.image_shape))
    n_columns = n_pixels + (len(ds.metadata_columns) if metadata else 0)
    check_capacity(
        f"load_damage({str(ds.path)!r}, split={split!r}): X of shape ({len(ds)}, {n_columns})",
        memory=4 * len(ds) * (n_pixels + n_columns),  # the chips, then X
        parameters=("split", "regions"),
        hint="select fewer buildings (split, regions) or read them lazily with DamageDataset",
    )
    images = ds.read_images().reshape(len(ds), -1)
    X = np.hstack([images, ds.metadata]) if metadata else images
    return np.ascontiguousarray(X, dtype=np.float32), ds.labels, ds.groups


# =========================================================================== the layout
def _is_table(obj) -> bool:
    return isinstance(obj, Mapping) or hasattr(obj, "columns")


def _table_to_array(table, columns: Sequence[str], n: int) -> np.ndarray:
    """Named metadata table (mapping or DataFrame) -> (n, M) array in ``columns`` order."""
    names = [str(c) for c in (table.columns if hasattr(table, "columns") else table.keys())]
    missing = [c for c in columns if c not in names]
    extra = [c for c in names if c not in columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing} (pass them as NaN to predict without them)")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        raise ValueError(f"metadata table does not match the model's metadata_columns: {'; '.join(parts)}")
    out = np.empty((n, len(columns)), dtype=np.float32)
    for j, c in enumerate(columns):
        col = np.asarray(table[c], dtype=np.float32).reshape(-1)
        if col.shape[0] != n:
            raise ValueError(f"metadata column {c!r} has {col.shape[0]} values, expected {n}")
        out[:, j] = col
    return out


def to_layout(images, metadata=None, metadata_columns: Sequence[str] | None = None) -> np.ndarray:
    """Build the 2-D ``[flattened image | metadata]`` array the damage estimators take.

    Parameters
    ----------
    images : array-like, shape (n, C, H, W) or (n, C*H*W)
    metadata : array-like (n, M), mapping ``{column: (n,)}`` or DataFrame, optional
        A named table is checked against ``metadata_columns``: missing and unexpected columns
        raise a ``ValueError`` naming them, the order is taken from ``metadata_columns``.
        ``None`` appends an all-NaN table (prediction without any metadata).
    metadata_columns : sequence of str, optional
        Needed with a named table or ``metadata=None``.
    """
    images = np.asarray(images, dtype=np.float32)
    n = images.shape[0]
    flat = images.reshape(n, -1)
    if metadata is None:
        if metadata_columns is None:
            return np.ascontiguousarray(flat)
        meta = np.full((n, len(metadata_columns)), np.nan, dtype=np.float32)
    elif _is_table(metadata):
        if metadata_columns is None:
            raise ValueError("a named metadata table needs metadata_columns to order its columns")
        meta = _table_to_array(metadata, list(metadata_columns), n)
    else:
        meta = np.asarray(metadata, dtype=np.float32)
        if meta.ndim != 2 or meta.shape[0] != n:
            raise ValueError(f"metadata must be (n={n}, n_metadata), got shape {meta.shape}")
        if metadata_columns is not None and meta.shape[1] != len(metadata_columns):
            raise ValueError(f"metadata has {meta.shape[1]} columns, expected {len(metadata_columns)} "
                             f"({list(metadata_columns)})")
    return np.ascontiguousarray(np.hstack([flat, meta]))


def split_layout(X, input_shape, n_metadata: int):
    """Cut a layout array into images ``(n, C, H, W)`` and metadata ``(n, n_metadata)``."""
    X = np.asarray(X)
    n_pixels = int(np.prod(input_shape))
    if X.ndim != 2 or X.shape[1] != n_pixels + n_metadata:
        raise ValueError(
            f"expected X of shape (n, {n_pixels + n_metadata}) = C*H*W {n_pixels} for input_shape "
            f"{tuple(input_shape)} + {n_metadata} metadata columns, got shape {X.shape}")
    images = X[:, :n_pixels].reshape((X.shape[0],) + tuple(input_shape))
    return images, X[:, n_pixels:]


