"""Search objects for registered models: scorers, parameter checks, spaces and ``*SearchCV``."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import optuna
from optuna_integration import OptunaSearchCV
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from ..metrics import get_metric, get_scorer
from ..models import TASKS, create_model, get_model_spec, get_search_space
from ..utils import Interval, StrictInterval, StrOptions, validate_params

__all__ = ["check_params", "default_scoring", "is_fixed", "make_search_cv", "resolve_scorer", "resolve_space"]

#: Model-registry task -> the registered metric a search optimises when no scoring is given.
_DEFAULT_METRIC = {"magnitude": "mae", "detection": "accuracy", "change": "change_iou_quake",
                  "epicentre": "epicentre_error_km", "damage": "accuracy"}


@validate_params({"task": [StrOptions(set(TASKS))]}, prefer_skip_nested_validation=True)
def default_scoring(task: str) -> str:
    """Scorer name used when none is given: ``"neg_mae"`` for magnitude, ``"accuracy"`` otherwise.

    The name is the scikit-learn style scorer name of the task's default metric in the metric
    registry (:func:`skquake.metrics.get_metric`): a loss is scored as ``"neg_<name>"``.

    Parameters
    ----------
    task : {"detection", "magnitude", "damage"}
        A model-registry task.

    Returns
    -------
    str

    Examples
    --------
    >>> default_scoring("magnitude"), default_scoring("detection")
    ('neg_mae', 'accuracy')
    """
    return get_metric(_DEFAULT_METRIC[task]).scorer_name


def resolve_scorer(scoring, task: str):
    """``scoring`` as a scorer (a name for :func:`skquake.metrics.get_scorer`, or a callable);
    the task's default when None."""
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


def is_fixed(name: str, fixed) -> bool:
    """Whether parameter ``name`` is one of ``fixed`` or routes into one (``pca__n_components`` when ``pca`` is fixed)."""
    return any(name == f or name.startswith(f + "__") for f in fixed)


def resolve_space(model: str, param_space, kind: str, fixed=()) -> dict:
    """The search space to use: the registry's, a subset of it by name, or ``param_space`` itself,
    without the ``fixed`` parameters.

    A fixed parameter holds the same value in every candidate, so it is taken out of the space:
    left in, every candidate's drawn value would replace the fixed one while the search records
    the fixed value. Its value need not lie within the space's bounds. Asking to both tune
    (``param_space``) and fix a parameter is an error, as is fixing every parameter of the space.
    """
    if param_space is None:
        space = get_search_space(model, kind)
        if not space:
            raise ValueError(f"model {model!r} has no search space in the registry; pass param_space")
    elif isinstance(param_space, Mapping):
        space = dict(param_space)
    else:
        full = get_search_space(model, kind)
        missing = [name for name in param_space if name not in full]
        if missing:
            raise ValueError(
                f"parameter(s) {', '.join(map(repr, missing))} not in the search space of model {model!r}; "
                f"its search space has: {', '.join(full) or '(nothing)'}"
            )
        space = {name: full[name] for name in param_space}
    both = [name for name in space if is_fixed(name, fixed)]
    if param_space is not None and both:
        raise ValueError(
            f"parameter(s) {', '.join(map(repr, both))} of model {model!r} are both fixed (params, --set) and "
            "tuned (param_space, --param); fix them or tune them"
        )
    tuned = {name: dist for name, dist in space.items() if name not in both}
    if not tuned:
        raise ValueError(
            f"the fixed parameters ({', '.join(map(repr, fixed))}) cover the whole search space of model "
            f"{model!r} ({', '.join(space)}): nothing is left to tune; fix fewer parameters"
        )
    return tuned


@validate_params(
    {
        "model": [str],
        "search": [StrOptions({"grid", "optuna"})],
        "param_space": [Mapping, list, tuple, None],
        "params": [Mapping, None],
        "cv": [StrictInterval(Integral, 2, None, closed="left")],
        "scoring": [str, callable, None],
        "n_trials": [StrictInterval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "timeout": [Interval(Real, 0, None, closed="left"), None],
        "refit": ["boolean", str, callable],
        "random_state": ["random_state"],
        "error_score": [StrOptions({"raise"}), Real],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=False,
)
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
        Fixed parameters passed to the model's factory (``{"max_epochs": 2}``): every candidate
        keeps them (they are taken out of the search space, and may lie outside its bounds).
    cv : int
        Number of ``GroupKFold`` splits (by event).
    scoring : str or callable, optional
        Scorer name for :func:`skquake.metrics.get_scorer` (``"neg_mae"``, ``"spearman"``,
        ``"accuracy"``, ...); default by task (:func:`default_scoring`).
    n_trials : int
        ``OptunaSearchCV`` only: number of trials.
    n_jobs : int, optional
        Parallel candidates (``GridSearchCV``) or parallel trials (``OptunaSearchCV``).
    study : optuna.study.Study, optional
        ``OptunaSearchCV`` only: a study to run the trials in (e.g. on a shared storage).
    timeout : float, optional
        ``OptunaSearchCV`` only: a time limit in seconds.
    refit : bool
        Refit the best parameters on all the data (``best_estimator_``).
    random_state : int or None
        Seeds the optuna sampler (seed the model itself through ``params``).
    error_score : "raise" or float
        As in scikit-learn; ``"raise"`` so that a broken candidate is not silently skipped.
    verbose : int
        Verbosity of the search.

    Returns
    -------
    sklearn.model_selection.GridSearchCV or optuna_integration.OptunaSearchCV
    """
    spec = get_model_spec(model)
    params = dict(params or {})
    check_params(model, params)
    estimator = create_model(model, **params)
    space = resolve_space(model, param_space, search, fixed=params)
    check_params(model, space, estimator)
    scorer = resolve_scorer(scoring, spec.task)
    splitter = GroupKFold(n_splits=int(cv))
    if search == "grid":
        return GridSearchCV(
            estimator, space, scoring=scorer, cv=splitter, n_jobs=n_jobs, refit=refit,
            error_score=error_score, verbose=verbose,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return OptunaSearchCV(
            estimator, space, cv=splitter, scoring=scorer, n_trials=n_trials, n_jobs=n_jobs or 1,
            study=study, timeout=timeout, refit=refit, random_state=random_state,
            error_score=error_score, verbose=verbose,
        )
