"""A decoded cache of a QuakeSet file: one contiguous memory-mapped ``.npy`` per mode.

:func:`make_cache` converts a QuakeSet HDF5 file once; :class:`CachedQuakeSet` reads the cache
with the interface and the sample convention of :class:`~skquake.datasets.QuakeSet`, so that
``lazy_xy``, the estimators and ``GridSearchCV`` take either. Reading a sample is one slice of a
memory-mapped array (no HDF5 decoding, no per-chunk Python work) and :meth:`CachedQuakeSet.read_batch`
reads a whole batch with one fancy index.

A cache folder holds::

    manifest.json       format, dtype, modes, sample count, image size, source fingerprint
    index.npz           groups, patches, labels, magnitudes, file_splits (split="all" order)
    bitemporal.npy      (n, 4, H, W) of every sample of every split
    single.npy          (n, 2, H, W)

Splits are index subsets of the ``split="all"`` order, which is QuakeSet's: a split's samples
come in the order ``QuakeSet(path, split=...)`` gives them.

Storage types: ``"float16-db"`` stores ``10 * log10(sigma0)`` in float16 (half the bytes; the
linear value within 0.4 % above -64 dB; 0 is stored as -inf so that it decodes to 0 exactly; NaN
no-data stays NaN); ``"float32-linear"`` stores QuakeSet's float32 values exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
from numbers import Real
from pathlib import Path

import numpy as np

from ..utils import (
    Hidden,
    StrictInterval,
    StrOptions,
    file_fingerprint,
    validate_parameter_constraints,
)
from ._quakeset import MODES, SPLITS, QuakeSet

__all__ = ["CACHE_DTYPES", "CachedQuakeSet", "StaleCacheError", "make_cache"]

CACHE_FORMAT = "skquake-quakeset-cache"
CACHE_VERSION = 1
#: storage type name -> numpy dtype of the stored arrays
CACHE_DTYPES = {"float16-db": np.float16, "float32-linear": np.float32}
MANIFEST = "manifest.json"
INDEX = "index.npz"
_INDEX_KEYS = ("groups", "patches", "labels", "magnitudes", "file_splits")
_LN10_10 = np.float32(np.log(10.0) / 10.0)  # 10 ** (x / 10) == exp(x * ln(10) / 10)


class StaleCacheError(ValueError):
    """The cache's source file changed after the cache was written; ``path`` is the cache."""


def _index_hash(ds) -> str:
    """A hash of a QuakeSet's index (events, patches, labels, magnitudes, splits, image shape)."""
    digest = hashlib.sha256(repr(ds.image_shape).encode())
    for key in _INDEX_KEYS:
        digest.update(np.ascontiguousarray(getattr(ds, key)).tobytes())
    return digest.hexdigest()


def _source_fingerprint(path, ds) -> dict:
    fp = file_fingerprint(path)
    return {"path": str(Path(path).resolve()), "size": fp.size, "mtime_ns": fp.mtime_ns,
            "index_sha256": _index_hash(ds)}


def _encode(image, dtype):
    """Linear float32 -> the stored values (dB for float16; 0 -> -inf, NaN stays NaN)."""
    if dtype == np.float32:
        return image
    if np.any(image < 0):  # NaN compares False: only real negative values
        raise ValueError("the file has negative backscatter values, which have no decibels; "
                         "pass dtype='float32-linear'")
    with np.errstate(divide="ignore"):
        return (10.0 * np.log10(image)).astype(np.float16)


def _fill_nan(image, fill):
    """Replace NaN in ``image`` in place; float16 NaN found on the bits (numpy's float16 is slow)."""
    if image.dtype == np.float16:
        nan = (image.view(np.uint16) & 0x7FFF) > 0x7C00
    else:
        nan = np.isnan(image)
    np.copyto(image, fill, where=nan)


