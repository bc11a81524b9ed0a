"""Hyperparameter search for registered models: ``GridSearchCV``, ``OptunaSearchCV`` and studies.

Three ways in, all with ``GroupKFold`` by event (patches of one earthquake never sit on both
sides of a split) and a scorer from :func:`skquake.metrics.get_scorer`:

* :func:`make_search_cv` builds a scikit-learn ``GridSearchCV`` or Optuna's ``OptunaSearchCV``
  for a registered model, with the model's registry search space;
* :func:`tune` runs (or resumes) an Optuna study stored in an RDB (SQLite by default,
  PostgreSQL to share it between workers on many machines); deep nets report their
  validation score every epoch so that the pruner can stop unpromising trials;
* ``skquake tune MODEL --data PATH ...`` is :func:`tune` from the shell (:func:`main`).

Loss-free resumption rests on Optuna's RDB heartbeat: every running trial refreshes a
timestamp; a trial whose worker died (``kill -9``, lost machine) goes stale after
``grace_period`` seconds, is marked ``FAIL`` by whichever worker looks next and re-queued once
with the same parameters. A live worker's trial is never failed, so any number of workers can
be started and stopped against one study. Only ``COMPLETE`` and ``PRUNED`` trials count
towards ``n_trials``.

Storage URLs may carry passwords: everything printed or raised here shows :func:`mask_url`.
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote, unquote

import numpy as np

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "StorageError",
    "best_estimator",
    "check_params",
    "default_scoring",
    "default_storage_url",
    "main",
    "make_search_cv",
    "mask_url",
    "open_storage",
    "study_summary",
    "tune",
]

#: File name of the embedded SQLite storage used when no storage URL is given.
DEFAULT_STORAGE_FILE = "skquake-optuna.db"
#: Name of the study user attribute that records what a study tunes (checked on resume).
_META_KEY = "skquake"
#: Name under which the per-epoch pruning callback is added to a skorch net.
_PRUNING_CALLBACK = "skquake_optuna_pruning"
#: Environment variable read when ``--storage`` is not given (keeps passwords out of ``ps``).
STORAGE_ENV = "SKQUAKE_OPTUNA_STORAGE"

_TARGETS = {"magnitude": "magnitude", "detection": "label", "damage": "label"}
_DEFAULT_SCORING = {"magnitude": "neg_mae", "detection": "accuracy", "damage": "accuracy"}


class StorageError(RuntimeError):
    """An Optuna storage could not be opened; the message shows the URL with its password masked."""


# --------------------------------------------------------------------------- URLs and secrets
# The password runs to the last "@" before the host (an unquoted "@" in it stays masked).
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<pw>[^/\s]*)@")
_QUERY_PW = re.compile(r"(?i)(?P<head>[?&](?:password|passwd|pwd)=)(?P<pw>[^&\s]*)")


def mask_url(url) -> str:
    """``url`` with any password replaced by ``***``.

    Both the user-info form (``postgresql://user:secret@host/db``) and a ``password=`` query
    parameter are masked; a URL without a password is returned unchanged.

    >>> mask_url("postgresql+psycopg2://me:s3cret@db.example:5432/optuna")
    'postgresql+psycopg2://me:***@db.example:5432/optuna'
    """
    text = str(url)
    text = _USERINFO.sub(lambda m: f"{m['head']}:***@", text)
    return _QUERY_PW.sub(lambda m: f"{m['head']}***", text)


def _secrets(url) -> list[str]:
    """The password strings of ``url`` (raw and percent-(un)quoted), longest first."""
    text = str(url)
    found = [m["pw"] for m in _USERINFO.finditer(text)] + [m["pw"] for m in _QUERY_PW.finditer(text)]
    out = set()
    for pw in found:
        if pw:
            out.update({pw, unquote(pw), quote(unquote(pw), safe="")})
    return sorted((s for s in out if s), key=len, reverse=True)


def _scrub(text: str, url) -> str:
    """``text`` with the URL masked and every form of its password replaced by ``***``."""
    text = str(text).replace(str(url), mask_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return mask_url(text)


# --------------------------------------------------------------------------- storage
def default_storage_url(directory=None) -> str:
    """``sqlite:///<directory>/skquake-optuna.db`` (``directory`` defaults to the current one)."""
    directory = Path.cwd() if directory is None else Path(directory)
    return f"sqlite:///{(directory / DEFAULT_STORAGE_FILE).resolve()}"


def _normalise_url(storage) -> str:
    if storage is None:
        return default_storage_url()
    storage = os.fspath(storage)
    if "://" not in storage:
        # A bare path means an SQLite file, as with optuna's own CLI.
        path = Path(storage).expanduser()
        if path.is_dir():
            path = path / DEFAULT_STORAGE_FILE
        return f"sqlite:///{path.resolve()}"
    return storage


def open_storage(
    storage=None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int = 1,
    connect_timeout: int = 10,
):
    """Open (and create the tables of) an Optuna RDB storage with the heartbeat switched on.

    Parameters
    ----------
    storage : str, path, optuna storage or None
        SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg2://user@host/db``), a path
        to an SQLite file (a directory gets ``skquake-optuna.db`` inside), an existing optuna
        storage (returned unchanged), or None for ``sqlite:///<cwd>/skquake-optuna.db``.
    heartbeat_interval : int
        Seconds between heartbeats of a running trial.
    grace_period : int, optional
        Seconds without heartbeat after which a running trial counts as dead (its worker was
        killed) and is failed; default ``3 * heartbeat_interval``.
    max_retry : int
        How many times a dead worker's trial is re-queued with the same parameters.
    connect_timeout : int
        Seconds to wait for a database server before giving up.

    Raises
    ------
    StorageError
        The storage cannot be opened; the message names the URL with its password masked.
    """
    import optuna
    from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback

    if isinstance(storage, BaseStorage):
        return storage
    url = _normalise_url(storage)
    if int(heartbeat_interval) < 1:
        raise ValueError(f"heartbeat_interval must be a positive number of seconds, got {heartbeat_interval!r}")
    grace_period = 3 * int(heartbeat_interval) if grace_period is None else int(grace_period)
    if grace_period <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace_period} s) must exceed heartbeat_interval ({heartbeat_interval} s), "
            "or live trials would be failed"
        )
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": int(connect_timeout)}
    elif url.startswith("mysql"):
        engine_kwargs["connect_args"] = {"connect_timeout": int(connect_timeout)}
    elif url.startswith("sqlite"):
        # Several workers on one SQLite file wait for each other's write locks.
        engine_kwargs["connect_args"] = {"timeout": max(30, int(connect_timeout))}
        db_path = url.split("sqlite:///", 1)[-1]
        if db_path and db_path != ":memory:" and not Path(db_path).parent.is_dir():
            raise StorageError(
                f"cannot open Optuna storage {mask_url(url)}: directory {Path(db_path).parent} does not exist"
            )
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=int(heartbeat_interval),
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                )
        except Exception as exc:  # SQLAlchemy / driver errors may quote the URL with its password
            text = str(exc).lower()
            # Workers started together on an empty database race to create Optuna's tables
            # and types; the loser sees "already exists" and only has to open them again.
            if attempt < 4 and ("already exists" in text or "duplicate key" in text):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise StorageError(
                f"cannot open Optuna storage {mask_url(url)}: {type(exc).__name__}: {_scrub(exc, url)}"
            ) from None


