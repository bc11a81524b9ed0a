"""``skquake benchmark``: the command line of the benchmark runner."""
from __future__ import annotations

import argparse
import fnmatch
import re
import shlex
import sys
from dataclasses import replace
from numbers import Integral, Real
from pathlib import Path
from typing import Sequence

from ..datasets import quakeset_argument
from ..models import list_models
from ..utils import CommandParser, Interval, StrictInterval, checked, input_file, output_folder
from ._profiles import PROFILES
from ._reports import write_reports
from ._runner import plan, run_benchmark
from ._store import RESULTS_FILE
from ._tasks import TASKS

__all__ = ["main"]


def _split_patterns(values: Sequence[str] | None) -> tuple | None:
    """``["a,b", "c"]`` -> ``("a", "b", "c")``: patterns may be given comma-separated."""
    if values is None:
        return None
    out = []
    for v in values:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return tuple(out)


_AT_LEAST_ONE = checked(int, StrictInterval(Integral, 1, None, closed="left"))


def _device(text: str) -> str:
    """``--device``: checked here, where a typo costs nothing (torch would fail in every row)."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def _parser() -> CommandParser:
    # Each dest is run_benchmark()'s keyword, so that its errors name the flags (CommandParser).
    p = CommandParser(
        prog="skquake benchmark",
        description="Benchmark registered models on the QuakeSet tasks (train on train, "
        "score on val and test). Resumable: rerun the same command to finish a stopped run.",
        interrupted="interrupted; the finished rows are saved, run the same command to resume",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="settings bundle (default: quick)")
    p.add_argument("--data", type=quakeset_argument,
                   help="QuakeSet HDF5 file, e.g. the real earthquakes.h5, or a cache folder of it "
                        "(skquake cache) (quick: synthetic default)")
    p.add_argument("--damage-data", type=input_file("damage file"), help="data file of the damage task")
    p.add_argument("--epicentres", type=input_file("epicentre table"), metavar="TABLE",
                   help="epicentre table (CSV or Parquet: event_id, longitude, latitude, depth_km) for the "
                        "epicentre tasks on a file without epicentre attributes, e.g. the real earthquakes.h5")
    p.add_argument("--models", nargs="+", help="registry names or wildcards (comma-separated ok)")
    p.add_argument("--tasks", nargs="+", help=f"task names or wildcards; tasks: {', '.join(TASKS)}")
    p.add_argument("--seeds", nargs="+", type=checked(int, Interval(Integral, 0, 2**32 - 1, closed="both")),
                   help="seeds (default: the profile's)")
    p.add_argument("--out", type=output_folder, help="output folder (default: benchmarks/results/PROFILE)")
    p.add_argument("--device", default="auto", type=_device, help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--max-epochs", type=_AT_LEAST_ONE, help="override the deep models' epochs")
    p.add_argument("--pool", type=_AT_LEAST_ONE, help="override the pooling factor of the images (deep and shallow)")
    p.add_argument("--threads", type=_AT_LEAST_ONE,
                   help="threads per row, torch and BLAS / OpenMP (default: quick and medium 1, full one per core)")
    isolation = p.add_mutually_exclusive_group()  # a timeout stops a row's own process
    isolation.add_argument("--timeout", type=checked(float, Interval(Real, 0, None, closed="neither")),
                           help="seconds one row may take before it is recorded as failed")
    p.add_argument("--interval", type=checked(float, Interval(Real, 0, 1, closed="neither")), metavar="LEVEL",
                   help="magnitude tasks: split-conformal intervals of this confidence level (e.g. 0.9), calibrated "
                        "on 25%% of the train events; adds coverage and interval width (the uncertainty extra)")
    p.add_argument("--retry-failed", action="store_true", help="run again rows recorded as failed")
    isolation.add_argument("--in-process", dest="isolate", action="store_false",
                           help="run rows in this process (no isolation, no timeout)")
    isolation.add_argument("--workers", type=_AT_LEAST_ONE, metavar="N",
                           help="run rows on a local Dask cluster of N worker processes (the distributed extra)")
    isolation.add_argument("--scheduler", metavar="ADDRESS",
                           help="run rows on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 (see docs/scale.md)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="do not draw plots")
    p.add_argument("--report-only", action="store_true", help="only rebuild tables and plots from results.jsonl")
    p.add_argument("--dry-run", action="store_true", help="list the (task, model) pairs and exit")
    p.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    return p


def main(argv=None) -> int:
    """Run ``skquake benchmark`` with the arguments ``argv`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every row of this run succeeded, 1 when some failed (or the run could not
        proceed: another run holds the output folder), 2 for a usage error (a bad option value,
        a pattern that matches nothing, a missing data file, an ``--out`` that is a file), 130
        when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # Quoted as a shell needs it (wildcards too), so the recorded command can be pasted back.
    command = shlex.join(["skquake", "benchmark", *argv])
    return _parser().run(lambda args: _run(args, command), argv)


def _check_patterns(option: str, patterns, names) -> None:
    """A usage error naming ``option`` for a pattern that matches none of ``names``."""
    for p in patterns or ():
        if not any(fnmatch.fnmatchcase(n, p) for n in names):
            raise ValueError(f"argument {option}: {p!r} matches no name; the names are {', '.join(names)}")


def _run(args, command: str) -> int:
    if args.list_tasks:
        for t in TASKS.values():
            print(f"{t.name:<24} {t.registry_task:<10} {', '.join(t.metrics):<40} {t.paper or ''}")
        return 0
    models, tasks = _split_patterns(args.models), _split_patterns(args.tasks)
    _check_patterns("--models", models, list_models())
    _check_patterns("--tasks", tasks, list(TASKS))
    profile = PROFILES[args.profile]
    if args.max_epochs is not None:
        profile = replace(profile, deep_overrides={**profile.deep_overrides, "max_epochs": args.max_epochs})
    if args.pool is not None:
        profile = replace(profile, pool=args.pool, shallow_pool=args.pool, lazy_deep=profile.lazy_deep and args.pool == 1)
    if args.dry_run:
        for task, model in plan(profile, tasks, models):
            print(f"{task:<24} {model}")
        return 0
    if args.report_only:
        out = Path(args.out or Path("benchmarks") / "results" / profile.name)
        if not (out / RESULTS_FILE).exists():
            raise FileNotFoundError(f"argument --out: no {RESULTS_FILE} in {out}; run the benchmark first")
        for f in write_reports(out, plots=args.plots, command=command):
            print(f)
        return 0
    result = run_benchmark(
        profile, out=args.out, data=args.data, damage_data=args.damage_data, models=models, tasks=tasks,
        seeds=args.seeds, device=args.device, timeout=args.timeout, retry_failed=args.retry_failed,
        isolate=args.isolate, threads=args.threads, progress=args.progress, plots=args.plots, command=command,
        interval=args.interval, workers=args.workers, scheduler=args.scheduler, epicentres=args.epicentres,
    )
    for f in result["files"]:
        print(f)
    return 1 if result["failed"] else 0
