"""Studies in an RDB storage: create or resume without overwriting, fail dead workers' trials.

Loss-free resumption rests on Optuna's RDB heartbeat: every running trial refreshes a
timestamp; a trial whose worker died (``kill -9``, lost machine) goes stale after
``grace_period`` seconds, is marked ``FAIL`` by whichever worker looks next and re-queued once
with the same parameters. A live worker's trial is never failed, so any number of workers can
be started and stopped against one study. Only ``COMPLETE`` and ``PRUNED`` trials count.
"""
from __future__ import annotations

import time
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.study import StudyDirection
from optuna.trial import TrialState

from ._storage import describe_storage

__all__ = ["META_KEY", "count", "fail_beatless_trials", "find_study", "load_or_create_study",
           "study_summary"]

#: Name of the study user attribute that records what a study tunes (checked on resume).
META_KEY = "skquake"
#: Keys of the record that may differ on resume: the data file and the epicentre table may sit
#: elsewhere on another machine (their names are compared), and another skquake version may
#: resume a study.
_FREE_KEYS = ("data", "epicentres", "version")


def count(trials, *states) -> int:
    """How many of ``trials`` are in one of ``states``."""
    return sum(t.state in states for t in trials)


def load_or_create_study(storage, study_name, meta, sampler, pruner):
    """Create the study or load the existing one; never delete or overwrite it.

    Parameters
    ----------
    storage : optuna storage
        Where the study lives.
    study_name : str
        Its name.
    meta : dict
        What the study tunes, stored in the user attribute ``META_KEY`` of a new study and
        compared with that of an existing one.
    sampler, pruner :
        Optuna sampler and pruner (None for Optuna's defaults).

    Raises
    ------
    ValueError
        The existing study does not maximise, was not created by skquake, or tunes another
        setup; the message names the difference and the study is left untouched.
    """
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
    existing = study.user_attrs.get(META_KEY)
    if existing is None:
        if study.trials:
            raise ValueError(
                f"study {study_name!r} already has {len(study.trials)} trial(s) but was not created by "
                "skquake tune; use another --study-name (the existing study is left untouched)"
            )
        study.set_user_attr(META_KEY, meta)
        return study
    diff = [
        f"{key}: study has {existing.get(key)!r}, this run has {meta.get(key)!r}"
        for key in sorted(set(meta) | set(existing))
        if key not in _FREE_KEYS and existing.get(key) != meta.get(key)
    ]
    for key in ("data", "epicentres"):
        if Path(str(existing.get(key))).name != Path(str(meta.get(key))).name:
            diff.append(f"{key}: study has {existing.get(key)!r}, this run has {meta.get(key)!r}")
    if diff:
        raise ValueError(
            f"study {study_name!r} was created for a different setup ({'; '.join(diff)}); "
            "use another --study-name to start a new study (the existing study is left untouched)"
        )
    return study


def find_study(storage, study_name, meta, sampler, pruner):
    """The existing study ``study_name`` checked against ``meta`` (see :func:`load_or_create_study`),
    or None when the storage holds no study of that name; creates nothing."""
    try:
        storage.get_study_id_from_name(study_name)
    except KeyError:
        return None
    return load_or_create_study(storage, study_name, meta, sampler, pruner)


def fail_beatless_trials(study, first_seen: dict, grace_period: float) -> None:
    """Fail running trials that have had no heartbeat at all for ``grace_period`` seconds.

    Optuna's stale-trial check skips trials without a heartbeat row, so a worker killed
    between creating a trial and its first heartbeat (a few milliseconds) would leave that
    trial RUNNING for ever. A live worker writes the first heartbeat as soon as the trial
    exists; one still missing after the grace period, measured on this worker's own clock
    from when it first saw the trial (no clock skew between machines), is dead.

    Parameters
    ----------
    study : optuna.study.Study
        A study on an RDB storage (anything else is left alone).
    first_seen : dict
        Trial id -> when this worker first saw it without heartbeat (``time.monotonic``);
        kept by the caller between calls.
    grace_period : float
        Seconds.
    """
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


def study_summary(study) -> dict:
    """Counts by state, best value and parameters of a study (JSON-serialisable).

    Parameters
    ----------
    study : optuna.study.Study

    Returns
    -------
    dict
        ``study_name``, ``storage`` (its URL with the password masked, or what kind of storage it
        is: :func:`~skquake.tuning.describe_storage`), ``n_trials``, one count per trial state
        (``complete``, ``pruned``, ``fail``, ``running``, ``waiting``), ``meta`` (what skquake
        recorded), ``best_value``, ``best_params`` and ``best_trial`` (None without a complete
        trial).
    """
    trials = study.get_trials(deepcopy=False)
    out = {
        "study_name": study.study_name,
        "storage": describe_storage(study._storage),
        "n_trials": len(trials),
        **{state.name.lower(): count(trials, state) for state in TrialState},
        "meta": study.user_attrs.get(META_KEY),
        "best_value": None,
        "best_params": None,
        "best_trial": None,
    }
    if any(t.state == TrialState.COMPLETE for t in trials):
        best = study.best_trial
        out.update(best_value=best.value, best_params=best.params, best_trial=best.number)
    return out

