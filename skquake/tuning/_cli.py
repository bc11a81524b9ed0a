"""``skquake tune MODEL --data PATH ...``: :func:`skquake.tuning.tune` from the shell."""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path

import joblib
import optuna
from sqlalchemy.exc import SQLAlchemyError

from ..datasets import MODES, SPLITS
from ..utils import atomic_output
from ._search import default_scoring
from ._storage import DEFAULT_STORAGE_FILE, STORAGE_ENV, StorageError, mask_url, scrub
from ._study import storage_url, study_summary
from ._tune import best_estimator, tune

__all__ = ["main"]


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skquake tune",
        description=(
            "Run or resume an Optuna study of a registered model on a QuakeSet file. Workers "
            "started anywhere with the same --storage and --study-name share the study."
        ),
    )
    p.add_argument("model", help="registered model name (skquake models)")
    p.add_argument("--data", required=True, help="QuakeSet HDF5 file")
    p.add_argument("--n-trials", type=int, default=20, help="complete+pruned trials the study should reach (default 20)")
    p.add_argument(
        "--storage", default=None,
        help=f"SQLAlchemy URL or SQLite path (default: ${STORAGE_ENV} or sqlite:///./{DEFAULT_STORAGE_FILE})",
    )
    p.add_argument("--study-name", default=None, help="study to create or resume (default MODEL-MODE-DATASTEM)")
    p.add_argument("--split", default="train", choices=[s for s in SPLITS if s != "validation"])
    p.add_argument("--mode", default="bitemporal", choices=list(MODES))
    p.add_argument("--pool", type=int, default=1, help="average-pool factor for the images (default 1)")
    p.add_argument("--lazy", action="store_true", help="read images per batch instead of loading the file (deep nets)")
    p.add_argument("--cv", type=int, default=3, help="GroupKFold splits by event (default 3)")
    p.add_argument(
        "--scoring", default=None,
        help=(f"scikit-learn style scorer name, greater is better (default: {default_scoring('magnitude')} "
              f"for magnitude, {default_scoring('detection')} for detection)"),
    )
    p.add_argument("--param", action="append", default=None, metavar="NAME",
                   help="tune only this registry search-space parameter (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="fixed model parameter, e.g. --set max_epochs=3 (repeatable)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--no-pruning", action="store_true", help="do not report intermediate scores")
    p.add_argument("--heartbeat-interval", type=int, default=10, help="seconds between trial heartbeats (default 10)")
    p.add_argument("--grace-period", type=int, default=None,
                   help="seconds without heartbeat before a trial counts as dead (default 3x heartbeat)")
    p.add_argument("--connect-timeout", type=int, default=10, help="database connect timeout in seconds (default 10)")
    p.add_argument("--refit", default=None, metavar="OUT.pkl",
                   help="fit the best parameters on the data and save the estimator (joblib) to this new file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no per-trial log lines")
    return p


def _print_summary(summary: dict, refit: bool) -> None:
    print(f"study {summary['study_name']!r} in {summary['storage']}")
    print(
        f"  trials: {summary['n_trials']} ({summary['complete']} complete, {summary['pruned']} pruned, "
        f"{summary['fail']} failed, {summary['running']} running, {summary['waiting']} waiting); "
        f"this run: {len(summary['this_worker_trials'])}"
    )
    if summary["best_trial"] is not None:
        print(f"  best: trial {summary['best_trial']} score {summary['best_value']:.6g} params {summary['best_params']}")
    if refit:
        print(f"  refitted estimator saved to {summary['refit']}")


def main(argv=None) -> int:
    """``skquake tune``: see ``skquake tune --help``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``tune`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when the study could not run (the message, with any password masked,
        is on stderr), 2 for bad arguments.
    """
    args = _build_parser().parse_args(argv)
    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    params = {}
    for item in args.set:
        if "=" not in item:
            print(f"skquake tune: --set expects NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        name, value = item.split("=", 1)
        params[name.strip()] = _parse_value(value.strip())
    if args.refit and Path(args.refit).exists():
        print(f"skquake tune: --refit {args.refit} exists; refusing to overwrite it", file=sys.stderr)
        return 2
    optuna.logging.set_verbosity(optuna.logging.WARNING if args.quiet else optuna.logging.INFO)
    try:
        study = tune(
            args.model, args.data, n_trials=args.n_trials, storage=storage, study_name=args.study_name,
            split=args.split, mode=args.mode, pool=args.pool, lazy=args.lazy, cv=args.cv, scoring=args.scoring,
            param_space=args.param, params=params, timeout=args.timeout, random_state=args.random_state,
            pruning=not args.no_pruning, heartbeat_interval=args.heartbeat_interval,
            grace_period=args.grace_period, connect_timeout=args.connect_timeout,
        )
    except (KeyError, ValueError, FileNotFoundError, StorageError, RuntimeError, SQLAlchemyError) as exc:
        # A database lost mid-study surfaces as a SQLAlchemy error; scrub it like the others.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        text = f"skquake tune: error: {message}"
        if storage:
            text = scrub(text, storage)
        print(text, file=sys.stderr)
        return 1
    summary = study_summary(study)
    summary["storage"] = mask_url(storage_url(study) or storage or "")
    summary["this_worker_trials"] = getattr(study, "_skquake_worker_trials", [])
    if args.refit:
        estimator = best_estimator(study)
        with atomic_output(args.refit) as tmp:
            joblib.dump(estimator, tmp)
        summary["refit"] = str(Path(args.refit))
    if args.json:
        print(json.dumps(summary, indent=2, default=repr))
    else:
        _print_summary(summary, bool(args.refit))
    return 0
