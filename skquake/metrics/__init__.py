"""Metrics and scorers: one registry for the QuakeSet tasks and building damage.

:func:`register_metric` records a metric once (function, response method, direction, label);
:func:`get_scorer` turns a name into a scorer, :func:`get_metric` gives the record that the
benchmark's tables, plots, selection on validation and tuning read. Losses are scored as
``neg_<name>`` (``get_scorer("neg_mae")`` returns ``-MAE``), as in scikit-learn.
"""
from ._damage import (
    PerClassScorer,
    aligned_proba,
    class_distance_distribution,
    damage_report,
    damage_scores,
    f1_macro,
    macro_roc_auc_ovr,
    precision_macro,
    recall_macro,
)
from . import _change, _epicentre  # noqa: F401  (their metrics register on import)
from ._change import CHANGE_REFERENCES, change_confusion, change_scores, changed_fraction
from ._epicentre import depth_mae_km, epicentre_accuracy, epicentre_error_km, epicentre_f1
from ._intervals import coverage_score, mean_interval_width
from ._quakeset import MAGNITUDE_THRESHOLD, magnitude_accuracy_score, spearman_score
from ._registry import (
    MetricSpec,
    compute_metrics,
    get_metric,
    get_scorer,
    get_scorer_names,
    list_metrics,
    metric_probabilities,
    needs_proba,
    register_metric,
)

__all__ = [
    "CHANGE_REFERENCES",
    "MAGNITUDE_THRESHOLD",
    "MetricSpec",
    "PerClassScorer",
    "aligned_proba",
    "change_confusion",
    "change_scores",
    "changed_fraction",
    "class_distance_distribution",
    "compute_metrics",
    "coverage_score",
    "damage_report",
    "damage_scores",
    "depth_mae_km",
    "epicentre_accuracy",
    "epicentre_error_km",
    "epicentre_f1",
    "f1_macro",
    "get_metric",
    "get_scorer",
    "get_scorer_names",
    "list_metrics",
    "macro_roc_auc_ovr",
    "magnitude_accuracy_score",
    "mean_interval_width",
    "metric_probabilities",
    "needs_proba",
    "precision_macro",
    "recall_macro",
    "register_metric",
    "spearman_score",
]
