"""``skquake benchmark``: the command line of the benchmark runner."""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skquake benchmark",
        description="Benchmark registered models on the QuakeSet tasks (train on train, "
        "score on val and test). Resumable: rerun the same command to finish a stopped run.",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="settings bundle (default: quick)")
    p.add_argument("--data", help="QuakeSet HDF5 file, e.g. the real earthquakes.h5 (quick: synthetic default)")
    p.add_argument("--damage-data", help="data file of the damage task")
    p.add_argument("--models", nargs="+", help="registry names or wildcards (comma-separated ok)")
    p.add_argument("--tasks", nargs="+", help=f"task names or wildcards; tasks: {', '.join(TASKS)}")
    p.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the profile's)")
    p.add_argument("--out", help="output folder (default: benchmarks/results/PROFILE)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--max-epochs", type=int, help="override the deep models' epochs")
    p.add_argument("--pool", type=int, help="override the pooling factor of the images (deep and shallow)")
    p.add_argument("--threads", type=int, help="torch threads per row (default: quick 1, full one per core)")
    p.add_argument("--timeout", type=float, help="seconds one row may take before it is recorded as failed")
    p.add_argument("--retry-failed", action="store_true", help="run again rows recorded as failed")
    p.add_argument("--in-process", action="store_true", help="run rows in this process (no isolation, no timeout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plots", action="store_true", help="do not draw plots")
    p.add_argument("--report-only", action="store_true", help="only rebuild tables and plots from results.jsonl")
    p.add_argument("--dry-run", action="store_true", help="list the (task, model) pairs and exit")
    p.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    return p


def main(argv=None) -> int:
    """Run ``skquake benchmark`` with the arguments ``argv`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every row of this run succeeded, 1 when some failed, 2 for a usage error, 130
        when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    # Quoted as a shell needs it (wildcards too), so the recorded command can be pasted back.
    command = shlex.join(["skquake", "benchmark", *argv])
    if args.list_tasks:
        for t in TASKS.values():
            print(f"{t.name:<24} {t.registry_task:<10} {', '.join(t.metrics):<40} {t.paper or ''}")
        return 0
    profile = PROFILES[args.profile]
    if args.max_epochs is not None:
        profile = replace(profile, deep_overrides={**profile.deep_overrides, "max_epochs": args.max_epochs})
    if args.pool is not None:
        profile = replace(profile, pool=args.pool, shallow_pool=args.pool, lazy_deep=profile.lazy_deep and args.pool == 1)
    try:
        if args.dry_run:
            for task, model in plan(profile, _split_patterns(args.tasks), _split_patterns(args.models)):
                print(f"{task:<24} {model}")
            return 0
        if args.report_only:
            out = Path(args.out or Path("benchmarks") / "results" / profile.name)
            if not (out / RESULTS_FILE).exists():
                print(f"skquake benchmark: no {RESULTS_FILE} in {out}", file=sys.stderr)
                return 2
            for f in write_reports(out, plots=not args.no_plots, command=command):
                print(f)
            return 0
        result = run_benchmark(
            profile,
            out=args.out,
            data=args.data,
            damage_data=args.damage_data,
            models=_split_patterns(args.models),
            tasks=_split_patterns(args.tasks),
            seeds=args.seeds,
            device=args.device,
            timeout=args.timeout,
            retry_failed=args.retry_failed,
            isolate=not args.in_process,
            threads=args.threads,
            progress=not args.no_progress,
            plots=not args.no_plots,
            command=command,
        )
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as exc:
        print(f"skquake benchmark: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nskquake benchmark: interrupted; the finished rows are saved, run the same command to resume",
              file=sys.stderr)
        return 130
    for f in result["files"]:
        print(f)
    return 1 if result["failed"] else 0
