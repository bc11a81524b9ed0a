"""Rows of the benchmark as tasks on a Dask cluster: a local one (``--workers N``) or any
running scheduler (``--scheduler ADDRESS``: ``dask-jobqueue`` on Slurm or PBS, ``dask
scheduler`` by hand).

Only this process (the client) writes ``results.jsonl``, under the lock the runner holds:
each row is appended once, when its future completes. A worker lost mid-row is Dask's to
handle: the scheduler runs the row again on another worker, up to its ``allowed-failures``;
past that the row is recorded as failed and the run goes on.
"""
from __future__ import annotations

import contextlib

from tqdm.auto import tqdm

from ..utils import import_optional
from ._host import now
from ._row import run_row
from ._store import record_row

__all__ = ["ALLOWED_FAILURES", "run_on_dask"]

#: How many worker deaths one row may cause on a local cluster before it counts as failed
#: (a remote scheduler keeps its own ``distributed.scheduler.allowed-failures``).
ALLOWED_FAILURES = 3


@contextlib.contextmanager
def _client(workers: int | None, scheduler: str | None):
    """A ``distributed.Client`` on a new ``LocalCluster`` of ``workers`` processes (one thread
    each: a row sets its own torch threads) or on the scheduler at ``scheduler``."""
    import_optional("distributed", extra="distributed")
    import dask  # optional: the distributed extra (checked just above)
    import distributed  # optional: the distributed extra

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(f"argument --scheduler: no Dask scheduler reachable at {scheduler!r}: {exc}") from exc
        with client:
            yield client
        return
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}),
        distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _lost_row(job: dict, exc: BaseException) -> dict:
    """The failed row of a job whose task did not come back (its workers kept dying)."""
    row = dict(job["base"])
    row.update(status="failed", started_at=None, finished_at=now(),
               error=f"no result from the Dask cluster: {type(exc).__name__}: {exc}")
    return row


def run_on_dask(jobs, results_path, *, workers: int | None = None, scheduler: str | None = None,
                progress: bool = True, on_client=None) -> int:
    """Run the jobs as tasks on a Dask cluster, append each row as it finishes; return the failures.

    Parameters
    ----------
    jobs : list of dict
        The rows' jobs (see :func:`~._row.run_row`), without preloaded arrays.
    results_path : path
        The ``results.jsonl`` to append to (the caller holds its lock).
    workers : int, optional
        Worker processes of a new ``LocalCluster`` (exclusive with ``scheduler``).
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    progress : bool
        Show a tqdm progress bar.
    on_client : callable, optional
        Called with the client before any row is submitted (tests use it to install a
        worker plugin).

    Returns
    -------
    int
        The number of failed rows.
    """
    if (workers is None) == (scheduler is None):
        raise ValueError("pass exactly one of workers (a local Dask cluster) and scheduler (an address)")
    if not jobs:
        return 0
    failed = 0
    with _client(workers, scheduler) as client:
        import distributed  # optional: the distributed extra (imported by _client)

        if on_client is not None:
            on_client(client)
        # pure=False: each submission is a task of its own, even for equal jobs.
        futures = {client.submit(run_row, job, pure=False, key=f"row-{i}-{job['model']}-{job['task']}-{job['seed']}"): job
                   for i, job in enumerate(jobs)}
        bar = tqdm(total=len(jobs), desc="benchmark (dask)", unit="row", disable=not progress)
        try:
            for future in distributed.as_completed(futures):
                job = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker (its workers kept dying), a lost scheduler
                    row = _lost_row(job, exc)
                failed += record_row(results_path, row, f"{job['model']} on {job['task']} seed {job['seed']}")
                bar.update()
                future.release()
        finally:
            bar.close()
    return failed