# --------------------------------------------------------------------------- search spaces
def default_scoring(task: str) -> str:
    """Scorer name used when none is given: ``"mae"`` for magnitude, ``"accuracy"`` otherwise."""
    try:
        return _DEFAULT_SCORING[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_DEFAULT_SCORING)}") from None


def _get_scorer(scoring, task):
    if callable(scoring):
        return scoring
    from ..metrics import get_scorer

    return get_scorer(default_scoring(task) if scoring is None else scoring)


def check_params(model: str, params, estimator=None) -> None:
    """Raise ``ValueError`` if a parameter name does not route into ``model``'s estimator.

    Parameters
    ----------
    model : str
        Registry name (``KeyError`` naming close matches when unknown).
    params : mapping or sequence of str
        Parameter names (keys of a mapping are used) as given to ``set_params``.
    estimator : estimator, optional
        The estimator to check against; built with :func:`skquake.create_model` when omitted.
    """
    from sklearn.base import clone

    from ..models import create_model

    names = list(params.keys() if isinstance(params, Mapping) else params)
    est = create_model(model) if estimator is None else estimator
    current = est.get_params(deep=True)
    for name in names:
        if name in current:
            continue
        # Not a constructor parameter: it may still route (skorch ``criterion__margin``,
        # ``module__drop_rate`` before initialisation); set_params refuses it otherwise.
        try:
            clone(est).set_params(**{name: 1})
        except (ValueError, TypeError, AttributeError, KeyError):
            raise ValueError(
                f"parameter {name!r} is not a parameter of model {model!r}; "
                f"valid parameters: {', '.join(sorted(current))}"
            ) from None


