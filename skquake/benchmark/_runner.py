"""The run: which rows to run, with which data and settings, one after another, resumable."""
from __future__ import annotations

import fnmatch
import json
import numbers
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.utils import check_scalar
from tqdm.auto import tqdm

from ..datasets import check_quakeset_source
from ..models import get_model_spec, list_models
from ..utils import import_optional
from ._host import config_id, file_fingerprint, machine, versions
from ._isolation import run_in_child, start_method
from ._profiles import PROFILES, Profile
from ._reports import write_reports
from ._row import data_key, load_splits, run_row
from ._store import RESULTS_FILE, latest_rows, lock, read_rows, record_row, row_key, write_text
from ._tasks import TASKS, BenchTask, default_cache_dir, default_data_file

__all__ = ["plan", "run_benchmark"]


def _interval(profile: Profile, task_name: str) -> float | None:
    """The confidence level of the intervals of ``task_name``'s rows (magnitude tasks only)."""
    return profile.interval if TASKS[task_name].registry_task == "magnitude" else None


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def plan(profile: Profile, tasks: Sequence[str] | None, models: Sequence[str] | None) -> list[tuple]:
    """(task name, model name) pairs to run, model-major (one progress bar per model).

    A model runs on every selected task whose registry task is its own; a pattern that
    matches nothing is an error.
    """
    task_patterns = tuple(tasks) if tasks else profile.tasks
    model_patterns = tuple(models) if models else profile.models
    task_names = [t for t in TASKS if _matches(t, task_patterns)]
    if not task_names:
        raise ValueError(f"no benchmark task matches {list(task_patterns)}; tasks are {list(TASKS)}")
    for p in task_patterns:
        if not any(fnmatch.fnmatchcase(t, p) for t in TASKS):
            raise ValueError(f"no benchmark task matches {p!r}; tasks are {list(TASKS)}")
    registered = list_models()
    for p in model_patterns:
        if not any(fnmatch.fnmatchcase(m, p) for m in registered):
            raise ValueError(
                f"no registered model matches {p!r}; 'skquake models' lists the {len(registered)} registered models"
            )
    model_names = [m for m in registered if _matches(m, model_patterns)]
    pairs = []
    for m in model_names:
        rtask = get_model_spec(m).task
        pairs += [(t, m) for t in task_names if TASKS[t].registry_task == rtask]
    if not pairs:
        raise ValueError(f"none of the models {model_names} takes any of the tasks {task_names}")
    return pairs


def _data_paths(task_names: Sequence[str], profile: Profile, data: Mapping[str, Any], cache_dir: Path, log) -> dict:
    """The data file of each task: the user's, or the profile's default synthetic file."""
    paths = {}
    for name in task_names:
        task = TASKS[name]
        option = "--" + task.data_option.replace("_", "-")
        given = data.get(task.data_option)
        if given is not None:
            path = Path(given).expanduser()
            if task.data_option == "data":
                check_quakeset_source(path, f"{option} QuakeSet file")  # or a decoded cache folder
            elif not path.is_file():
                raise FileNotFoundError(f"{option} {path}: no such file")
        elif profile.synthetic and task.make_synthetic is not None:
            path = default_data_file(name, cache_dir, log, options=profile.synthetic_options.get(task.data_option))
        else:
            raise ValueError(
                f"task {name!r} needs a data file: pass {option} PATH "
                f"(profile {profile.name!r} uses no synthetic default)"
            )
        paths[name] = path.resolve()
    return paths


