"""``tune``: run or resume a shared Optuna study of a registered model; ``best_estimator``."""
from __future__ import annotations

import logging
import os
import time
import warnings
from contextlib import contextmanager
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.trial import TrialState
from sklearn.model_selection import GroupKFold

from ..datasets import MODES, SPLITS
from ..models import create_model, get_model_spec
from ..utils import Interval, StrictInterval, StrOptions, validate_params
from ._data import load_data
from ._objective import Objective
from ._search import check_params, resolve_scorer, resolve_space
from ._setup import check_setup, study_meta
from ._storage import describe_storage, hide_secrets, open_storage, rdb_url, storage_url
from ._study import META_KEY, count, fail_beatless_trials, find_study, load_or_create_study

__all__ = ["best_estimator", "tune"]

_POSITIVE = StrictInterval(Integral, 1, None, closed="left")


@validate_params(
    {
        "model": [str],
        "data": [str, os.PathLike, tuple, list],
        "n_trials": [_POSITIVE],
        "storage": [str, os.PathLike, BaseStorage, None],
        "study_name": [str, None],
        "split": [StrOptions(set(SPLITS))],
        "mode": [StrOptions(set(MODES))],
        "pool": [_POSITIVE],
        "lazy": ["boolean"],
        "epicentres": [str, os.PathLike, None],
        "cv": [StrictInterval(Integral, 2, None, closed="left")],
        "scoring": [str, callable, None],
        "param_space": [Mapping, list, tuple, None],
        "params": [Mapping, None],
        "enqueue": [list, tuple],
        "timeout": [Interval(Real, 0, None, closed="left"), None],
        "random_state": [Integral],
        "sampler": [BaseSampler, None],
        "pruner": [BasePruner, None],
        "pruning": ["boolean"],
        "max_failures": [_POSITIVE],
        "callbacks": [list, tuple],
    },
    prefer_skip_nested_validation=False,
)
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
    epicentres=None,
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

    A study is recorded only for a setup that works: everything its trials share (cv against
    the events in the data, fixed values, the ends of the search space, queued sets, the
    scorer) is checked before the storage is written to, and the first trial of a new study
    runs in memory; the study is created with that trial once it finished. A setup that
    fails leaves nothing in the storage, so the corrected call is not refused as "a different
    setup".

    Parameters
    ----------
    model : str
        Registry name (``skquake.list_models()``).
    data : path or (X, y, groups)
        A QuakeSet HDF5 file or a cache folder of it (read with
        :func:`skquake.datasets.load_quakeset`, target by the model's task) or arrays with event
        ids as ``groups``.
    n_trials : int
        Total ``COMPLETE`` + ``PRUNED`` trials the study should hold when this call returns.
    storage : str, path, optuna storage or None
        See :func:`open_storage`; default ``sqlite:///<cwd>/skquake-optuna.db``. In-memory
        SQLite URLs are refused (a study there cannot be resumed and loses every trial). The
        storage is used inside :func:`~skquake.tuning._secrets.hide_secrets`: no exception, log
        record, warning or thread traceback shows its password.
    study_name : str, optional
        Default ``"<model>-<mode>-<data file stem>"``. An existing study of that name is
        resumed (never deleted or overwritten); it must tune the same model, task, target,
        mode, split, pool, scoring, cv, parameters and data file name.
    split, mode, pool :
        Passed to ``load_quakeset`` (``split="train"`` keeps val/test out of the search).
    lazy : bool
        Read the file as a :class:`skquake.datasets.LazyImages` view (deep nets; pixels are read
        per batch) instead of loading it into memory.
    epicentres : path, optional
        Epicentre models on a QuakeSet file: the epicentre table (CSV or Parquet, the columns
        of :data:`skquake.datasets.EPICENTRE_TABLE_COLUMNS`) for a file without epicentre
        attributes, as :func:`skquake.datasets.load_epicentre` reads it (``table=``). Recorded in
        the study (by file name, like the data file): a study resumed with another table is
        refused.
    cv : int
        ``GroupKFold`` splits by event.
    scoring : str or callable, optional
        Scorer name for :func:`skquake.metrics.get_scorer`; default by task
        (:func:`default_scoring`: ``"neg_mae"`` for magnitude, ``"accuracy"`` for detection).
        The study maximises it: scorers are greater-is-better, a loss is scored as
        ``"neg_<name>"`` (``"neg_mae"`` is the negative MAE).
    param_space : mapping or sequence of str, optional
        Optuna distributions; default the registry's (``get_search_space(model, "optuna")``),
        a sequence of names keeps only those.
    params : mapping, optional
        Fixed overrides for the model's factory (``{"max_epochs": 3}``). A fixed parameter
        (and whatever routes into it: ``pca`` fixes ``pca__n_components``) holds its value in
        every trial: it is taken out of the search space, and may lie outside its bounds.
        Fixing a parameter that ``param_space`` names is an error.
    enqueue : sequence of mappings
        Parameter sets to try first (e.g. the paper's recipe), of tuned parameters only; each
        is queued once per study (``enqueue_trial(..., skip_if_exists=True)``), so resuming does
        not queue it again.
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

    Raises
    ------
    ValueError
        A setup that cannot work (a parameter the model does not have or refuses, more folds
        than events, an in-memory storage) or a study of that name with another setup; nothing
        is written to the storage.
    StorageError
        The storage cannot be opened or fails; the message shows its URL with the password
        masked and no part of the password.
    """
    spec = get_model_spec(model)
    params = dict(params or {})
    base = create_model(model)
    check_params(model, params, base)
    space = resolve_space(model, param_space, "optuna", fixed=params)
    check_params(model, space, base)
    estimator = create_model(model, **params) if params else base
    scorer = resolve_scorer(scoring, spec.task)
    for fixed in enqueue:
        check_params(model, fixed, base)
    # The storage argument is read (in-memory SQLite refused, driver found) before the data.
    target = storage if isinstance(storage, BaseStorage) else storage_url(storage)
    X, y, groups, data_path = load_data(data, task=spec.task, split=split, mode=mode, pool=pool, lazy=lazy,
                                         epicentres=epicentres)
    data_desc = data_path if data_path is not None else f"arrays{tuple(np.shape(X))}"
    source = f"split {split!r} of {data_path}" if data_path is not None else "the data"
    check_setup(model, estimator, space, enqueue, scorer, scoring, groups, int(cv), source)
    meta = study_meta(model, spec, data_desc, mode=mode, split=split, pool=pool, lazy=lazy, cv=cv,
                      scoring=scoring, params=params, space=space)
    if epicentres is not None:
        meta["epicentres"] = str(Path(os.fspath(epicentres)).expanduser().resolve())
    if study_name is None:
        stem = Path(data_path).stem if data_path else "arrays"
        study_name = f"{model}-{mode}-{stem}"
    if pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if pruning else optuna.pruners.NopPruner()
    objective = Objective(estimator, space, X, y, groups, GroupKFold(n_splits=int(cv)), scorer, epoch_reports=pruning)
    loop = dict(deadline=None if timeout is None else time.monotonic() + float(timeout), sampler=sampler,
                random_state=random_state, heartbeat_interval=heartbeat_interval, max_failures=max_failures)

    with hide_secrets(rdb_url(target) if isinstance(target, BaseStorage) else target):
        rdb = open_storage(
            target, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
            max_retry=max_retry, connect_timeout=connect_timeout,
        )
        study = find_study(rdb, study_name, meta, sampler, pruner)
        ran = []
        if study is None:
            study, ran = _record_with_first_trial(rdb, study_name, meta, sampler, pruner, objective, enqueue,
                                                  callbacks, loop)
        for fixed in enqueue:
            study.enqueue_trial(dict(fixed), skip_if_exists=True)
        ran += _run_trials(study, objective, rdb, n_trials=n_trials, callbacks=callbacks, **loop)
    # What this call ran (other workers may have run the rest), for the CLI summary.
    study._skquake_worker_trials = [t.number for t in ran]
    return study


@contextmanager
def _quiet(logger_name: str):
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _record_with_first_trial(rdb, study_name, meta, sampler, pruner, objective, enqueue, callbacks, loop):
    """Run a new study's first trials in memory; record the study with the first that finished.

    A study records its setup, and a resumed study must have the same; a study recorded before
    any trial of its setup finished could lock in a setup that does not work (a value a fit
    refuses, a scorer the model cannot serve). Its first trial therefore runs in memory: if it
    raises, the storage holds nothing and the corrected command starts afresh; once it
    finished, the study is created (or, if another worker created it meanwhile, loaded and
    checked) and the trial copied into it.

    Returns
    -------
    (study, [the copied trial])
    """
    memory = optuna.storages.InMemoryStorage()
    with _quiet("optuna.storages._in_memory"):  # "A new study created in memory" would mislead
        trial_study = optuna.create_study(storage=memory, study_name=study_name, direction="maximize",
                                          sampler=sampler, pruner=pruner)
    for fixed in enqueue:
        trial_study.enqueue_trial(dict(fixed))
    ran = _run_trials(trial_study, objective, memory, n_trials=1, callbacks=(), **loop,
                      note="; nothing was written to the storage (a study is recorded with its first finished trial)")
    finished = [t for t in ran if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if not finished:
        raise RuntimeError(
            f"the timeout ended before a first trial of study {study_name!r} finished; the study is recorded "
            "with its first finished trial, so nothing was written to the storage"
        )
    study = load_or_create_study(rdb, study_name, meta, sampler, pruner)
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=finished[0])
    first = study._storage.get_trial(trial_id)
    for callback in callbacks:
        callback(study, first)
    return study, [first]


def _run_trials(study, objective, rdb, *, n_trials, deadline, sampler, random_state, heartbeat_interval,
                max_failures, callbacks, note="") -> list:
    """Run trials one at a time until the study holds ``n_trials`` finished ones (or ``deadline``,
    a ``time.monotonic`` value, passed); the trials run. ``note`` ends the message of too many
    failures in a row."""
    # Without a heartbeat (an in-memory storage) RUNNING trials of dead workers cannot be told
    # apart from live ones, so they are not waited for.
    heartbeat = getattr(rdb, "heartbeat_interval", None) is not None
    poll = max(1.0, float(heartbeat_interval) / 2)
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
            fail_beatless_trials(study, beatless, rdb.grace_period or 2 * heartbeat_interval)
        trials = study.get_trials(deepcopy=False)
        done = count(trials, TrialState.COMPLETE, TrialState.PRUNED)
        running = count(trials, TrialState.RUNNING) if heartbeat else 0
        if done >= n_trials or (deadline is not None and time.monotonic() >= deadline):
            return ran
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
                    f"{failures} trials of study {study.study_name!r} failed in a row (last: trial {last.number}, "
                    f"{last.system_attrs.get('fail_reason', 'see the log')}); stopping{note}"
                )
        else:
            failures = 0


@validate_params(
    {
        "study": [optuna.study.Study, str],
        "data": [str, os.PathLike, tuple, list, None],
        "storage": [str, os.PathLike, BaseStorage, None],
        "fit": ["boolean"],
    },
    prefer_skip_nested_validation=False,
)
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

    Returns
    -------
    estimator
    """
    if isinstance(study, str):
        target = storage if isinstance(storage, BaseStorage) else storage_url(storage)
        with hide_secrets(rdb_url(target) if isinstance(target, BaseStorage) else target):
            rdb = open_storage(target)
            try:
                study = optuna.load_study(study_name=study, storage=rdb)
            except KeyError:
                raise KeyError(f"no study named {study!r} in {describe_storage(rdb)}") from None
    meta = study.user_attrs.get(META_KEY)
    if meta is None:
        raise ValueError(f"study {study.study_name!r} was not created by skquake tune (no {META_KEY!r} user attribute)")
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise ValueError(f"study {study.study_name!r} has no complete trial yet; no best parameters to use")
    estimator = create_model(meta["model"], **meta.get("params", {}))
    estimator.set_params(**study.best_params)
    if not fit:
        return estimator
    if data is None:
        data = meta["data"]
        if not Path(str(data)).exists():  # a QuakeSet file or a cache folder
            raise FileNotFoundError(f"the study's data file {data!r} is not here; pass data=")
    X, y, _, _ = load_data(data, task=meta["task"], split=meta["split"], mode=meta["mode"], pool=meta["pool"],
                           lazy=meta.get("lazy", False))
    return estimator.fit(X, y)