# -- temporary folders: one per writer, removed when their writer is dead -----------------------
def _partial_name(out: Path, pid: int) -> str:
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:60] or "host"
    return f".{out.name}.{host}~{pid}.partial"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's live process
        return True
    try:  # a killed, unreaped process (zombie) writes nothing any more
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _remove_stale_partials(out: Path) -> None:
    """Delete the temporary folders of conversions of ``out`` killed on this host."""
    prefix, _, _ = _partial_name(out, 0).rpartition("~")
    for entry in out.parent.glob(f"{prefix}~*.partial"):
        pid = entry.name[len(prefix) + 1 : -len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"cannot write the cache {out}: it is a file, not a folder")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot write the cache {out}: the folder {out.parent} does not exist")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} already exists; pass overwrite=True to replace it")
        if not (out / MANIFEST).is_file():
            raise FileExistsError(f"{out} is a non-empty folder without {MANIFEST} (not a cache); "
                                  "refusing to replace it, choose another folder")


def make_cache(path, out_dir, *, dtype="float16-db", modes=MODES, overwrite=False):
    """Convert a QuakeSet file once into a decoded, memory-mappable cache folder.

    The cache is written in a temporary folder next to ``out_dir`` and renamed into place when
    complete, so ``out_dir`` is either absent, the old cache or the complete new one. A
    conversion killed mid-way leaves its temporary folder, which the next conversion of the same
    ``out_dir`` deletes before starting again.

    Parameters
    ----------
    path : str or path-like
        The QuakeSet HDF5 file.
    out_dir : str or path-like
        The cache folder (its parent must exist).
    dtype : {"float16-db", "float32-linear"}, default="float16-db"
        How pixels are stored (see the module's docstring).
    modes : sequence of {"bitemporal", "single"}, default=("bitemporal", "single")
        One array per mode.
    overwrite : bool, default=False
        Replace an existing cache at ``out_dir``.

    Returns
    -------
    Path
        ``out_dir``.
    """
    validate_parameter_constraints(
        {"path": [str, os.PathLike], "out_dir": [str, os.PathLike],
         "dtype": [StrOptions(set(CACHE_DTYPES))], "overwrite": ["boolean"]},
        {"path": path, "out_dir": out_dir, "dtype": dtype, "overwrite": overwrite},
        caller_name="make_cache",
    )
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or len(set(modes)) != len(modes) or not set(modes) <= set(MODES):
        raise ValueError(f"modes must be distinct values among {MODES}, got {modes!r}")
    out = Path(out_dir)
    _check_output(out, overwrite)
    storage = CACHE_DTYPES[dtype]
    with QuakeSet(path, split="all", mode="bitemporal", fill_value=None) as ds:
        source = _source_fingerprint(path, ds)
        _remove_stale_partials(out)
        tmp = out.parent / _partial_name(out, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            nan = _write_arrays(ds, tmp, modes, storage)
            np.savez(tmp / INDEX, nan=nan, **{key: getattr(ds, key) for key in _INDEX_KEYS})
            manifest = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "dtype": dtype,
                        "modes": list(modes), "n_samples": len(ds), "image_hw": list(ds.image_shape[1:]),
                        "has_nan": bool(nan.any()), "source": source}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))  # last: marks it complete
            _publish(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def _write_arrays(ds, folder: Path, modes, storage) -> np.ndarray:
    """Write one ``.npy`` per mode from the bitemporal samples; return which samples hold NaN."""
    n, c, h, w = (len(ds),) + ds.image_shape
    arrays = {mode: np.lib.format.open_memmap(folder / f"{mode}.npy", mode="w+", dtype=storage,
                                              shape=(n, c if mode == "bitemporal" else 2, h, w))
              for mode in modes}
    nan = np.zeros(n, dtype=bool)
    for i in range(n):
        image = ds.read_image(i)
        nan[i] = np.isnan(image).any()
        stored = _encode(image, storage)
        for mode, array in arrays.items():
            # single = the later image = the last two bitemporal channels (QuakeSet's convention)
            array[i] = stored if mode == "bitemporal" else stored[2:]
    for array in arrays.values():
        array.flush()
    del arrays
    return nan


def _publish(tmp: Path, out: Path) -> None:
    """Rename the complete temporary folder to ``out``, replacing an old cache there."""
    if out.is_dir():
        old = out.parent / (_partial_name(out, os.getpid()) + ".old")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _read_manifest(folder: Path) -> dict:
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is a file, not a cache folder"
        raise FileNotFoundError(f"cache folder {folder} {what}; write one with "
                                "make_cache(FILE.h5, out_dir) or `skquake cache FILE.h5 --out DIR`")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder} is not a QuakeSet cache: cannot read {folder / MANIFEST} "
                         f"({exc}); write one with make_cache") from None
    if manifest.get("format") != CACHE_FORMAT or manifest.get("version") != CACHE_VERSION:
        raise ValueError(f"{folder / MANIFEST} is not a QuakeSet cache of version {CACHE_VERSION} "
                         f"(format {manifest.get('format')!r}, version {manifest.get('version')!r}); "
                         "convert the file again with make_cache(..., overwrite=True)")
    return manifest


