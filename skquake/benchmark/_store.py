"""The results store: ``results.jsonl``, an append-only log of rows, and its lock.

Rows are appended the moment they finish (flushed and fsync'd), so a run stopped at any
point and started again skips what is done; a line cut short by a kill is skipped when
reading, never fatal. Reports are rebuilt from this file.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

from tqdm.auto import tqdm

from ..utils import atomic_output

try:
    import fcntl  # optional: POSIX only (no locking on Windows)
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["HELD_LOCKS", "RESULTS_FILE", "append_row", "record_row", "latest_rows", "lock", "read_rows", "row_key", "write_text"]

RESULTS_FILE = "results.jsonl"

#: File descriptors of the locks this process holds (a forked row closes its copies).
HELD_LOCKS: set = set()


def read_rows(path: Path) -> tuple[list[dict], int]:
    """Rows of a ``results.jsonl``, oldest first, and the number of unreadable lines.

    Parameters
    ----------
    path : path
        The ``results.jsonl`` file (a missing file has no rows).

    Returns
    -------
    rows : list of dict
    n_bad : int
        Lines that are not a row (a line cut short by a kill is skipped, never fatal).
    """
    path = Path(path)
    rows, bad = [], 0
    if not path.exists():
        return rows, bad
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict) and {"task", "model", "seed", "config_id"} <= set(row):
                rows.append(row)
            else:
                bad += 1
    return rows, bad


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line, flushed and fsync'd."""
    line = json.dumps(row, sort_keys=True, default=str, allow_nan=True) + "\n"
    with open(path, "ab+") as f:
        # A kill mid-write leaves a line without its newline: start on a fresh line so
        # the new row is not glued to the broken one (which read_rows then skips).
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def record_row(path: Path, row: dict, what: str) -> int:
    """Append a finished row (serial and Dask runs alike) and announce a failure; 1 if it failed."""
    append_row(path, row)
    if row["status"] == "ok":
        return 0
    tqdm.write(f"FAILED {what}: {row['error']}")
    return 1


def row_key(row: Mapping) -> tuple:
    """(task, model, seed, config id): what makes a row the same row."""
    return (row["task"], row["model"], int(row["seed"]), row["config_id"])


def latest_rows(rows: Sequence[dict]) -> list[dict]:
    """One row per (task, model, seed, config): the latest one (a retried failure wins)."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        latest[row_key(row)] = row
    return list(latest.values())


@contextlib.contextmanager
def lock(out: Path):
    """One run per output folder at a time: two would interleave and repeat rows.

    The lock is taken on ``results.jsonl`` itself (advisory ``flock``), so no lock file is
    left in the results folder."""
    lock_path = out / RESULTS_FILE
    f = open(lock_path, "a")
    try:
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RuntimeError(
                    f"another 'skquake benchmark' is writing to {out} (it holds a lock on {lock_path}); "
                    "wait for it or choose another --out"
                ) from None
        HELD_LOCKS.add(f.fileno())
        yield
    finally:
        HELD_LOCKS.discard(f.fileno())
        f.close()


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` all at once, so a kill never leaves half a report behind."""
    with atomic_output(path, overwrite=True) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
