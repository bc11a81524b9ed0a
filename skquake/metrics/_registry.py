"""One metric registry, read by the scorers, the benchmark's tables and plots, selection on
validation and tuning.

A metric is registered once, with its function, the estimator method its input comes from
(``predict``, ``predict_proba`` or ``predict_interval``), its direction and its label, in the
manner of timm's model registry::

    @register_metric("mae", label="MAE", greater_is_better=False, tasks=("magnitude",))
    def mean_absolute_error(y_true, y_pred):
        ...

Scorer names follow scikit-learn's convention: a metric where greater is better is scored under
its own name (``"spearman"``); a loss is scored under ``"neg_<name>"`` (``"neg_mae"`` returns
``-MAE``), so that greater is better for every scorer and no plain name returns a negated value.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from sklearn import metrics as _skm

__all__ = ["MetricSpec", "compute_metrics", "get_metric", "get_scorer", "get_scorer_names", "list_metrics",
           "metric_probabilities", "needs_proba", "register_metric"]

_RESPONSE_METHODS = ("predict", "predict_proba", "predict_interval")
_REGISTRY: dict[str, "MetricSpec"] = {}


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric.

    Attributes
    ----------
    name : str
        Registry name, the key of the metric in benchmark rows (``"mae"``).
    func : callable
        ``func(y_true, y_pred)``; for ``response_method="predict_proba"``,
        ``func(y_true, y_proba, labels)`` with one column of ``y_proba`` per entry of ``labels``;
        for ``response_method="predict_interval"``, ``func(y_true, y_interval)`` with the
        ``(n, 2)`` lower / upper bounds.
    greater_is_better : bool or None
        Direction: the tables' arrows, "best" in plots and selection, the scorer's sign.
        ``None``: a statistic with no better direction (e.g. the fraction of pixels a change
        detector flags), reported in tables without an arrow and never a scorer.
    response_method : {"predict", "predict_proba", "predict_interval"}
        Which estimator method gives the metric's input.
    label : str
        Column title in tables and axis label in plots.
    tasks : tuple of str
        The model-registry tasks (``"detection"``, ``"magnitude"``, ``"damage"``) it is meant for.
    """

    name: str
    func: Callable
    greater_is_better: bool | None
    response_method: str
    label: str
    tasks: tuple

    @property
    def scorer_name(self) -> str:
        """The name :func:`get_scorer` knows it by: ``name`` or ``"neg_" + name`` for a loss."""
        return f"neg_{self.name}" if self.greater_is_better is False else self.name

    @property
    def needs_proba(self) -> bool:
        return self.response_method == "predict_proba"

    def compute(self, y_true, y_pred=None, y_proba=None, classes=None, y_interval=None) -> float:
        """The metric's value (a loss stays a loss) from predictions already made.

        For a probability metric, ``y_proba`` and the ``classes`` of its columns are needed; NaN
        when they are absent (a model without ``predict_proba``). An interval metric reads
        ``y_interval``, the ``(n, 2)`` bounds; NaN when absent (a model without intervals).
        """
        if self.response_method == "predict_interval":
            if y_interval is None:
                return float("nan")
            return float(self.func(np.asarray(y_true), np.asarray(y_interval)))
        if self.needs_proba:
            if y_proba is None:
                return float("nan")
            return float(self.func(np.asarray(y_true), np.asarray(y_proba), np.asarray(classes)))
        return float(self.func(np.asarray(y_true), np.asarray(y_pred)))

    def from_estimator(self, estimator, X, y) -> float:
        """The metric's value for a fitted ``estimator`` on ``(X, y)`` (a loss stays a loss)."""
        if self.needs_proba:
            classes = np.asarray(estimator.classes_)
            return self.compute(y, y_proba=estimator.predict_proba(X), classes=classes)
        if self.response_method == "predict_interval":
            if not hasattr(estimator, "predict_interval"):
                raise ValueError(
                    f"metric {self.name!r} reads prediction intervals, and {type(estimator).__name__} has "
                    "no predict_interval; wrap the model in skquake.uncertainty.ConformalRegressor")
            return self.compute(y, y_interval=estimator.predict_interval(X))
        return self.compute(y, y_pred=estimator.predict(X))

    def scorer(self) -> "_Scorer":
        """A scikit-learn scorer ``scorer(estimator, X, y)``, negated for a loss."""
        return _Scorer(self)


