"""What the QuakeSet and the damage readers share to read HDF5 files with clear errors.

* :func:`open_index`: opens a file to read its index, after :func:`~skquake.utils.check_input_file`,
  and records its fingerprint;
* :class:`Layout`: every read of the index goes through it, so that every error names the file
  and the key and says what was expected: attributes in all the forms HDF5 tools write them
  (str, bytes, numpy bytes / str, variable-length strings, 0-d or 1-element arrays), soft and
  external links to missing objects or files, groups where datasets are expected, complex or
  non-numeric datasets;
* :class:`LazyHDF5File`: the per-process read-only handle of a dataset object, checked against
  the fingerprint before every read, so that a file replaced or truncated after it was opened
  raises :class:`~skquake.utils.FileChangedError` naming it.
"""
from __future__ import annotations

import contextlib
import numbers
import os
import reprlib
from pathlib import Path

import h5py
import numpy as np

from ..utils import check_input_file, check_unchanged, file_fingerprint

__all__ = ["HDF5FormatError", "Layout", "LazyHDF5File", "open_index"]


class HDF5FormatError(ValueError):
    """A file is not in the expected layout. ``path`` is the file, ``key`` the HDF5 object."""

    def __init__(self, message, *, path=None, key=None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.key = key


_MISSING = object()
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlist = 5


class _NotValid(Exception):
    """Internal: an attribute value is not of the expected form; the text describes it."""


def _describe(value) -> str:
    if isinstance(value, h5py.Empty):
        return "an empty attribute (no value)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}: {_short.repr(value.tolist())}"
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {bool(value)}"
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return f"the complex number {complex(value)}"
    if isinstance(value, np.generic):
        value = value.item()
    return _short.repr(value)


def _one(value):
    """The single value of the 1-element forms: 0-d and 1-element arrays."""
    if isinstance(value, h5py.Empty):
        raise _NotValid(_describe(value))
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise _NotValid(_describe(value))
        value = value.reshape(-1)[0]
    return value


def _text(value) -> str:
    value = _one(value)
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotValid(f"bytes that are not UTF-8 text: {_short.repr(bytes(value))}") from None
    if isinstance(value, str):  # also numpy.str_ and h5py's variable-length strings
        return str(value)
    raise _NotValid(_describe(value))


def _number(value) -> float:
    value = _one(value)
    if isinstance(value, (bytes, np.bytes_, str)):
        text = _text(value)
        try:
            return float(text)
        except ValueError:
            raise _NotValid(repr(text)) from None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    raise _NotValid(_describe(value))  # bool, complex, anything else


def _texts(value) -> tuple:
    if isinstance(value, h5py.Empty):
        return ()
    if isinstance(value, np.ndarray) and value.ndim > 1:
        raise _NotValid(_describe(value))
    items = value.reshape(-1) if isinstance(value, np.ndarray) else [value]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_text(item))
        except _NotValid as exc:
            raise _NotValid(f"a list whose item {i} is {exc}") from None
    return tuple(out)


_DECODERS = {"a string": _text, "a real number": _number, "a list of strings": _texts}