class _SplitCache:
    """Arrays loaded once in the runner and shared with forked rows (copy-on-write), so the
    quick profile does not read the same file 28 times. Bounded: least recently used first out."""

    def __init__(self, max_bytes=2 * 2**30):
        self.max_bytes = max_bytes
        self._items: dict[tuple, dict] = {}

    @staticmethod
    def _nbytes(splits) -> int:
        return sum(getattr(X, "nbytes", 0) + getattr(y, "nbytes", 0) for X, y in splits.values())

    def get(self, task: BenchTask, path, pool: int, lazy: bool, options=None):
        if lazy:  # a lazy dataset reads per process; nothing to share
            return None
        key = (task.name, str(path), pool, tuple(str((options or {}).get(o)) for o in task.options))
        if key in self._items:
            self._items[key] = self._items.pop(key)  # most recently used last
            return self._items[key]
        try:
            splits = load_splits(task, path, pool, lazy, options)
        except Exception:  # the row loads again and records the error with its stage
            return None
        for X, y in splits.values():
            for a in (X, y):  # y is None for a change task on a file without masks
                if isinstance(a, np.ndarray):
                    # shared by every row: a model that writes into its input must copy it
                    a.setflags(write=False)
        size = self._nbytes(splits)
        if size > self.max_bytes:
            return None
        while self._items and sum(map(self._nbytes, self._items.values())) + size > self.max_bytes:
            self._items.pop(next(iter(self._items)))
        self._items[key] = splits
        return splits


def _record_configs(out: Path, configs: Mapping[str, dict], config_ids: Mapping[str, str]) -> None:
    """Keep ``configs.json``: config id -> the settings it stands for (only ever added to)."""
    path = out / "configs.json"
    known = {}
    if path.exists():
        try:
            known = json.loads(path.read_text())
        except json.JSONDecodeError:
            known = {}
    changed = False
    for task, cid in config_ids.items():
        if cid not in known:
            known[cid] = configs[task]
            changed = True
    if changed:
        write_text(path, json.dumps(known, indent=2, sort_keys=True, default=str))


def _run_jobs(jobs, results_path, timeout, isolate, progress) -> int:
    """Run the jobs model by model, append each row as it finishes; return the failures."""
    cache = _SplitCache()
    failed = 0
    by_model: dict[str, list] = {}
    for job in jobs:
        by_model.setdefault(job["model"], []).append(job)
    overall = tqdm(total=len(jobs), desc="benchmark", unit="row", disable=not progress, position=0)
    try:
        for model, model_jobs in by_model.items():
            bar = tqdm(total=len(model_jobs), desc=f"  {model}", unit="row", leave=False, disable=not progress, position=1)
            try:
                for job in model_jobs:
                    desc = f"{job['task']} seed {job['seed']}"
                    bar.set_postfix_str(desc)
                    if not isolate or start_method(job["device"]) == "fork":
                        lazy, pool = data_key(Profile(**job["profile"]), get_model_spec(model).family)
                        preloaded = cache.get(TASKS[job["task"]], job["data"], pool, lazy, job.get("task_options"))
                        job = {**job, "preloaded": preloaded}
                    row = run_in_child(job, timeout) if isolate else run_row(job)
                    failed += record_row(results_path, row, f"{model} on {desc}")
                    bar.update()
                    overall.update()
            finally:
                bar.close()
    finally:
        overall.close()
    return failed