def _check_fresh(folder: Path, source: dict) -> None:
    """Refuse a cache whose source file exists and changed; a moved source is not checked."""
    path = Path(source["path"])
    try:
        fp = file_fingerprint(path)
    except OSError:
        return  # the cache is self-contained: it stays usable when its source is moved away
    if (fp.size, fp.mtime_ns) != (source["size"], source["mtime_ns"]):
        raise StaleCacheError(
            f"the cache {folder} is stale: its source {path} changed since the cache was written "
            f"(size {source['size']} -> {fp.size} bytes, mtime changed: "
            f"{fp.mtime_ns != source['mtime_ns']}); convert it again: "
            f"make_cache({str(path)!r}, {str(folder)!r}, overwrite=True)")


def _resident_device(in_memory):
    """The torch device ``in_memory`` names, or None for True / False (host memory)."""
    if isinstance(in_memory, (bool, np.bool_)):
        return None
    import torch  # torch: only a device-resident cache needs it (keeps torch out of skquake.datasets)

    try:
        device = torch.device(in_memory)
    except (RuntimeError, ValueError):
        raise ValueError(f"in_memory must be True, False or a torch device name such as 'cuda:0' or 'cpu', "
                         f"got {in_memory!r}") from None
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"in_memory={in_memory!r}: there is no such CUDA device here "
                         f"(torch.cuda.is_available() is {torch.cuda.is_available()}, "
                         f"{torch.cuda.device_count()} device(s)); use True (host RAM) or another device")
    return device