class Layout:
    """Reads the index of an open HDF5 file; every error names the file and the key.

    Parameters
    ----------
    path : pathlib.Path
        The file, for the messages.
    error : type
        The :class:`HDF5FormatError` subclass to raise.
    """

    def __init__(self, path, error=HDF5FormatError):
        self.path = Path(path)
        self.error = error

    def fail(self, message, key=None):
        """Raise ``error`` with ``"<path>: <message>"``."""
        raise self.error(f"{self.path}: {message}", path=self.path, key=key)

    # -- attributes --------------------------------------------------------------------------
    def _attr(self, obj, name, owner, expected, default):
        if name not in obj.attrs:
            if default is _MISSING:
                self.fail(f"{owner} has no {name!r} attribute; expected {expected}", key=obj.name)
            return default
        try:
            raw = obj.attrs[name]
        except (OSError, TypeError, ValueError) as exc:  # a datatype h5py cannot convert
            self.fail(f"{owner}: attribute {name!r} cannot be read ({exc}); expected {expected}",
                      key=obj.name)
        try:
            return _DECODERS[expected](raw)
        except _NotValid as exc:
            kind = {"a string": "non-text", "a real number": "non-numeric"}.get(expected, "malformed")
            self.fail(f"{owner} has a {kind} {name}: {exc} (attribute {name!r} of "
                      f"'{obj.name}'); expected {expected}", key=obj.name)

    def text_attr(self, obj, name, owner, default=_MISSING) -> str:
        """Attribute ``name`` of ``obj`` as one string (``owner`` describes ``obj``)."""
        return self._attr(obj, name, owner, "a string", default)

    def number_attr(self, obj, name, owner, default=_MISSING) -> float:
        """Attribute ``name`` as a float (a number, or text that is one; not a bool or complex)."""
        return self._attr(obj, name, owner, "a real number", default)

    def texts_attr(self, obj, name, owner, default=_MISSING) -> tuple:
        """Attribute ``name`` as a tuple of strings (a single string is a list of one)."""
        return self._attr(obj, name, owner, "a list of strings", default)

    # -- objects -----------------------------------------------------------------------------
    def member(self, group, name, expected, kind=None):
        """``group[name]``, resolving links, with an error naming a broken link's target.

        ``expected`` describes the object for the message; ``kind`` (``h5py.Dataset`` or
        ``h5py.Group``) is checked when given.
        """
        key = f"{group.name.rstrip('/')}/{name}"
        try:
            obj = group[name]
        except (KeyError, OSError) as exc:
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                self.fail(f"'{key}' is a soft link to '{link.path}', which does not exist in the "
                          f"file; expected {expected}", key=key)
            if isinstance(link, h5py.ExternalLink):
                target = Path(link.filename)
                target = target if target.is_absolute() else self.path.parent / target
                reason = (f"that file has no object '{link.path}' or cannot be read" if target.is_file()
                          else "that file does not exist")
                self.fail(f"'{key}' is an external link to '{link.path}' in {link.filename}, but "
                          f"{reason}; expected {expected}", key=key)
            self.fail(f"'{key}' cannot be opened ({exc}); expected {expected}", key=key)
        if kind is not None and not isinstance(obj, kind):
            found = "a group" if isinstance(obj, h5py.Group) else "a dataset"
            self.fail(f"'{key}' is {found}; expected {expected}", key=key)
        return obj

    def _where(self, obj) -> str:
        """``'/key'``, and the file it lives in when an external link led elsewhere."""
        other = Path(obj.file.filename)
        elsewhere = other.resolve() != self.path.resolve()
        return f"'{obj.name}'" + (f" (in {other}, through an external link)" if elsewhere else "")

    def check_real(self, dataset, expected):
        """Refuse a dataset whose values are not real numbers (complex, text, compound)."""
        dtype = dataset.dtype
        if dtype.kind == "c":
            self.fail(f"{self._where(dataset)} is complex-valued ({dtype}); expected {expected}. "
                      "skquake never drops an imaginary part: store real values (e.g. the "
                      "intensity abs(x)**2 of complex SAR data)", key=dataset.name)
        if dtype.kind not in "iuf":
            self.fail(f"{self._where(dataset)} has dtype {dtype}; expected {expected}", key=dataset.name)
        return dataset

    def read_codes(self, dataset, expected):
        """A small dataset of integer codes (labels, ids) as int64; whole-valued floats pass."""
        values = self.check_real(dataset, expected)[...]
        if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
            self.fail(f"{self._where(dataset)} holds values that are not whole numbers; expected "
                      f"{expected}", key=dataset.name)
        return values.astype(np.int64)


@contextlib.contextmanager
def open_index(path, *, what, error=HDF5FormatError):
    """Open ``path`` read-only to read its index: yields ``(h5py.File, Layout, fingerprint)``.

    Checks the path first (missing, folder, unreadable), refuses a file that is not HDF5
    (``error``), and raises :class:`~skquake.utils.FileChangedError` if the file changed
    while the index was read.
    """
    path = check_input_file(path, what)
    fingerprint = file_fingerprint(path)
    if not h5py.is_hdf5(path):
        raise error(f"{path}: not an HDF5 file", path=path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:  # e.g. truncated or locked file
        raise error(f"{path}: cannot be opened as HDF5 ({exc})", path=path) from exc
    with f:
        yield f, Layout(path, error), fingerprint
    check_unchanged(path, fingerprint, what=what, hint="open it again once it is complete")


class LazyHDF5File:
    """Base of the lazy readers: a read-only handle opened once per process, on first read.

    The subclass sets ``path``, ``_fingerprint`` (from :func:`open_index`) and ``_what``. A
    handle inherited through fork shares HDF5 state with the parent and is never reused; it is
    dropped when pickled, so the reader works in ``DataLoader`` workers and under joblib.
    Before every read the file's fingerprint is compared with the one recorded at open.
    """

    _handle = None
    _pid = None
    _fingerprint = None
    _what = "file"
    _format_error = HDF5FormatError

    def _check_unchanged(self):
        check_unchanged(self.path, self._fingerprint, what=self._what,
                        hint=f"open it again: {type(self).__name__}(path, ...)")

    def _file(self):
        self._check_unchanged()
        if self._handle is None or self._pid != os.getpid():
            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as exc:
                self._check_unchanged()
                raise self._format_error(f"{self.path}: cannot be opened as HDF5 ({exc})",
                                         path=self.path) from exc
            self._pid = os.getpid()
        return self._handle

    def _read(self, key, selection=()):
        """``file[key][selection]``; a failure names the file and the key."""
        f = self._file()
        try:
            return f[key][selection]
        except (KeyError, OSError) as exc:
            self._check_unchanged()  # a change explains the failure: say so
            raise self._format_error(f"{self.path}: cannot read '{key}' ({exc})", path=self.path,
                                     key=key) from exc

    def close(self):
        """Close this process's HDF5 handle (it is reopened on the next read)."""
        if self._handle is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):  # interpreter shutdown: h5py may be gone
                self._handle.close()
        self._handle = None
        self._pid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handle"] = None
        state["_pid"] = None
        return state
