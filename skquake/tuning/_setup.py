"""What a study tunes: the record kept in the study, and the checks run before anything is stored.

A study records its setup (model, data, cv, scoring, fixed parameters, tuned names) and refuses
to be resumed with another one. So that a mistyped setting never leaves a study recorded for
it, everything every trial shares is checked here, before the storage is written to: the
number of folds against the events in the data, every fixed value, both ends of every range and
every choice of the search space, every queued parameter set (against the estimators'
``_parameter_constraints``), and the scorer against the model's methods. What only a fit can
tell is checked by the first trial, which runs before the study is recorded (``_tune``).
"""
from __future__ import annotations

import json

import numpy as np
from optuna.distributions import CategoricalDistribution
from sklearn.base import BaseEstimator, clone

from .._version import __version__
from ._data import TARGETS
from ._search import default_scoring

__all__ = ["check_setup", "study_meta"]


def study_meta(model, spec, data_desc, *, mode, split, pool, lazy, cv, scoring, params, space) -> dict:
    """What a study tunes, recorded in the study and compared when it is resumed."""
    if scoring is None:
        scoring = default_scoring(spec.task)
    elif not isinstance(scoring, str):
        scoring = getattr(scoring, "__name__", repr(scoring))
    return {
        "model": model,
        "task": spec.task,
        "target": TARGETS[spec.task],
        "mode": mode,
        "split": split,
        "pool": int(pool),
        "lazy": bool(lazy),
        "cv": int(cv),
        "scoring": scoring,
        "params": json.loads(json.dumps(params, default=repr)),
        "space": sorted(space),
        "data": data_desc,
        "version": __version__,
    }


def _validate(estimator) -> None:
    """Check the values of ``estimator`` and of every estimator inside it against their constraints."""
    parts = [estimator, *(v for v in estimator.get_params(deep=True).values() if isinstance(v, BaseEstimator))]
    for part in parts:
        if hasattr(part, "_parameter_constraints"):
            part._validate_params()


def _check_values(model, estimator, values: dict, what: str) -> None:
    try:
        _validate(clone(estimator).set_params(**values) if values else estimator)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"model {model!r}: {what} is not valid: {exc}") from None


def _candidates(dist) -> list:
    """The values of an Optuna distribution a check covers: every choice, or both ends of a range."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]


def _response_methods(scorer) -> tuple:
    metric = getattr(scorer, "metric", None)  # skquake's registry scorers
    methods = metric.response_method if metric is not None else getattr(scorer, "_response_method", None)
    return (methods,) if isinstance(methods, str) else tuple(methods or ())


def check_setup(model, estimator, space, enqueue, scorer, scoring, groups, cv, source) -> None:
    """Raise ``ValueError`` for anything every trial of the study would fail on.

    Parameters
    ----------
    model : str
        Registry name (for the messages).
    estimator : estimator
        The model with its fixed parameters.
    space : dict
        Tuned parameter name -> Optuna distribution.
    enqueue : sequence of mappings
        Parameter sets queued before sampling.
    scorer : callable
        The study's scorer; ``scoring`` is its name as given (for the messages).
    groups : array-like
        The event id of each sample.
    cv : int
        Number of ``GroupKFold`` splits.
    source : str
        What the data are (for the messages).
    """
    n_events = np.unique(np.asarray(groups)).size
    if cv > n_events:
        raise ValueError(
            f"cv={cv}: the folds split by event and {source} holds {n_events} event(s); "
            + (f"pass a cv between 2 and {n_events}" if n_events >= 2 else "cross-validation needs at least 2")
        )
    _check_values(model, estimator, {}, "a fixed parameter")
    for name, dist in space.items():
        for value in _candidates(dist):
            _check_values(model, estimator, {name: value}, f"the search space's value {name}={value!r}")
    for i, values in enumerate(enqueue):
        not_tuned = [name for name in values if name not in space]
        if not_tuned:
            raise ValueError(
                f"enqueue[{i}] sets {', '.join(map(repr, not_tuned))}, which the study does not tune "
                f"(tuned: {', '.join(space)}); queue only tuned parameters (a fixed one keeps its value "
                "in every trial)"
            )
        _check_values(model, estimator, dict(values), f"enqueue[{i}] {dict(values)!r}")
    methods = _response_methods(scorer)
    if methods and not any(hasattr(estimator, m) for m in methods):
        raise ValueError(
            f"scoring {scoring!r} needs the model's {' or '.join(methods)}, which model {model!r} "
            f"({type(estimator).__name__}) does not have"
        )