def _resolve_space(model: str, param_space, kind: str) -> dict:
    from ..models import get_search_space

    if param_space is None:
        space = get_search_space(model, kind)
        if not space:
            raise ValueError(f"model {model!r} has no search space in the registry; pass param_space")
        return space
    if isinstance(param_space, Mapping):
        return dict(param_space)
    full = get_search_space(model, kind)
    missing = [name for name in param_space if name not in full]
    if missing:
        raise ValueError(
            f"parameter(s) {', '.join(map(repr, missing))} not in the search space of model {model!r}; "
            f"its search space has: {', '.join(full) or '(nothing)'}"
        )
    return {name: full[name] for name in param_space}


def make_search_cv(
    model: str,
    search: str = "optuna",
    *,
    param_space=None,
    params: Mapping[str, Any] | None = None,
    cv: int = 3,
    scoring=None,
    n_trials: int = 10,
    n_jobs: int | None = None,
    study=None,
    timeout: float | None = None,
    refit: bool = True,
    random_state: int | None = 0,
    error_score="raise",
    verbose: int = 0,
):
    """A ``GridSearchCV`` or ``OptunaSearchCV`` over a registered model, split by event.

    Fit it like any search, passing the event ids as ``groups``::

        X, y, groups = load_quakeset(path, target="magnitude")
        search = make_search_cv("svr-rbf", "grid").fit(X, y, groups=groups)

    Parameters
    ----------
    model : str
        Registry name.
    search : {"optuna", "grid"}
        ``OptunaSearchCV`` (``optuna_integration``) or scikit-learn's ``GridSearchCV``.
    param_space : mapping or sequence of str, optional
        The registry search space (``get_search_space(model, "grid"|"optuna")``) by default;
        a sequence of names keeps only those parameters of it; a mapping replaces it (grid
        lists for ``"grid"``, optuna distributions for ``"optuna"``).
    params : mapping, optional
        Fixed parameters passed to the model's factory (``{"max_epochs": 2}``).
    cv : int
        Number of ``GroupKFold`` splits (by event).
    scoring : str or callable, optional
        Name for :func:`skquake.metrics.get_scorer`; default by task (:func:`default_scoring`).
    n_trials, study, timeout : optional
        ``OptunaSearchCV`` only: number of trials, an optuna study (e.g. on a shared storage)
        and a time limit in seconds.
    n_jobs : int, optional
        Parallel candidates (``GridSearchCV``) or parallel trials (``OptunaSearchCV``).
    refit : bool
        Refit the best parameters on all the data (``best_estimator_``).
    random_state : int or None
        Seeds the optuna sampler (seed the model itself through ``params``).
    error_score : "raise" or float
        As in scikit-learn; ``"raise"`` so that a broken candidate is not silently skipped.
    """
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from ..models import create_model, get_model_spec

    spec = get_model_spec(model)
    if search not in ("grid", "optuna"):
        raise ValueError(f"unknown search {search!r}; expected 'grid' or 'optuna'")
    params = dict(params or {})
    check_params(model, params)
    estimator = create_model(model, **params)
    space = _resolve_space(model, param_space, search)
    check_params(model, space, estimator)
    scorer = _get_scorer(scoring, spec.task)
    splitter = GroupKFold(n_splits=int(cv))
    if search == "grid":
        return GridSearchCV(
            estimator, space, scoring=scorer, cv=splitter, n_jobs=n_jobs, refit=refit,
            error_score=error_score, verbose=verbose,
        )
    import optuna
    from optuna_integration import OptunaSearchCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return OptunaSearchCV(
            estimator, space, cv=splitter, scoring=scorer, n_trials=n_trials, n_jobs=n_jobs or 1,
            study=study, timeout=timeout, refit=refit, random_state=random_state,
            error_score=error_score, verbose=verbose,
        )