def run_benchmark(
    profile: Profile | str = "quick",
    *,
    out: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    damage_data: str | os.PathLike | None = None,
    models: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
    timeout: float | None = None,
    retry_failed: bool = False,
    isolate: bool = True,
    threads: int | None = None,
    progress: bool = True,
    plots: bool = True,
    cache_dir: str | os.PathLike | None = None,
    command: str | None = None,
    interval: float | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    epicentres: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) a benchmark and write its reports.

    Parameters
    ----------
    profile : Profile or str
        A :class:`Profile` or the name of one in :data:`PROFILES`.
    out : path, optional
        Output folder (default ``benchmarks/results/<profile name>``).
    data, damage_data : path, optional
        The QuakeSet file (e.g. the real ``earthquakes.h5``) or a cache folder of it (``skquake
        cache``, :func:`skquake.datasets.open_quakeset`), and the damage file. Without
        them a profile with ``synthetic=True`` uses its default synthetic files.
    models, tasks : sequence of str, optional
        Wildcards overriding the profile's selection.
    seeds : sequence of int, optional
        Overrides the profile's seeds.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    timeout : float, optional
        Seconds one row may take before it is stopped and recorded as failed (needs
        ``isolate``).
    retry_failed : bool
        Run again the rows recorded as failed (by default a failed row counts as done).
    isolate : bool
        Run each row in its own process (peak memory per row, crash isolation).
    threads : int, optional
        torch intra-op threads per row, overriding the profile's.
    progress, plots : bool
        Show tqdm progress bars; draw the plots.
    cache_dir : path, optional
        Folder of the default synthetic files (default ``$SKQUAKE_CACHE_DIR`` or
        ``~/.cache/skquake``).
    command : str, optional
        The command line to print at the top of ``results.md``.
    interval : float in (0, 1), optional
        Sets the profile's ``interval``: magnitude models in split-conformal calibration,
        their rows with ``coverage`` and ``interval_width`` (see :class:`Profile`).
    workers : int, optional
        Run the rows as tasks on a local Dask cluster of this many worker processes (the
        ``distributed`` extra; see :mod:`~._dask`). Exclusive with ``scheduler``, ``timeout``
        and ``isolate=False``.
    scheduler : str, optional
        Run the rows as tasks on the running Dask scheduler at this address.
    epicentres : path, optional
        Epicentre table (CSV or Parquet: ``event_id``, ``longitude``, ``latitude``,
        ``depth_km``) of the epicentre tasks, for a file without epicentre attributes (the real
        ``earthquakes.h5``). Without it those tasks are skipped on such a file, with a note.
    log : callable, default=print
        Called with each progress message.

    Returns
    -------
    dict
        ``out`` (folder), ``ran``, ``skipped``, ``failed`` (counts), ``wall_s``, ``files`` and
        ``tasks_skipped`` (task name -> why it could not run on the given data).
    """
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")
        profile = PROFILES[profile]
    if seeds is not None:
        profile = replace(profile, seeds=tuple(int(s) for s in seeds))
    if interval is not None:
        check_scalar(interval, "interval", numbers.Real, min_val=0, max_val=1, include_boundaries="neither")
        profile = replace(profile, interval=float(interval))
    if profile.lazy_deep and profile.pool != 1:
        raise ValueError("lazy_deep=True reads full-size images; it needs pool=1")
    if profile.interval is not None and profile.lazy_deep:
        raise ValueError(f"interval={profile.interval} calibrates on images in memory; profile {profile.name!r} "
                         "reads the deep models' images lazily at full size: pass pool=2 or more")
    if timeout is not None:
        check_scalar(timeout, "timeout", numbers.Real, min_val=0, include_boundaries="neither")
        if not isolate:
            raise ValueError("a per-row timeout needs isolate=True (rows in their own process)")
    if workers is not None or scheduler is not None:
        if workers is not None and scheduler is not None:
            raise ValueError("workers and scheduler are exclusive: a local Dask cluster or a running one")
        if timeout is not None or not isolate:
            raise ValueError("rows on a Dask cluster run in its worker processes: no timeout, no isolate=False")
        if workers is not None:
            check_scalar(workers, "workers", numbers.Integral, min_val=1)
        import_optional("distributed", extra="distributed")  # before any folder is made
    t_start = time.perf_counter()
    out = Path(out) if out is not None else Path("benchmarks") / "results" / profile.name
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if threads is not None:
        profile = replace(profile, threads=threads)
    if profile.threads is not None:
        check_scalar(profile.threads, "threads", numbers.Integral, min_val=1)
    from . import _deep  # keeps torch out of the torch-free import path (import skquake.benchmark)

    device = _deep.resolve_device(device)
    threads = profile.threads or _deep.torch_threads()

    pairs = plan(profile, tasks, models)
    task_names = list(dict.fromkeys(t for t, _ in pairs))
    paths = _data_paths(task_names, profile, {"data": data, "damage_data": damage_data}, cache_dir, log)
    options = {"epicentres": None if epicentres is None else str(Path(epicentres).expanduser().resolve())}
    if options["epicentres"] is not None and not Path(options["epicentres"]).is_file():
        raise FileNotFoundError(f"epicentres {options['epicentres']}: no such file")
    tasks_skipped = {}
    for name in task_names:
        check = TASKS[name].check
        reason = check(paths[name], options) if check is not None else None
        if reason is not None:
            tasks_skipped[name] = reason
            log(f"note: task {name} skipped: {reason}")
    if tasks_skipped:
        pairs = [(t, m) for t, m in pairs if t not in tasks_skipped]
        task_names = [t for t in task_names if t not in tasks_skipped]
        if not pairs:
            raise ValueError("no task can run on the given data: " + "; ".join(tasks_skipped.values()))

    # What changes a row's figures. The model/task/seed selection is not part of it: runs
    # with different selections but the same settings fill one table.
    settings = {
        k: v
        for k, v in asdict(profile).items()
        # synthetic_options: the data fingerprint below says which file it made
        if k not in ("name", "models", "tasks", "seeds", "synthetic", "synthetic_options", "threads", "interval")
    }
    host = machine()
    configs = {
        t: {
            "profile": profile.name,
            # The interval changes only the magnitude rows; without one, config ids are as before.
            "settings": settings if _interval(profile, t) is None else {**settings, "interval": profile.interval},
            # a cache folder: its manifest (format, dtype and the source file's fingerprint)
            "data": file_fingerprint(paths[t]) if paths[t].is_file()
            else {**file_fingerprint(paths[t] / "manifest.json"), "name": paths[t].name},
            # the options a task's data depends on (the epicentre table), fingerprinted like the file
            **{o: None if options.get(o) is None else file_fingerprint(Path(options[o])) for o in TASKS[t].options},
            "device": device,
            "torch_threads": threads,
            "machine": host,
        }
        for t in task_names
    }
    config_ids = {t: config_id(c) for t, c in configs.items()}

    results_path = out / RESULTS_FILE
    out.mkdir(parents=True, exist_ok=True)  # only now: a rejected command leaves no folder
    with lock(out):
        _record_configs(out, configs, config_ids)
        rows, bad = read_rows(results_path)
        if bad:
            log(f"note: {bad} unreadable line(s) in {results_path} skipped (a run killed mid-write)")
        done = {row_key(row): row["status"] for row in latest_rows(rows)}
        base = {"profile": profile.name, "versions": versions(), "machine": host, "command": command or ""}
        jobs = []
        skipped = 0
        for task_name, model in pairs:
            for seed in profile.seeds:
                key = (task_name, model, int(seed), config_ids[task_name])
                status = done.get(key)
                if status == "ok" or (status is not None and not retry_failed):
                    skipped += 1
                    continue
                row_base = {
                    "task": task_name, "model": model, "seed": int(seed), "config_id": config_ids[task_name],
                    "registry_task": TASKS[task_name].registry_task, "data": str(paths[task_name]), **base,
                }
                jobs.append({
                    "task": task_name, "model": model, "seed": int(seed), "data": str(paths[task_name]),
                    "profile": asdict(profile), "device": device, "torch_threads": threads, "base": row_base,
                    "task_options": {o: options.get(o) for o in TASKS[task_name].options},
                    "out": str(out.resolve()),
                })
        n_total = len(jobs) + skipped
        log(
            f"skquake benchmark ({profile.name}): {n_total} rows, {skipped} already done, "
            f"{len(jobs)} to run; device {device}; results in {out}"
        )
        if workers is not None or scheduler is not None:
            from ._dask import run_on_dask  # optional: the distributed extra

            n_failed = run_on_dask(jobs, results_path, workers=workers, scheduler=scheduler, progress=progress)
        else:
            n_failed = _run_jobs(jobs, results_path, timeout, isolate, progress)
        wall = time.perf_counter() - t_start
        files = write_reports(out, config_ids=set(config_ids.values()), plots=plots, log=log, command=command)
    log(f"done in {wall:.1f} s: {len(jobs)} rows run ({n_failed} failed), {skipped} skipped")
    return {"out": out, "ran": len(jobs), "skipped": skipped, "failed": n_failed, "wall_s": wall, "files": files,
            "tasks_skipped": tasks_skipped}
