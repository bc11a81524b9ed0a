"""Each row in a process of its own: peak memory per row, and a crash or a timeout becomes a
failed row instead of the end of the run."""
from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys

from ._host import now
from ._row import run_row
from ._store import HELD_LOCKS

__all__ = ["run_in_child", "start_method"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to stop this child when the runner dies, so a killed run leaves no orphan."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # pragma: no cover
        pass


def _child(job, conn) -> None:
    _die_with_parent()
    # A forked row inherits the runner's lock on results.jsonl; dropping its copy keeps a
    # row process that outlives a killed runner from blocking the run that resumes it.
    for fd in list(HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    row = run_row(job)
    try:
        conn.send(row)
    finally:
        conn.close()


def start_method(device: str) -> str:
    """``"fork"`` for CPU rows on Linux, else ``"spawn"``.

    fork shares the runner's imports, loaded arrays and registered models (fast, and what
    the tests register); CUDA cannot be used in a forked child, so GPU rows use spawn.
    """
    return "fork" if sys.platform.startswith("linux") and not device.startswith("cuda") else "spawn"


def run_in_child(job: dict, timeout: float | None) -> dict:
    """Run one row (:func:`~._row.run_row`) in a fresh process and return its row.

    Parameters
    ----------
    job : dict
        The row's job (see :func:`~._row.run_row`).
    timeout : float or None
        Seconds to wait for the row; then the child is stopped and the row recorded as failed.

    Returns
    -------
    dict
        The child's row, or a failed row saying why none came back (timeout, exit code).
    """
    ctx = multiprocessing.get_context(start_method(job["device"]))
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(job, send), name=f"skquake-bench-{job['model']}")
    proc.start()
    send.close()
    row = None
    timed_out = False
    try:
        timed_out = not recv.poll(timeout)
        if not timed_out:
            try:
                row = recv.recv()
            except EOFError:
                row = None
            proc.join(30)  # the row is in; give the child a moment to exit cleanly
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        recv.close()
    if row is None:
        row = dict(job["base"])
        row.update(status="failed", started_at=None, finished_at=now())
        if timed_out:
            row["error"] = f"timeout: no result within {timeout} s (child stopped)"
        else:
            hint = " (killed: out of memory?)" if proc.exitcode == -9 else ""
            row["error"] = f"the row's process died with exit code {proc.exitcode}{hint}"
    return row