# --------------------------------------------------------------------------- data
def _load_data(data, *, task: str, split: str, mode: str, pool: int, lazy: bool = False):
    """``(X, y, groups, description)`` from a QuakeSet path or an ``(X, y, groups)`` tuple.

    ``lazy=True`` gives a :class:`skquake.datasets.LazyImages` view (pixels read per batch, for
    deep nets on files larger than memory) instead of an in-memory array.
    """
    if isinstance(data, (tuple, list)):
        if len(data) != 3:
            raise ValueError(f"data must be a QuakeSet path or an (X, y, groups) tuple, got {len(data)} items")
        X, y, groups = data
        return X, np.asarray(y), np.asarray(groups), None
    if task not in ("detection", "magnitude"):
        raise ValueError(
            f"a QuakeSet file holds detection and magnitude targets, not {task!r}; "
            "pass the data as an (X, y, groups) tuple"
        )
    path = Path(os.fspath(data)).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"QuakeSet file not found: {path}")
    if lazy:
        if pool != 1:
            raise ValueError(f"lazy loading reads full-resolution images; pool must be 1, got {pool!r}")
        from ..datasets import QuakeSet
        from ..datasets import lazy_xy

        X, y, groups = lazy_xy(QuakeSet(path, split=split, mode=mode), target=_TARGETS[task])
        return X, y, groups, str(path)
    from ..datasets import load_quakeset

    X, y, groups = load_quakeset(path, split=split, mode=mode, target=_TARGETS[task], pool=pool)
    return X, y, groups, str(path)


# --------------------------------------------------------------------------- objective
def _suggest(trial, name, dist):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")


def _find_net(estimator):
    """``(prefix, skorch net)`` of the estimator or of a pipeline's last step; ``(None, None)``."""
    from skorch import NeuralNet

    prefix = ""
    while True:
        if isinstance(estimator, NeuralNet):
            return prefix, estimator
        steps = getattr(estimator, "steps", None)
        if not steps:
            return None, None
        prefix += steps[-1][0] + "__"
        estimator = steps[-1][1]


def _make_epoch_reporter(trial, scorer, X_val, y_val, counter):
    """A skorch callback that reports ``scorer`` on the held-out fold after every epoch.

    optuna_integration's ``SkorchPruningCallback`` reports a value from ``net.history``, i.e.
    the net's own internal validation split and a loss whose direction may differ from the
    study's; scoring the CV fold with the study's scorer keeps the pruned quantity and the
    objective the same.
    """
    import optuna
    from skorch.callbacks import Callback

    class EpochReporter(Callback):
        def on_epoch_end(self, net, **kwargs):
            try:
                score = float(scorer(net, X_val, y_val))
            except ValueError as exc:
                # A diverged net predicts NaN/inf, which metrics refuse: a trial to prune.
                if "nan" not in str(exc).lower() and "infinity" not in str(exc).lower():
                    raise
                score = float("nan")
            step = counter[0]
            counter[0] += 1
            net.history.record("tuning_score", score)
            trial.report(score if math.isfinite(score) else float("nan"), step)
            if not math.isfinite(score) or trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} (epoch {len(net.history)}) with score {score:.6g}")

    return EpochReporter()


