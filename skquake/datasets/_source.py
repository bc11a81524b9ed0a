"""QuakeSet data wherever it is stored: an HDF5 file or a decoded cache folder, one way in.

:func:`open_quakeset` gives a :class:`~skquake.datasets.QuakeSet` for an HDF5 file and a
:class:`~skquake.datasets.CachedQuakeSet` for a folder written by
:func:`~skquake.datasets.make_cache`, so that everything taking a "QuakeSet file"
(:func:`load_quakeset`, the benchmark's tasks, tuning, ``--data``) takes a cache too.
:func:`check_quakeset_source` checks such a path up front (a command's ``--data``).
"""
from __future__ import annotations

import argparse
import os
from numbers import Integral
from pathlib import Path

import numpy as np

from ..utils import (
    StrictInterval,
    StrOptions,
    average_pool,
    check_capacity,
    check_input_file,
    validate_params,
)
from ._cache import MANIFEST, CachedQuakeSet, _check_fresh, _read_manifest
from ._quakeset import _PARAMETER_CONSTRAINTS, QuakeSet

__all__ = ["check_hdf5_source", "check_quakeset_source", "load_quakeset", "open_quakeset", "quakeset_argument"]


def check_hdf5_source(path, needs):
    """Refuse a decoded cache folder where ``needs`` (change masks, footprints, epicentres) are read.

    The cache holds images and labels only; whatever else a QuakeSet file carries is read from
    the HDF5 file itself.

    Raises
    ------
    ValueError
        ``path`` is a folder; the message names it and what needs the file.
    """
    if Path(path).is_dir():
        raise ValueError(f"{path} is a decoded cache folder; {needs} are read from the QuakeSet HDF5 file "
                         "(the cache holds images and labels only): pass the .h5 file")


