"""``skquake tune MODEL --data PATH ...``: :func:`skquake.tuning.tune` from the shell."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import optuna
from sqlalchemy.exc import SQLAlchemyError

from ..datasets import MODES, SPLITS, quakeset_argument
from ..models import save_model
from ..utils import CommandParser, input_file, name_value, new_file
from ._search import default_scoring
from ._storage import DEFAULT_STORAGE_FILE, STORAGE_ENV, mask_url, scrub
from ._study import META_KEY, study_summary
from ._tune import best_estimator, tune

__all__ = ["main"]


def _storage(args) -> str | None:
    return args.storage or os.environ.get(STORAGE_ENV) or None


def _redact(text: str, args) -> str:
    """Hide the password of the storage URL (given or from the environment) in ``text``.

    Any other URL in the message is masked too: argparse repeats misspelt arguments
    (``unrecognized arguments: --storagee postgresql://me:secret@host/db``).
    """
    storage = _storage(args) if args is not None else os.environ.get(STORAGE_ENV)
    if storage:
        text = scrub(text, storage)
    return re.sub(r"[A-Za-z][\w+.-]*://\S+", lambda m: mask_url(m[0]), text)


def _build_parser() -> CommandParser:
    # Each dest is tune()'s keyword, so that its errors name the flags (see CommandParser).
    p = CommandParser(
        prog="skquake tune",
        description=(
            "Run or resume an Optuna study of a registered model on a QuakeSet file. Workers "
            "started anywhere with the same --storage and --study-name share the study."
        ),
        # A database lost mid-study surfaces as a SQLAlchemy error: one line, scrubbed.
        failures=(SQLAlchemyError,),
        redact=_redact,
        interrupted="interrupted; run the same command to resume the study",
    )
    p.add_argument("model", help="registered model name (skquake models)")
    p.add_argument("--data", required=True, type=quakeset_argument,
                   help="QuakeSet HDF5 file, or a cache folder of it (skquake cache)")
    p.add_argument("--n-trials", type=int, default=20, help="complete+pruned trials the study should reach (default 20)")
    p.add_argument(
        "--storage", default=None,
        help=f"SQLAlchemy URL or SQLite path (default: ${STORAGE_ENV} or sqlite:///./{DEFAULT_STORAGE_FILE})",
    )
    p.add_argument("--study-name", default=None, help="study to create or resume (default MODEL-MODE-DATASTEM)")
    p.add_argument("--split", default="train", choices=[s for s in SPLITS if s != "validation"])
    p.add_argument("--mode", default="bitemporal", choices=list(MODES))
    p.add_argument("--pool", type=int, default=1, help="average-pool factor for the images (default 1)")
    p.add_argument("--epicentres", default=None, type=input_file("epicentre table"), metavar="TABLE",
                   help="epicentre models: the epicentre table (CSV or Parquet) of a file without epicentre attributes")
    p.add_argument("--lazy", action="store_true", help="read images per batch instead of loading the file (deep nets)")
    p.add_argument("--cv", type=int, default=3, help="GroupKFold splits by event (default 3)")
    p.add_argument(
        "--scoring", default=None,
        help=(f"scikit-learn style scorer name, greater is better (default: {default_scoring('magnitude')} "
              f"for magnitude, {default_scoring('detection')} for detection)"),
    )
    p.add_argument("--param", dest="param_space", action="append", default=None, metavar="NAME",
                   help="tune only this registry search-space parameter (repeatable)")
    p.add_argument("--set", dest="params", action="append", default=[], type=name_value,
                   metavar="NAME=VALUE", help="fixed model parameter, e.g. --set max_epochs=3 (repeatable)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--no-pruning", dest="pruning", action="store_false", help="do not report intermediate scores")
    p.add_argument("--heartbeat-interval", type=int, default=10, help="seconds between trial heartbeats (default 10)")
    p.add_argument("--grace-period", type=int, default=None,
                   help="seconds without heartbeat before a trial counts as dead (default 3x heartbeat)")
    p.add_argument("--connect-timeout", type=int, default=10, help="database connect timeout in seconds (default 10)")
    p.add_argument("--refit", default=None, type=new_file, metavar="OUT.skq",
                   help="fit the best parameters on the data and save the model (skquake's .skq format, "
                        "as `skquake fit` writes) to this new file")
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
        0 on success, 1 when the study could not run (the storage failed, trials kept failing),
        2 for a usage error (a bad option value, an unknown model or scorer, a missing data
        file, an existing ``--refit`` file, a study of another setup), 130 when interrupted.
        The message is on stderr, any password hidden.
    """
    return _build_parser().run(_run, argv)


def _run(args) -> int:
    # Errors propagate: CommandParser.run prints them (password hidden) with the exit status.
    storage = _storage(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING if args.quiet else optuna.logging.INFO)
    study = tune(
        args.model, args.data, n_trials=args.n_trials, storage=storage, study_name=args.study_name,
        split=args.split, mode=args.mode, pool=args.pool, lazy=args.lazy, epicentres=args.epicentres, cv=args.cv, scoring=args.scoring,
        param_space=args.param_space, params=dict(args.params), timeout=args.timeout,
        random_state=args.random_state, pruning=args.pruning, heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period, connect_timeout=args.connect_timeout,
    )
    summary = study_summary(study)
    summary["this_worker_trials"] = getattr(study, "_skquake_worker_trials", [])
    if args.refit:
        estimator = best_estimator(study)
        meta = study.user_attrs[META_KEY]
        # The same .skq format as `skquake fit` (test metrics: none, the study never saw the test split).
        save_model(estimator, args.refit, model=meta["model"], task=f"{meta['task']}-{meta['mode']}",
                   params={**meta.get("params", {}), **study.best_params}, data=meta["data"],
                   splits=(meta["split"],), mode=meta["mode"], pool=meta["pool"])
        summary["refit"] = str(Path(args.refit))
    if args.json:
        print(json.dumps(summary, indent=2, default=repr))
    else:
        _print_summary(summary, bool(args.refit))
    return 0