class _Objective:
    """Mean ``GroupKFold`` score of one trial's parameters (greater is better)."""

    def __init__(self, estimator, space, X, y, groups, cv, scorer, epoch_reports=True):
        self.estimator = estimator
        self.space = space
        self.X, self.y, self.groups = X, y, groups
        self.cv = cv
        self.scorer = scorer
        self.epoch_reports = epoch_reports

    def __call__(self, trial):
        import optuna
        from sklearn.base import clone
        from sklearn.utils import _safe_indexing

        params = {name: _suggest(trial, name, dist) for name, dist in self.space.items()}
        estimator = clone(self.estimator).set_params(**params)
        prefix, net = _find_net(estimator)
        per_epoch = self.epoch_reports and net is not None and net.callbacks != "disable"
        counter = [0]
        scores = []
        for fold, (train, test) in enumerate(self.cv.split(self.X, self.y, self.groups)):
            est = clone(estimator)
            X_test, y_test = _safe_indexing(self.X, test), self.y[test]
            if per_epoch:
                reporter = _make_epoch_reporter(trial, self.scorer, X_test, y_test, counter)
                callbacks = [c for c in (net.callbacks or []) if not (isinstance(c, tuple) and c[0] == _PRUNING_CALLBACK)]
                est.set_params(**{prefix + "callbacks": callbacks + [(_PRUNING_CALLBACK, reporter)]})
            est.fit(_safe_indexing(self.X, train), self.y[train])
            scores.append(float(self.scorer(est, X_test, y_test)))
            if self.epoch_reports and not per_epoch:
                # Shallow models: the running mean after each fold lets the pruner stop early.
                trial.report(float(np.mean(scores)), fold)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {fold} with mean score {np.mean(scores):.6g}")
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))


# --------------------------------------------------------------------------- studies
def _count(trials, *states):
    return sum(t.state in states for t in trials)


def _load_or_create_study(storage, study_name, meta, sampler, pruner):
    """Create the study or load the existing one; never delete or overwrite it."""
    import optuna
    from optuna.study import StudyDirection

    study = optuna.create_study(
        storage=storage, study_name=study_name, direction="maximize", load_if_exists=True,
        sampler=sampler, pruner=pruner,
    )
    if study.directions != [StudyDirection.MAXIMIZE]:
        raise ValueError(
            f"study {study_name!r} exists with direction(s) {[d.name for d in study.directions]}, "
            "but skquake studies maximise a scikit-learn score; use another --study-name "
            "(the existing study is left untouched)"
        )
    existing = study.user_attrs.get(_META_KEY)
    if existing is None:
        if study.trials:
            raise ValueError(
                f"study {study_name!r} already has {len(study.trials)} trial(s) but was not created by "
                "skquake tune; use another --study-name (the existing study is left untouched)"
            )
        study.set_user_attr(_META_KEY, meta)
        return study
    diff = [
        f"{key}: study has {existing.get(key)!r}, this run has {meta.get(key)!r}"
        for key in sorted(set(meta) | set(existing))
        if key not in ("data", "version") and existing.get(key) != meta.get(key)
    ]
    if Path(str(existing.get("data"))).name != Path(str(meta.get("data"))).name:
        diff.append(f"data: study has {existing.get('data')!r}, this run has {meta.get('data')!r}")
    if diff:
        raise ValueError(
            f"study {study_name!r} was created for a different setup ({'; '.join(diff)}); "
            "use another --study-name to start a new study (the existing study is left untouched)"
        )
    return study


def _fail_beatless_trials(study, first_seen: dict, grace_period: float) -> None:
    """Fail running trials that have had no heartbeat at all for ``grace_period`` seconds.

    Optuna's stale-trial check skips trials without a heartbeat row, so a worker killed
    between creating a trial and its first heartbeat (a few milliseconds) would leave that
    trial RUNNING for ever. A live worker writes the first heartbeat as soon as the trial
    exists; one still missing after the grace period, measured on this worker's own clock
    from when it first saw the trial (no clock skew between machines), is dead.
    """
    import optuna
    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    storage = study._storage
    # load_study / create_study wrap an RDBStorage in optuna's _CachedStorage, which has no
    # SQL session of its own: the query goes to the backend, state changes through the
    # wrapper so that its cache stays coherent.
    backend = getattr(storage, "_backend", storage)
    if not isinstance(backend, RDBStorage):
        return  # no heartbeat table to look at
    session = backend.scoped_session()
    try:
        rows = (
            session.query(models.TrialModel.trial_id)
            .filter(models.TrialModel.study_id == study._study_id)
            .filter(models.TrialModel.state == TrialState.RUNNING)
            .filter(~models.TrialModel.heartbeats.any())
            .all()
        )
    finally:
        session.close()
    now = time.monotonic()
    ids = {row[0] for row in rows}
    for trial_id in list(first_seen):
        if trial_id not in ids:
            del first_seen[trial_id]
    callback = backend.get_heartbeat_stale_trial_callback()
    for trial_id in ids:
        if now - first_seen.setdefault(trial_id, now) <= grace_period:
            continue
        try:
            failed = storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            failed = False  # another worker got there first
        del first_seen[trial_id]
        if failed and callback is not None:
            callback(study, storage.get_trial(trial_id))