def check_quakeset_source(path, what="QuakeSet file"):
    """Check that ``path`` is a readable QuakeSet file or a usable cache folder.

    Parameters
    ----------
    path : str or path-like
    what : str, default="QuakeSet file"
        What the path is, for the messages.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError, PermissionError
        As :func:`skquake.utils.check_input_file` for a file.
    IsADirectoryError
        A folder that is not a cache (no ``manifest.json``); the message names the folder, the
        missing manifest and the ``.h5`` files inside it, if any.
    ValueError
        A cache folder whose manifest cannot be read or is of another format.
    StaleCacheError
        A cache whose source file changed since it was written.
    """
    path = Path(path)
    if not path.is_dir():
        return check_input_file(path, what)
    if not (path / MANIFEST).is_file():
        inside = sorted(p.name for p in path.glob("*.h5"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise IsADirectoryError(
            f"{what} {path} is a folder, not a file, and not a QuakeSet cache: it has no {MANIFEST}; "
            f"pass the path of the file{hint}, or a cache folder written by "
            f"`skquake cache FILE.h5 --out {path}`")
    _check_fresh(path, _read_manifest(path)["source"])
    return path


def quakeset_argument(text: str) -> str:
    """An argparse ``type=`` for ``--data``: a QuakeSet file or a cache folder.

    Checked by :func:`check_quakeset_source`; returns the text with a leading ``~`` expanded.
    """
    path = os.path.expanduser(text)
    try:
        check_quakeset_source(path)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def open_quakeset(path, split="train", mode="bitemporal", fill_value=0.0, transform=None, in_memory=False):
    """A QuakeSet dataset from an HDF5 file or a cache folder: the same samples either way.

    Parameters
    ----------
    path : str or path-like
        A QuakeSet HDF5 file, or a folder written by :func:`~skquake.datasets.make_cache`.
    split, mode, fill_value, transform
        As for :class:`~skquake.datasets.QuakeSet`.
    in_memory : bool or str, default=False
        For a cache: see :class:`~skquake.datasets.CachedQuakeSet` (host RAM or a torch
        device). An HDF5 file is always read lazily; ``in_memory`` other than False is refused
        for it.

    Returns
    -------
    QuakeSet or CachedQuakeSet

    Raises
    ------
    IsADirectoryError
        A folder that is not a cache (it has no ``manifest.json``).
    StaleCacheError
        A cache whose source file changed after it was written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import make_cache, make_quakeset, open_quakeset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_quakeset(Path(tmp.name) / "tiny.h5", n_events=4, patch_size=8)
    >>> cache = make_cache(path, Path(tmp.name) / "tiny.cache")
    >>> type(open_quakeset(path)).__name__, type(open_quakeset(cache)).__name__
    ('QuakeSet', 'CachedQuakeSet')
    >>> len(open_quakeset(path, split="all")) == len(open_quakeset(cache, split="all"))
    True
    >>> tmp.cleanup()
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like (a QuakeSet file or a cache folder), got {path!r}")
    folder = Path(path)
    if folder.is_dir():
        check_quakeset_source(folder)  # a folder without a manifest: name it and the manifest
        return CachedQuakeSet(folder, split=split, mode=mode, fill_value=fill_value, transform=transform,
                              in_memory=in_memory)
    if in_memory is not False:
        raise ValueError(f"in_memory={in_memory!r} holds a cache in memory; {path} is an HDF5 file, read "
                         "lazily: convert it once with make_cache (skquake cache) to hold it in memory")
    return QuakeSet(path, split=split, mode=mode, fill_value=fill_value, transform=transform)


@validate_params(
    {
        **_PARAMETER_CONSTRAINTS,
        "target": [StrOptions({"label", "magnitude"})],
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def load_quakeset(path, split="train", mode="bitemporal", target="label", pool=1, fill_value=0.0):
    """Read a QuakeSet split into memory as ``(X, y, groups)`` for scikit-learn.

    Samples are read one at a time and, with ``pool > 1``, average-pooled straight into a
    preallocated result, so that peak memory stays near the size of the pooled ``X`` plus one
    full-resolution sample.

    Parameters
    ----------
    path : str or path-like
        A QuakeSet HDF5 file or a cache folder (:func:`open_quakeset`).
    split, mode, fill_value
        As for :class:`QuakeSet`. NaN are filled before pooling.
    target : {"label", "magnitude"}, default="label"
        ``y`` is the detection label (int64) or the magnitude (float32, 0 for negatives).
    pool : int, default=1
        Average-pooling block size; must divide the image height and width.

    Returns
    -------
    X : ndarray of float32, shape (n, C, H // pool, W // pool)
        Linear backscatter (apply :func:`skquake.preprocessing.to_decibels` for decibels).
    y : ndarray of shape (n,)
    groups : ndarray of str, shape (n,)
        Event id of each sample.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import load_quakeset, make_quakeset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_quakeset(Path(tmp.name) / "tiny.h5", n_events=4, patch_size=8)
    >>> X, y, groups = load_quakeset(path, split="all", target="magnitude", pool=2)
    >>> X.shape, X.dtype, y.shape
    ((14, 4, 4, 4), dtype('float32'), (14,))
    >>> tmp.cleanup()
    """
    ds = open_quakeset(path, split=split, mode=mode, fill_value=fill_value)
    c, h, w = ds.image_shape
    if h % pool or w % pool:
        raise ValueError(
            f"pool={pool} does not divide the image size {h} x {w} of {ds.path}; "
            "choose a pool that divides both"
        )
    shape = (len(ds), c, h // pool, w // pool)
    check_capacity(
        f"load_quakeset({str(ds.path)!r}, split={split!r}, pool={pool}): X of shape {shape}",
        memory=4 * len(ds) * c * (h // pool) * (w // pool) + 4 * c * h * w,  # X + one sample
        parameters=("split", "pool"),
        hint="pass a larger pool, or read lazily with lazy_xy(open_quakeset(path))",
    )
    X = np.empty(shape, dtype=np.float32)
    try:
        for i in range(len(ds)):
            average_pool(ds.read_image(i), pool, out=X[i])
    finally:
        ds.close()
    y = ds.labels.copy() if target == "label" else ds.magnitudes.copy()
    return X, y, ds.groups.copy()
