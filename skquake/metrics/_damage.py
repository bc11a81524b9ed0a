"""Building-damage metrics as the QuakeMetaFormer paper reports them.

Accuracy, macro precision / recall / F1, macro one-vs-rest AUC-ROC and the distribution of
|predicted - true| class. Damage classes are ordered integers 0..K-1.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from ._registry import register_metric

__all__ = [
    "PerClassScorer",
    "aligned_proba",
    "class_distance_distribution",
    "damage_report",
    "damage_scores",
    "f1_macro",
    "macro_roc_auc_ovr",
    "precision_macro",
    "recall_macro",
]


def class_distance_distribution(y_true, y_pred, n_classes=None):
    """Share of buildings whose predicted class is off by 0, 1, 2, ... classes.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Ordered damage classes ``0..K-1``.
    n_classes : int, optional
        ``K``; the result has ``K`` entries (default: ``max(y_true, y_pred) + 1``).

    Returns
    -------
    ndarray of float, shape (K,)
        Entry ``d`` is the fraction with ``|y_pred - y_true| == d`` (sums to 1).
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("class_distance_distribution needs at least one sample")
    k = int(max(y_true.max(), y_pred.max())) + 1 if n_classes is None else int(n_classes)
    return np.bincount(np.abs(y_pred - y_true), minlength=k)[:k] / len(y_true)


def macro_roc_auc_ovr(y_true, y_proba, labels=None):
    """Macro one-vs-rest AUC-ROC that tolerates classes absent from ``y_true``.

    scikit-learn's ``roc_auc_score(multi_class="ovr")`` fails when a test region lacks a
    class; here the mean runs over the classes that have both positives and negatives in
    ``y_true`` (NaN if none). ``labels`` gives the class of each column of ``y_proba``
    (default ``0..K-1``).
    """
    per_class = _per_class_auc(y_true, y_proba, labels)
    return float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan")


def _per_class_auc(y_true, y_proba, labels=None):

    y_true = np.asarray(y_true)
    y_proba = np.asarray(y_proba, dtype=float)
    labels = np.arange(y_proba.shape[1]) if labels is None else np.asarray(labels)
    if y_proba.ndim != 2 or y_proba.shape[1] != len(labels):
        raise ValueError(f"y_proba must be (n, {len(labels)}) for labels {labels.tolist()}, got {y_proba.shape}")
    out = np.full(len(labels), np.nan)
    for j, c in enumerate(labels):
        pos = y_true == c
        if 0 < pos.sum() < len(y_true):
            out[j] = roc_auc_score(pos, y_proba[:, j])
    return out


def aligned_proba(estimator, X, labels):
    """``estimator.predict_proba(X)`` with one column per entry of ``labels``.

    A model trained on a region without some class has fewer columns; the missing classes
    get probability 0, so that metrics over all ``labels`` can be computed.
    """
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    classes = np.asarray(estimator.classes_).tolist()
    out = np.zeros((proba.shape[0], len(labels)))
    for j, c in enumerate(np.asarray(labels).tolist()):
        if c in classes:
            out[:, j] = proba[:, classes.index(c)]
    return out


def damage_report(y_true, y_pred, y_proba=None, labels=None):
    """The paper's damage metrics in one dict.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
    y_proba : array-like, shape (n, K), optional
        Probabilities with columns in the order of ``labels``; adds ``roc_auc_macro``.
    labels : array-like, optional
        All classes (default ``0..K-1`` from ``y_proba``, else the classes seen). Macro
        precision / recall / F1 average over those present in ``y_true`` or ``y_pred``
        (scikit-learn's default set): a true class never predicted counts with a score of 0.

    Returns
    -------
    dict
        ``accuracy``, ``precision_macro``, ``recall_macro``, ``f1_macro``, ``roc_auc_macro``
        (NaN without ``y_proba``), ``class_distance`` (list: share off by 0, 1, ... classes)
        and ``n``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if labels is None:
        labels = np.arange(np.shape(y_proba)[1]) if y_proba is not None else np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    present = labels[np.isin(labels, np.union1d(y_true, y_pred))]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(p),
        "recall_macro": float(r),
        "f1_macro": float(f),
        "roc_auc_macro": float("nan") if y_proba is None else macro_roc_auc_ovr(y_true, y_proba, labels),
        "class_distance": class_distance_distribution(y_true, y_pred, len(labels)).tolist(),
        "n": int(len(y_true)),
    }


def damage_scores(estimator, X, y, labels=None):
    """:func:`damage_report` of a fitted classifier on ``(X, y)``."""
    labels = np.asarray(estimator.classes_ if labels is None else labels)
    proba = aligned_proba(estimator, X, labels)
    return damage_report(y, labels[np.argmax(proba, axis=1)], proba, labels)


class PerClassScorer:
    """A multi-metric scorer: one score per class, for ``permutation_importance``.

    ``scorer(estimator, X, y)`` returns ``{"<metric>_<class>": value}``: the one-vs-rest
    AUC-ROC of the class's probability (``metric="roc_auc"``) or the class's recall
    (``metric="recall"``). NaN when the class is absent from ``y``.
    """

    def __init__(self, labels, metric="roc_auc"):
        if metric not in ("roc_auc", "recall"):
            raise ValueError(f"metric must be 'roc_auc' or 'recall', got {metric!r}")
        self.labels = labels
        self.metric = metric

    def __call__(self, estimator, X, y):
        labels = np.asarray(self.labels)
        proba = aligned_proba(estimator, X, labels)
        if self.metric == "roc_auc":
            scores = _per_class_auc(y, proba, labels)
        else:
            pred = labels[np.argmax(proba, axis=1)]
            y = np.asarray(y)
            scores = np.array([np.mean(pred[y == c] == c) if np.any(y == c) else np.nan for c in labels])
        return {f"{self.metric}_{c}": float(s) for c, s in zip(labels.tolist(), scores)}


register_metric("roc_auc_macro", label="Macro AUC", response_method="predict_proba", tasks=("damage",))(
    macro_roc_auc_ovr)


@register_metric("f1_macro", label="Macro F1", tasks=("damage",))
def f1_macro(y_true, y_pred):
    """Unweighted mean of the per-class F1 (scikit-learn's ``f1_score(average="macro")``)."""
    return f1_score(y_true, y_pred, average="macro")


@register_metric("precision_macro", label="Macro precision", tasks=("damage",))
def precision_macro(y_true, y_pred):
    """Unweighted mean of the per-class precision."""
    return precision_score(y_true, y_pred, average="macro")


@register_metric("recall_macro", label="Macro recall", tasks=("damage",))
def recall_macro(y_true, y_pred):
    """Unweighted mean of the per-class recall (balanced accuracy)."""
    return recall_score(y_true, y_pred, average="macro")