def tune(
    model: str,
    data,
    *,
    n_trials: int = 20,
    storage=None,
    study_name: str | None = None,
    split: str = "train",
    mode: str = "bitemporal",
    pool: int = 1,
    lazy: bool = False,
    cv: int = 3,
    scoring: str | None = None,
    param_space=None,
    params: Mapping[str, Any] | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    timeout: float | None = None,
    random_state: int = 0,
    sampler=None,
    pruner=None,
    pruning: bool = True,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int = 1,
    connect_timeout: int = 10,
    max_failures: int = 3,
    callbacks: Sequence = (),
):
    """Run or resume an Optuna study of a registered model on a QuakeSet file.

    Several calls (processes, machines) with the same ``storage`` and ``study_name`` share the
    study: each runs trials until ``n_trials`` trials of the study are ``COMPLETE`` or
    ``PRUNED`` (whoever ran them), so a killed run started again only runs what is missing.

    Parameters
    ----------
    model : str
        Registry name (``skquake.list_models()``).
    data : path or (X, y, groups)
        A QuakeSet HDF5 file (read with :func:`skquake.datasets.load_quakeset`, target by the
        model's task) or arrays with event ids as ``groups``.
    n_trials : int
        Total ``COMPLETE`` + ``PRUNED`` trials the study should hold when this call returns.
    storage : str, path, optuna storage or None
        See :func:`open_storage`; default ``sqlite:///<cwd>/skquake-optuna.db``.
    study_name : str, optional
        Default ``"<model>-<mode>-<data file stem>"``. An existing study of that name is
        resumed (never deleted or overwritten); it must tune the same model, task, target,
        mode, split, pool, scoring, cv, parameters and data file name.
    split, mode, pool :
        Passed to ``load_quakeset`` (``split="train"`` keeps val/test out of the search).
    lazy : bool
        Read the file as a :class:`skquake.datasets.LazyImages` view (deep nets; pixels are read
        per batch) instead of loading it into memory.
    cv : int
        ``GroupKFold`` splits by event.
    scoring : str or callable, optional
        Scorer name for :func:`skquake.metrics.get_scorer`; default by task (``"mae"`` for
        magnitude, ``"accuracy"`` for detection). The study maximises it (scikit-learn scores
        are greater-is-better: ``"mae"`` is the negative MAE).
    param_space : mapping or sequence of str, optional
        Optuna distributions; default the registry's (``get_search_space(model, "optuna")``),
        a sequence of names keeps only those.
    params : mapping, optional
        Fixed overrides for the model's factory (``{"max_epochs": 3}``).
    enqueue : sequence of mappings
        Parameter sets to try first (e.g. the paper's recipe); each is queued once per study
        (``enqueue_trial(..., skip_if_exists=True)``), so resuming does not queue it again.
    timeout : float, optional
        Stop starting new trials after this many seconds.
    random_state : int
        Seeds the default sampler (``TPESampler``, reseeded per trial with the study's trial
        count so that concurrent workers do not draw the same parameters).
    sampler, pruner : optional
        Optuna sampler / pruner; the default pruner is ``MedianPruner(n_startup_trials=3,
        n_warmup_steps=1)``.
    pruning : bool
        Report per-epoch (deep) or per-fold (shallow) scores to the pruner.
    heartbeat_interval, grace_period, max_retry, connect_timeout :
        See :func:`open_storage`.
    max_failures : int
        Raise after this many failed trials in a row in this call.
    callbacks : sequence
        Extra ``callback(study, frozen_trial)`` called after each trial.

    Returns
    -------
    optuna.study.Study
    """
    import optuna
    from optuna.trial import TrialState
    from sklearn.model_selection import GroupKFold

    from .. import __version__
    from ..models import create_model, get_model_spec

    spec = get_model_spec(model)
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials!r}")
    params = dict(params or {})
    base = create_model(model)
    check_params(model, params, base)
    space = _resolve_space(model, param_space, "optuna")
    check_params(model, space, base)
    estimator = create_model(model, **params) if params else base
    scorer = _get_scorer(scoring, spec.task)
    for fixed in enqueue:
        check_params(model, fixed, base)
    X, y, groups, data_path = _load_data(data, task=spec.task, split=split, mode=mode, pool=pool, lazy=lazy)
    data_desc = data_path if data_path is not None else f"arrays{tuple(np.shape(X))}"

    meta = {
        "model": model,
        "task": spec.task,
        "target": _TARGETS[spec.task],
        "mode": mode,
        "split": split,
        "pool": int(pool),
        "lazy": bool(lazy),
        "cv": int(cv),
        "scoring": scoring if isinstance(scoring, str) or scoring is None else getattr(scoring, "__name__", repr(scoring)),
        "params": json.loads(json.dumps(params, default=repr)),
        "space": sorted(space),
        "data": data_desc,
        "version": __version__,
    }
    if meta["scoring"] is None:
        meta["scoring"] = default_scoring(spec.task)
    if study_name is None:
        stem = Path(data_path).stem if data_path else "arrays"
        study_name = f"{model}-{mode}-{stem}"

    rdb = open_storage(
        storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
        max_retry=max_retry, connect_timeout=connect_timeout,
    )
    url = getattr(rdb, "url", "")
    if pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if pruning else optuna.pruners.NopPruner()
    try:
        study = _load_or_create_study(rdb, study_name, meta, sampler, pruner)
    except ValueError:
        raise
    except Exception as exc:
        raise StorageError(f"cannot use Optuna storage {mask_url(url)}: {type(exc).__name__}: {_scrub(exc, url)}") from None

    for fixed in enqueue:
        study.enqueue_trial(dict(fixed), skip_if_exists=True)
    objective = _Objective(estimator, space, X, y, groups, GroupKFold(n_splits=int(cv)), scorer, epoch_reports=pruning)
    # Without a heartbeat (an in-memory storage given by the caller) RUNNING trials of dead
    # workers cannot be told apart from live ones, so they are not waited for.
    heartbeat = getattr(rdb, "heartbeat_interval", None) is not None
    poll = max(1.0, float(heartbeat_interval) / 2)
    start = time.monotonic()
    failures = 0
    beatless: dict = {}
    ran: list = []

    def _remember(study_, frozen):
        ran.append(frozen)

    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Fail trials of dead workers (stale heartbeat) and re-queue them; live ones are kept.
            optuna.storages.fail_stale_trials(study)
        if heartbeat:
            _fail_beatless_trials(study, beatless, rdb.grace_period or 2 * heartbeat_interval)
        trials = study.get_trials(deepcopy=False)
        done = _count(trials, TrialState.COMPLETE, TrialState.PRUNED)
        running = _count(trials, TrialState.RUNNING) if heartbeat else 0
        if done >= n_trials or (timeout is not None and time.monotonic() - start >= timeout):
            break
        if done + running >= n_trials:
            # Other workers' trials would finish the study; wait for them to finish or die.
            time.sleep(poll)
            continue
        before = len(ran)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if sampler is None:
                study.sampler = optuna.samplers.TPESampler(
                    seed=(int(random_state) + len(trials)) % (2**32), constant_liar=True, n_startup_trials=5,
                )
            study.optimize(objective, n_trials=1, callbacks=[_remember, *callbacks], gc_after_trial=True)
        last = ran[-1] if len(ran) > before else None
        if last is not None and last.state == TrialState.FAIL:
            failures += 1
            if failures >= max_failures:
                raise RuntimeError(
                    f"{failures} trials of study {study_name!r} failed in a row (last: trial {last.number}, "
                    f"{last.system_attrs.get('fail_reason', 'see the log')}); stopping"
                )
        else:
            failures = 0
    # What this call ran (other workers may have run the rest), for the CLI summary.
    study._skquake_worker_trials = [t.number for t in ran]
    return study


