"""Files written all-or-nothing."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_output"]


@contextlib.contextmanager
def atomic_output(path, overwrite=False):
    """Write a file all-or-nothing: yield a temporary path, move it to ``path`` on success.

    The temporary file lives in the same directory (so the final ``os.replace`` is atomic) and
    is deleted if the block raises or is interrupted, so no file at ``path`` ever looks
    complete when it is not, and an existing ``path`` is left untouched. An existing ``path``
    raises :class:`FileExistsError` unless ``overwrite=True``.

    Examples
    --------
    >>> with atomic_output("out.h5") as tmp:          # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f:
    ...         f["a"] = 1
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a file path")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        if path.exists() and not overwrite:  # appeared while we were writing
            raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
        os.chmod(tmp, _default_file_mode())  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _default_file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