class CachedQuakeSet:
    """A :class:`~skquake.datasets.QuakeSet` read from a cache written by :func:`make_cache`.

    Same samples (dicts with a float32 linear ``"image"`` ``(C, H, W)``, ``"label"``,
    ``"magnitude"``, ``"event_id"``, ``"patch"``), same index attributes and the same order as
    ``QuakeSet(source, split=split, mode=mode)``. The memory map is opened lazily in each
    process, so the dataset pickles small (DataLoader workers). A cache whose source file still
    exists but changed is refused (:class:`StaleCacheError`).

    Parameters
    ----------
    cache_dir : str or path-like
        A folder written by :func:`make_cache`.
    split, mode, fill_value, transform
        As for :class:`~skquake.datasets.QuakeSet`.
    in_memory : bool or str, default=False
        Where the split's stored values are held, loaded on the first read: ``False``, the
        memory map (shared by every process through the page cache); ``True``, host RAM (in
        pinned memory when torch with CUDA is available, for fast copies to the GPU); a torch
        device name (``"cuda"``, ``"cuda:1"``, ``"cpu"``; ``str(device)`` for a
        ``torch.device``), the split as one torch tensor on that device: :meth:`read_batch`
        then returns tensors on it, indexed (and decoded) there with no host copy, and the
        estimators train from it without host copies (device-resident data; read it in the
        main process: ``num_workers=0``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import CachedQuakeSet, make_cache, make_quakeset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_quakeset(Path(tmp.name) / "tiny.h5", n_events=4, patch_size=8)
    >>> cache = make_cache(path, Path(tmp.name) / "tiny.cache")
    >>> ds = CachedQuakeSet(cache, split="all")
    >>> ds.read_batch([2, 0]).shape, ds.read_batch([2, 0], decode=False).dtype
    ((2, 4, 8, 8), dtype('float16'))
    >>> tmp.cleanup()

    Attributes
    ----------
    labels, magnitudes, groups, patches, file_splits, image_shape
        As for :class:`~skquake.datasets.QuakeSet`.
    dtype : str
        The cache's storage type.
    batch_encoding : {"decibels", "linear"} or None
        What ``read_batch(indices, decode=False)`` holds, when it stands for the samples
        exactly: ``"decibels"``, float16 ``10 log10`` of the samples' images
        (:func:`skquake.utils.from_decibels` decodes them); ``"linear"``, the samples' images
        themselves. None when batches cannot stand for the samples: a ``transform`` (applied
        per sample), a negative ``fill_value`` of a float16-db cache (no decibels), or no-data
        left unfilled (``fill_value=None``) in the split. The deep estimators read whole batches
        this way (:class:`~skquake.datasets.LazyImages`' ``read_batch``).
    """

    _parameter_constraints = {
        "cache_dir": [str, os.PathLike],
        "split": [StrOptions(set(SPLITS))],
        "mode": [StrOptions(set(MODES))],
        "fill_value": [None, StrictInterval(Real, None, None, closed="both"), Hidden("nan")],
        "transform": [None, callable],
        # True / False, or a torch device name (checked by _resident_device)
        "in_memory": ["boolean", str],
    }

    def __init__(self, cache_dir, split="train", mode="bitemporal", fill_value=0.0, transform=None,
                 in_memory=False):
        validate_parameter_constraints(
            self._parameter_constraints,
            {"cache_dir": cache_dir, "split": split, "mode": mode, "fill_value": fill_value,
             "transform": transform, "in_memory": in_memory},
            caller_name=type(self).__name__,
        )
        self.path = self.cache_dir = Path(cache_dir)
        self.split, self.mode, self.fill_value = split, mode, fill_value
        self.transform, self.in_memory = transform, in_memory
        self._device = _resident_device(in_memory)
        manifest = _read_manifest(self.cache_dir)
        if mode not in manifest["modes"]:
            raise ValueError(f"the cache {self.cache_dir} has no mode {mode!r} (it has "
                             f"{manifest['modes']}); convert with make_cache(..., modes=({mode!r},))")
        _check_fresh(self.cache_dir, manifest["source"])
        self.source = Path(manifest["source"]["path"])
        self.dtype = manifest["dtype"]
        self._n_total = int(manifest["n_samples"])
        with np.load(self.cache_dir / INDEX) as index:
            file_splits = index["file_splits"]
            self._rows = np.flatnonzero(np.isin(file_splits, SPLITS[split]))
            self.groups, self.patches, self.file_splits = (
                index["groups"][self._rows], index["patches"][self._rows], file_splits[self._rows])
            self.labels = index["labels"][self._rows].astype(np.int64)
            self.magnitudes = index["magnitudes"][self._rows].astype(np.float32)
            self._nan = index["nan"][self._rows]  # samples with no-data: the only ones to fill
        h, w = manifest["image_hw"]
        self.image_shape = (4 if mode == "bitemporal" else 2, int(h), int(w))
        self._array = None
        self._pinned = None  # the torch tensor owning pinned memory (kept alive with the array)
        self._scratch = None  # stored values of the last batch read (reused: see _stored_buffer)

    # -- storage --------------------------------------------------------------------------------
    def _data(self):
        """The split's stored array: a memory map of all samples, or the split in RAM."""
        if self._array is None:
            file = self.cache_dir / f"{self.mode}.npy"
            array = np.load(file, mmap_mode="r")
            expected = (self._n_total,) + self.image_shape
            if array.shape != expected or array.dtype != CACHE_DTYPES[self.dtype]:
                raise ValueError(f"{file} holds {array.dtype} {array.shape}; expected "
                                 f"{np.dtype(CACHE_DTYPES[self.dtype])} {expected} "
                                 "(the cache is damaged: convert it again)")
            if self._device is not None:
                array = self._to_device(array)
            elif self.in_memory:
                array = self._load(array)
            self._array = array
        return self._array

    def _to_device(self, array, chunk_bytes=256 * 2**20):
        """The split as one tensor on ``self._device``, copied in chunks (no host copy of it all)."""
        import torch  # torch: only a device-resident cache gets here (keeps torch out of skquake.datasets)

        n = len(self)
        dtype = getattr(torch, array.dtype.name)
        tensor = torch.empty((n,) + self.image_shape, dtype=dtype, device=self._device)
        step = max(1, chunk_bytes // (int(np.prod(self.image_shape)) * array.dtype.itemsize))
        for start in range(0, n, step):
            rows = self._rows[start:start + step]
            tensor[start:start + len(rows)].copy_(torch.from_numpy(np.take(array, rows, axis=0)))
        return tensor

    def _load(self, array):
        shape = (len(self),) + self.image_shape
        out = None
        try:
            import torch  # optional, torch: pinned memory only where torch and CUDA are there

            if torch.cuda.is_available():
                self._pinned = torch.empty(shape, dtype=getattr(torch, array.dtype.name)).pin_memory()
                out = self._pinned.numpy()
        except ImportError:
            pass
        if out is None:
            out = np.empty(shape, dtype=array.dtype)
        np.take(array, self._rows, axis=0, out=out, mode="clip")  # "raise" would buffer out
        return out

    def _positions(self, indices):
        """Split indices -> rows of the stored array (the in-memory array holds the split only)."""
        if self.in_memory:
            return indices
        return self._rows[indices]

    def close(self):
        """Drop this process's memory map (reopened on the next access)."""
        self._array = self._pinned = self._scratch = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_array"] = state["_pinned"] = state["_scratch"] = None  # each process maps (or loads) its own
        return state

    # -- samples --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    def _check_indices(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.dtype == bool or not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"CachedQuakeSet indices must be integers, got {indices.dtype} values")
        n = len(self)
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"index out of range for a CachedQuakeSet of {n} samples "
                             f"(got {indices.min()} .. {indices.max()})")
        return np.where(indices < 0, indices + n, indices)

    def _stored_buffer(self, n):
        """A reused array for ``n`` stored samples (fresh large arrays cost page faults)."""
        if self._scratch is None or len(self._scratch) != n:
            self._scratch = np.empty((n,) + self.image_shape, dtype=CACHE_DTYPES[self.dtype])
        return self._scratch

    @property
    def batch_encoding(self):
        if self.transform is not None:
            return None
        unfilled = self.fill_value is None or np.isnan(self.fill_value)
        if unfilled and self._nan.any():
            return None  # sample by sample, LazyImages refuses the no-data with its message
        if self.dtype == "float32-linear":
            return "linear"
        return None if not unfilled and self.fill_value < 0 else "decibels"

    def read_batch(self, indices, decode=True, out=None):
        """The images of a batch ``(n, C, H, W)``: one ``numpy.take`` of the contiguous array.

        Parameters
        ----------
        indices : array-like of int
            Samples of this split (negative counts from the end).
        decode : bool, default=True
            True: float32 linear, NaN filled, as :meth:`read_image` (no transform). False: the
            stored values (float16 decibels or float32 linear; half the bytes to move for
            float16), NaN filled with ``fill_value`` in the stored unit (``fill_value=0`` is
            -inf dB), for decoding on the device: ``from_decibels(batch.float())``
            (:func:`skquake.utils.from_decibels`) gives the decoded batch.
        out : ndarray, optional
            Where to write the batch (C-contiguous, float32 when decoding, else the stored
            dtype, shape ``(n, C, H, W)``): a buffer reused across batches (e.g. pinned memory)
            saves allocating and faulting in a new one per batch. A device-resident cache takes
            a tensor on its device.

        Returns
        -------
        ndarray or torch.Tensor
            ``out`` when given; a tensor on the device when ``in_memory`` names a device.
        """
        indices = self._check_indices(indices).reshape(-1)
        rows = self._positions(indices)
        shape = (len(rows),) + self.image_shape
        stored_dtype = np.dtype(CACHE_DTYPES[self.dtype])
        dtype = np.dtype(np.float32) if decode else stored_dtype
        self._check_fill(decode)
        if self._device is not None:
            return self._read_resident(indices, shape, decode, out)
        if out is None:
            out = np.empty(shape, dtype=dtype)
        elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}, got "
                             f"{out.dtype} {out.shape}")
        fill = None if self.fill_value is None else np.float32(self.fill_value)
        if decode and stored_dtype != dtype:
            stored = np.take(self._data(), rows, axis=0, out=self._stored_buffer(len(rows)), mode="clip")
            np.multiply(stored, _LN10_10, out=out, dtype=np.float32)
            np.exp(out, out=out)  # NaN stays NaN, -inf (stored zeros) becomes 0
        else:
            # mode="clip": the indices are checked already, and "raise" buffers ``out`` (4x slower)
            np.take(self._data(), rows, axis=0, out=out, mode="clip")
            if not decode and fill is not None and stored_dtype == np.float16:
                fill = _encode(fill, np.float16)
        if fill is not None:
            for j in np.flatnonzero(self._nan[indices]):  # only the samples with no-data
                _fill_nan(out[j], fill)
        return out

    def _check_fill(self, decode):
        if not decode and self.dtype == "float16-db" and self.fill_value is not None and self.fill_value < 0:
            raise ValueError(f"fill_value={self.fill_value} has no decibels: read_batch(decode=False) of "
                             f"the float16-db cache {self.cache_dir} needs fill_value >= 0 or None")

    def _read_resident(self, indices, shape, decode, out):
        """``read_batch`` of a device-resident split: indexed, decoded and filled on its device."""
        import torch  # torch: only a device-resident cache gets here (keeps torch out of skquake.datasets)

        if self._device.type != "cpu" and torch.utils.data.get_worker_info() is not None:
            # a forked worker cannot use its parent's CUDA context: say so instead of CUDA's error
            raise RuntimeError(f"CachedQuakeSet(in_memory={self.in_memory!r}) was read in a DataLoader "
                               "worker process; device-resident data is read in the main process: pass "
                               "num_workers=0")
        data = self._data()
        batch = data.index_select(0, torch.as_tensor(indices, device=data.device))
        if decode and batch.dtype == torch.float16:
            # as the memory map decodes: NaN stays NaN, -inf (stored zeros) becomes 0
            batch = batch.float().mul_(float(_LN10_10)).exp_()
        if self.fill_value is not None and self._nan[indices].any():
            fill = np.float32(self.fill_value)
            if batch.dtype == torch.float16:
                fill = _encode(fill, np.float16)
            batch = batch.masked_fill_(torch.isnan(batch), float(fill))
        if out is None:
            return batch
        if tuple(out.shape) != shape or out.dtype != batch.dtype or out.device != batch.device:
            raise ValueError(f"out must be a {batch.dtype} tensor of shape {shape} on {batch.device}, got "
                             f"{out.dtype} {tuple(out.shape)} on {out.device}")
        return out.copy_(batch)

    def read_image(self, index):
        """The image of sample ``index``: float32 ``(C, H, W)``, NaN filled, no transform."""
        image = self.read_batch([self._check_index(index)])[0]
        # A device-resident split: one sample to the host, as QuakeSet gives it.
        return image if isinstance(image, np.ndarray) else image.cpu().numpy()

    def _check_index(self, index) -> int:
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"CachedQuakeSet indices must be integers, got {index!r}")
        return int(self._check_indices(index))

    def __getitem__(self, index):
        i = self._check_index(index)
        image = self.read_image(i)
        if self.transform is not None:
            image = self.transform(image)
        return {"image": image, "label": int(self.labels[i]), "magnitude": float(self.magnitudes[i]),
                "event_id": str(self.groups[i]), "patch": str(self.patches[i])}

    def __repr__(self) -> str:
        return (f"CachedQuakeSet({str(self.cache_dir)!r}, split={self.split!r}, mode={self.mode!r}, "
                f"n_samples={len(self)}, image_shape={self.image_shape}, dtype={self.dtype!r})")