def study_summary(study) -> dict:
    """Counts by state, best value and parameters of a study (JSON-serialisable)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    out = {
        "study_name": study.study_name,
        "n_trials": len(trials),
        **{state.name.lower(): _count(trials, state) for state in TrialState},
        "meta": study.user_attrs.get(_META_KEY),
        "best_value": None,
        "best_params": None,
        "best_trial": None,
    }
    if any(t.state == TrialState.COMPLETE for t in trials):
        best = study.best_trial
        out.update(best_value=best.value, best_params=best.params, best_trial=best.number)
    return out


def best_estimator(study, data=None, *, storage=None, fit: bool = True):
    """The model of a study with its best parameters, fitted on ``data``.

    Parameters
    ----------
    study : optuna.study.Study or str
        A study, or a study name (then ``storage`` locates it; see :func:`open_storage`).
    data : path or (X, y, groups), optional
        Training data; by default the QuakeSet file, split, mode and pool recorded in the study.
    storage : optional
        Storage of a study given by name.
    fit : bool
        Return the unfitted estimator when False.
    """
    import optuna
    from optuna.trial import TrialState

    from ..models import create_model

    if isinstance(study, str):
        rdb = open_storage(storage)
        try:
            study = optuna.load_study(study_name=study, storage=rdb)
        except KeyError:
            raise KeyError(f"no study named {study!r} in {mask_url(getattr(rdb, 'url', storage))}") from None
    meta = study.user_attrs.get(_META_KEY)
    if meta is None:
        raise ValueError(f"study {study.study_name!r} was not created by skquake tune (no {_META_KEY!r} user attribute)")
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise ValueError(f"study {study.study_name!r} has no complete trial yet; no best parameters to use")
    estimator = create_model(meta["model"], **meta.get("params", {}))
    estimator.set_params(**study.best_params)
    if not fit:
        return estimator
    if data is None:
        data = meta["data"]
        if not Path(str(data)).is_file():
            raise FileNotFoundError(f"the study's data file {data!r} is not here; pass data=")
    X, y, _, _ = _load_data(data, task=meta["task"], split=meta["split"], mode=meta["mode"], pool=meta["pool"],
                            lazy=meta.get("lazy", False))
    return estimator.fit(X, y)


# --------------------------------------------------------------------------- command line
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
    p.add_argument("--split", default="train", choices=["train", "val", "test", "all"])
    p.add_argument("--mode", default="bitemporal", choices=["bitemporal", "single"])
    p.add_argument("--pool", type=int, default=1, help="average-pool factor for the images (default 1)")
    p.add_argument("--lazy", action="store_true", help="read images per batch instead of loading the file (deep nets)")
    p.add_argument("--cv", type=int, default=3, help="GroupKFold splits by event (default 3)")
    p.add_argument("--scoring", default=None, help="scorer name (default: mae for magnitude, accuracy for detection)")
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


def main(argv=None) -> int:
    """``skquake tune``: see ``skquake tune --help``."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

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
            text = _scrub(text, storage)
        print(text, file=sys.stderr)
        return 1
    summary = study_summary(study)
    summary["storage"] = mask_url(getattr(study._storage, "url", storage or ""))
    summary["this_worker_trials"] = getattr(study, "_skquake_worker_trials", [])
    if args.refit:
        import joblib

        estimator = best_estimator(study)
        out = Path(args.refit)
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        joblib.dump(estimator, tmp)
        os.replace(tmp, out)
        summary["refit"] = str(out)
    if args.json:
        print(json.dumps(summary, indent=2, default=repr))
    else:
        print(f"study {summary['study_name']!r} in {summary['storage']}")
        print(
            f"  trials: {summary['n_trials']} ({summary['complete']} complete, {summary['pruned']} pruned, "
            f"{summary['fail']} failed, {summary['running']} running, {summary['waiting']} waiting); "
            f"this run: {len(summary['this_worker_trials'])}"
        )
        if summary["best_trial"] is not None:
            print(f"  best: trial {summary['best_trial']} score {summary['best_value']:.6g} params {summary['best_params']}")
        if args.refit:
            print(f"  refitted estimator saved to {summary['refit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