class _Scorer:
    """``scorer(estimator, X, y)`` for a registered metric: greater is better.

    scikit-learn's ``make_scorer`` cannot pass the estimator's ``classes_`` to a probability
    metric, which the damage metrics need (a fold may lack a class), hence this small class.
    """

    def __init__(self, metric: MetricSpec):
        if metric.greater_is_better is None:
            raise ValueError(f"metric {metric.name!r} is a statistic with no better direction; it cannot be a "
                             "scorer (nothing to maximise)")
        self.metric = metric
        self._sign = 1 if metric.greater_is_better else -1

    def __call__(self, estimator, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"scorer {self.metric.scorer_name!r} does not take sample weights")
        return self._sign * self.metric.from_estimator(estimator, X, y)

    def __repr__(self):
        return f"skquake_scorer({self.metric.scorer_name!r})"


def register_metric(
    name: str,
    *,
    label: str,
    greater_is_better: bool | None = True,
    response_method: str = "predict",
    tasks: Sequence[str] = (),
):
    """Decorator that registers a metric function under ``name`` (a second one is an error).

    ``greater_is_better=None`` registers a statistic with no better direction (see
    :class:`MetricSpec`)."""
    if response_method not in _RESPONSE_METHODS:
        raise ValueError(f"response_method of metric {name!r} must be one of {_RESPONSE_METHODS}, "
                         f"got {response_method!r}")
    if name.startswith("neg_"):
        raise ValueError(f"metric name {name!r} must not start with 'neg_': the scorer adds it for losses")

    def decorator(func):
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is already registered")
        direction = None if greater_is_better is None else bool(greater_is_better)
        _REGISTRY[name] = MetricSpec(name=name, func=func, greater_is_better=direction,
                                     response_method=response_method, label=label, tasks=tuple(tasks))
        return func

    return decorator


def list_metrics(task: str | None = None) -> list[str]:
    """Names of the registered metrics (of one model-registry task), in registration order."""
    return [n for n, m in _REGISTRY.items() if task is None or task in m.tasks]


def get_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` registered under ``name`` (``KeyError`` naming close matches)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown metric {name!r}{hint} (registered: {', '.join(_REGISTRY)})") from None


def needs_proba(names) -> bool:
    """Whether any of the registered metrics ``names`` reads ``predict_proba``."""
    return any(get_metric(name).needs_proba for name in names)


def metric_probabilities(estimator, X, names):
    """``(proba, classes)`` of a fitted ``estimator`` on ``X`` when one of the metrics ``names``
    needs them and it has ``predict_proba``, else ``(None, None)`` (no needless predict_proba)."""
    if not needs_proba(names) or not hasattr(estimator, "predict_proba"):
        return None, None
    return np.asarray(estimator.predict_proba(X)), np.asarray(estimator.classes_)


def compute_metrics(names, y_true, y_pred=None, y_proba=None, classes=None, y_interval=None) -> dict:
    """Metric name -> value of the registered metrics ``names``, from predictions already made.

    Losses stay losses (as :meth:`MetricSpec.compute`); a probability metric without
    ``y_proba``, or an interval metric without ``y_interval``, is NaN.

    Examples
    --------
    >>> compute_metrics(["mae", "rmse"], [1.0, 2.0], [1.5, 2.0])
    {'mae': 0.25, 'rmse': 0.3535533905932738}
    """
    return {name: get_metric(name).compute(y_true, y_pred, y_proba, classes, y_interval) for name in names}


def _scorer_index() -> dict:
    return {m.scorer_name: m for m in _REGISTRY.values() if m.greater_is_better is not None}


def get_scorer_names() -> list[str]:
    """skquake's scorer names followed by scikit-learn's."""
    ours = list(_scorer_index())
    return ours + [n for n in _skm.get_scorer_names() if n not in ours]


def get_scorer(scoring):
    """A scorer by name: skquake's registered metrics first, then scikit-learn's.

    Parameters
    ----------
    scoring : str or callable
        A scorer name (``"neg_mae"``, ``"spearman"``, ``"roc_auc_macro"``, or any name of
        :func:`sklearn.metrics.get_scorer_names`), or a scorer (returned as is).

    Returns
    -------
    callable ``scorer(estimator, X, y)``; greater is better.
    """
    if callable(scoring):
        return scoring
    index = _scorer_index()
    if scoring in index:
        return index[scoring].scorer()
    loss = _REGISTRY.get(scoring)
    if loss is not None and loss.greater_is_better is None:
        loss.scorer()  # the error that says why a statistic is no scorer
    if loss is not None:  # a loss asked for by its plain name
        raise ValueError(
            f"{scoring!r} is a metric where lower is better; its scorer is {loss.scorer_name!r} (returns "
            f"-{loss.label}, so that greater is better, as scikit-learn's 'neg_*' scorers do)")
    try:
        return _skm.get_scorer(scoring)
    except ValueError:
        raise ValueError(
            f"unknown scorer {scoring!r}; skquake's are {', '.join(map(repr, index))}, and any name "
            "from sklearn.metrics.get_scorer_names() works too") from None
