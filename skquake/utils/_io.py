"""Files: checked input paths, all-or-nothing output, change detection and size checks.

* :func:`check_input_file` says what is wrong with a path given where a file is read: missing
  (and which folder is missing), a folder, unreadable.
* :func:`atomic_output` writes a file all-or-nothing; the temporary files it leaves when its
  process is killed are removed by the next :func:`atomic_output` in the same folder.
* :func:`file_fingerprint` / :func:`check_unchanged`: a reader records the fingerprint of a
  file when it opens it and checks it before each later read, so that a file replaced or
  truncated in between raises :class:`FileChangedError` instead of a low-level error or,
  worse, data that do not match the index read at open.
* :func:`check_capacity`: a writer or loader refuses up front, with the numbers, what cannot
  fit in memory or on disk (:class:`ResourceLimitError`).

Every message names the path; :class:`FileChangedError` also carries it in ``filename``.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "FileChangedError",
    "FileFingerprint",
    "ResourceLimitError",
    "atomic_output",
    "available_memory",
    "check_capacity",
    "check_input_file",
    "check_unchanged",
    "file_fingerprint",
    "format_bytes",
]


def _missing_part(path: Path) -> str:
    """Why ``path`` does not exist: the first missing folder, or an ancestor that is a file."""
    for parent in reversed(path.parents):
        if parent == Path(parent.anchor) or str(parent) in ("", "."):
            continue
        if parent.is_file():
            return f"{parent} is a file, not a folder"
        if not parent.exists():
            return f"the folder {parent} does not exist"
    return "no such file"


# =========================================================================== input files
def check_input_file(path, what="file"):
    """Check that ``path`` names an existing, readable file (not a folder).

    Parameters
    ----------
    path : str or path-like
    what : str, default="file"
        What the file is, for the message (``"QuakeSet file"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        Naming the path and the first missing folder (or the ancestor that is a file).
    IsADirectoryError
        ``path`` is a folder ("is a folder"), listing HDF5 files inside it if any.
    PermissionError
        The file cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     check_input_file(tempfile.gettempdir(), "QuakeSet file")
    ... except IsADirectoryError as exc:
    ...     print(str(exc).split(";")[0].endswith("is a folder, not a file"))
    True
    """
    path = Path(path)
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.h5"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise IsADirectoryError(f"{what} {path} is a folder, not a file; pass the path of the file{hint}")
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path} ({_missing_part(path)})")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{what} {path} is not readable (permission denied)")
    return path


# =========================================================================== change detection
class FileFingerprint(NamedTuple):
    """What changes when a file is replaced, truncated or rewritten: inode, size, mtime."""

    inode: int
    size: int
    mtime_ns: int


class FileChangedError(OSError):
    """A file changed on disk (replaced, truncated, rewritten or deleted) since it was opened.

    ``filename`` is the path. Open the file again to read its new content.
    """

    def __init__(self, message, *, filename=None):
        super().__init__(message)
        self.filename = filename

    def __str__(self):  # OSError would print "[Errno None] None: <filename>"
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # OSError's pickling drops ``filename`` (set after __init__ here)
        return type(self), self.args, {"filename": self.filename}


def file_fingerprint(path) -> FileFingerprint:
    """The :class:`FileFingerprint` of ``path`` now (``os.stat``: no data is read)."""
    st = os.stat(path)
    return FileFingerprint(st.st_ino, st.st_size, st.st_mtime_ns)


def check_unchanged(path, fingerprint, *, what="file", hint=""):
    """Raise :class:`FileChangedError` unless ``path`` still has ``fingerprint``.

    Parameters
    ----------
    path : str or path-like
    fingerprint : FileFingerprint
        Recorded when the file was opened (:func:`file_fingerprint`).
    what : str, default="file"
        What the file is, for the message.
    hint : str, default=""
        What to do, appended to the message (e.g. ``"open it again: QuakeSet(path)"``).
    """
    try:
        now = file_fingerprint(path)
    except FileNotFoundError:
        change = "it was deleted or moved"
    else:
        if now == fingerprint:
            return
        if now.inode != fingerprint.inode:
            change = "it was replaced by another file"
        elif now.size != fingerprint.size:
            change = f"its size went from {fingerprint.size} to {now.size} bytes (truncated or rewritten)"
        else:
            change = "it was rewritten (its modification time changed)"
    suffix = f"; {hint}" if hint else ""
    raise FileChangedError(f"{what} {path} changed on disk since it was opened: {change}{suffix}",
                           filename=str(path))


# =========================================================================== sizes
class ResourceLimitError(ValueError):
    """What was asked cannot fit in memory or on disk; nothing was written.

    Attributes
    ----------
    resource : {"memory", "disk space"}
    needed, available : int
        Bytes.
    parameters : tuple of str
        The parameters that set the size (to re-word the message, e.g. as CLI flags).
    """

    def __init__(self, message, *, resource=None, needed=None, available=None, parameters=()):
        super().__init__(message)
        self.resource = resource
        self.needed = needed
        self.available = available
        self.parameters = tuple(parameters)


def format_bytes(n) -> str:
    """``1536 -> '1.5 KiB'``: a size for messages."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def _read_int(path):
    try:
        text = Path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _meminfo_available():
    """``MemAvailable + SwapFree`` of ``/proc/meminfo``: what can be allocated without failing
    (slow as swapping may be, it works, so it is not refused)."""
    fields = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in ("MemAvailable", "SwapFree"):
                    fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0) if "MemAvailable" in fields else None


def _cgroup_available():
    """Memory left under this process's cgroup limit (v2 or v1), or None without a limit."""
    candidates = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                   "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::/") and len(line) > 4:  # v2: the process's own group
                own = "/sys/fs/cgroup" + line[3:]
                candidates.insert(0, (own + "/memory.max", own + "/memory.current"))
    except OSError:
        pass
    for limit_file, usage_file in candidates:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:  # v1 "no limit" is ~2**63
            return max(limit - usage, 0)
    return None


def available_memory():
    """Bytes of memory this process can still take, or None where the system does not say.

    The smallest of the kernel's ``MemAvailable`` plus free swap and what is left under the
    process's cgroup limit; elsewhere the physical memory (an upper bound: it only refuses the
    impossible).
    """
    known = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if known:
        return min(known)
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_capacity(what, *, memory=0, disk=0, folder=None, parameters=(), hint=""):
    """Refuse up front what cannot fit: ``memory`` bytes held at once, ``disk`` bytes written.

    Parameters
    ----------
    what : str
        The call and the parameters that set the size, for the message
        (``"make_quakeset(patch_size=100000, n_events=200)"``).
    memory : int, default=0
        Bytes that must be in memory at the same time.
    disk : int, default=0
        Bytes written under ``folder``.
    folder : path-like, optional
        Where the output goes (``shutil.disk_usage`` of it); needed with ``disk``.
    parameters : tuple of str
        Names of the parameters that set the size (carried by the error).
    hint : str, default=""
        What to change, appended to the message.

    Raises
    ------
    ResourceLimitError
        Giving the size needed and the size available.
    """
    suffix = f"; {hint}" if hint else ""
    checks = []
    if memory:
        checks.append(("memory", memory, available_memory(), "of memory at once", "available"))
    if disk and folder is not None:
        checks.append(("disk space", disk, shutil.disk_usage(folder).free, f"of disk space in {folder}",
                       "free"))
    for resource, needed, available, where, state in checks:
        if available is not None and needed > available:
            raise ResourceLimitError(
                f"{what} needs about {format_bytes(needed)} {where}, but only "
                f"{format_bytes(available)} is {state}{suffix}",
                resource=resource, needed=int(needed), available=int(available),
                parameters=parameters)


# =========================================================================== output files
# Temporary files are named ".<target>.<writer>~<pid>~<random>.tmp": <writer> is this host (and
# its pid namespace, so that two containers with one host name are told apart) and <pid> the
# writing process, so that a later writer can tell the files of a killed writer from those of a
# live one.
_TEMPORARY = re.compile(r"^\..*\.(?P<writer>[A-Za-z0-9-]+)~(?P<pid>[0-9]+)~[a-z0-9_]+\.tmp$")
_MAX_TARGET_IN_NAME = 100  # keeps the temporary name under the 255-byte limit of file systems


def _writer_id() -> str:
    writer = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:60] or "host"
    try:
        writer += "-" + re.sub(r"[^0-9]", "", os.readlink("/proc/self/ns/pid"))
    except (OSError, AttributeError):  # not Linux: the host name alone
        pass
    return writer


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host may still be writing (True when unsure)."""
    if os.name == "nt" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows: never remove
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    try:  # a killed process that nobody reaped yet is a zombie: it writes nothing any more
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _remove_stale_temporaries(folder: Path, writer: str) -> None:
    """Delete the temporary files that killed writers of this host left in ``folder``."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if (match is None or match["writer"] != writer or not entry.is_file(follow_symlinks=False)
                or _pid_alive(int(match["pid"]))):
            continue
        with contextlib.suppress(OSError):  # another writer removed it first, or no permission
            os.unlink(entry.path)


@contextlib.contextmanager
def atomic_output(path, overwrite=False):
    """Write a file all-or-nothing: yield a temporary path, move it to ``path`` on success.

    The temporary file lives in the same folder (so the final ``os.replace`` is atomic) and
    is deleted if the block raises or is interrupted, so no file at ``path`` ever looks
    complete when it is not, and an existing ``path`` is left untouched. An existing ``path``
    raises :class:`FileExistsError` unless ``overwrite=True``.

    A process killed while writing (``kill -9``, out of memory) cannot delete its temporary
    file. Its name, ``.<name>.<host>~<pid>~<random>.tmp``, carries the writer's host and
    process id, and every ``atomic_output`` first deletes, in its folder, the temporary files
    of writers of this host that are no longer running. Files of live writers, of other
    hosts and any other file are never touched.

    Raises
    ------
    IsADirectoryError
        ``path`` is a folder.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    FileNotFoundError, NotADirectoryError
        The folder of ``path`` does not exist, or is a file.

    Examples
    --------
    >>> with atomic_output("out.h5") as tmp:          # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f:
    ...         f["a"] = 1
    """
    text = os.fspath(path)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file; pass a file path (e.g. inside it)")
    if text.endswith(("/", os.sep)):
        raise IsADirectoryError(f"{text} names a folder (it ends with a separator); pass a file path")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if path.parent.is_file():
        raise NotADirectoryError(f"cannot write {path}: {path.parent} is a file, not a folder")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: {_missing_part(path)}")
    writer = _writer_id()
    _remove_stale_temporaries(path.parent, writer)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp",
                               prefix=f".{path.name[:_MAX_TARGET_IN_NAME]}.{writer}~{os.getpid()}~")
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
