"""Metrics and scorers for QuakeSet tasks.

Plain metric functions follow scikit-learn's ``metric(y_true, y_pred)`` convention; scorers
(``scorer(estimator, X, y)``) are available by name for ``cross_val_score``,
``GridSearchCV`` and ``OptunaSearchCV``::

    from skquake.metrics import get_scorer
    cross_val_score(model, X, y, groups=groups, cv=GroupKFold(5), scoring=get_scorer("mae"))

Names (``SCORERS``): ``"mae"``, ``"rmse"``, ``"magnitude_accuracy"``, ``"spearman"`` for
magnitude regressors, ``"accuracy"``, ``"f1"`` for detection classifiers. As with
scikit-learn's ``neg_mean_absolute_error``, error scorers are negated so that greater is
better everywhere: the ``"mae"`` scorer returns ``-MAE``. Any other name is looked up in
scikit-learn (``get_scorer("r2")``).

Only what scikit-learn lacks is written here: detection accuracy of a magnitude regressor and a
Spearman score that is defined for constant predictions.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn import metrics as _skm
from sklearn.metrics import make_scorer
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = [
    "MAGNITUDE_THRESHOLD",
    "SCORERS",
    "get_scorer",
    "get_scorer_names",
    "magnitude_accuracy_score",
    "spearman_score",
]

#: A predicted magnitude at or above this means "affected by an earthquake" (the QuakeSet
#: paper's convention: a magnitude below 1 means no earthquake).
MAGNITUDE_THRESHOLD = 1.0


def _check_1d_pair(y_true, y_pred):
    y_true = column_or_1d(y_true, warn=True).astype(np.float64, copy=False)
    y_pred = column_or_1d(y_pred, warn=True).astype(np.float64, copy=False)
    check_consistent_length(y_true, y_pred)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity")
    return y_true, y_pred


def magnitude_accuracy_score(y_true, y_pred, threshold=MAGNITUDE_THRESHOLD, sample_weight=None):
    """Detection accuracy of a magnitude regressor.

    A sample counts as affected when its magnitude is ``>= threshold``, for the truth and the
    prediction alike, and the score is the accuracy of the predicted affected / not affected.
    ``y_true`` may be magnitudes (0 for negatives) or 0/1 detection labels: with the default
    threshold of 1 both give the same truth.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_pred : array-like of shape (n,)
        Predicted magnitudes.
    threshold : float, default=MAGNITUDE_THRESHOLD
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    float in [0, 1]
    """
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    return float(_skm.accuracy_score(y_true >= threshold, y_pred >= threshold, sample_weight=sample_weight))


def spearman_score(y_true, y_pred):
    """Spearman rank correlation between true and predicted magnitudes.

    The ranking paper's point is the order of magnitudes, which MAE does not measure. Uses
    :func:`scipy.stats.spearmanr` (ties get average ranks).

    If ``y_true`` or ``y_pred`` is constant the correlation is undefined (scipy returns NaN);
    this returns 0.0 instead, "no ranking skill", so that a model that predicts a constant
    ranks below any model with a positive correlation in a search instead of breaking it.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,), n >= 2

    Returns
    -------
    float in [-1, 1]
    """
    from scipy.stats import spearmanr

    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    if y_true.shape[0] < 2:
        raise ValueError(f"spearman_score needs at least 2 samples, got {y_true.shape[0]}")
    if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = spearmanr(y_true, y_pred).statistic
    return float(rho)


#: Scorers by name. Error scorers are negated (greater is better), like scikit-learn's
#: ``neg_*`` scorers.
SCORERS = {
    "mae": make_scorer(_skm.mean_absolute_error, greater_is_better=False),
    "rmse": make_scorer(_skm.root_mean_squared_error, greater_is_better=False),
    "magnitude_accuracy": make_scorer(magnitude_accuracy_score),
    "spearman": make_scorer(spearman_score),
    "accuracy": _skm.get_scorer("accuracy"),
    "f1": _skm.get_scorer("f1"),
}


def get_scorer_names():
    """skquake's scorer names followed by scikit-learn's."""
    return list(SCORERS) + [n for n in _skm.get_scorer_names() if n not in SCORERS]


def get_scorer(scoring):
    """A scorer by name: skquake's (``SCORERS``) first, then scikit-learn's.

    Parameters
    ----------
    scoring : str or callable
        A name, or a scorer (returned as is).

    Returns
    -------
    callable ``scorer(estimator, X, y)``, a fresh copy for names.
    """
    if callable(scoring):
        return scoring
    if scoring in SCORERS:
        return copy.deepcopy(SCORERS[scoring])
    try:
        return _skm.get_scorer(scoring)
    except ValueError:
        raise ValueError(
            f"unknown scorer {scoring!r}; skquake's are {', '.join(map(repr, SCORERS))}, and any name "
            "from sklearn.metrics.get_scorer_names() works too"
        ) from None


# =========================================================================== building damage
# Metrics as the QuakeMetaFormer paper reports them (accuracy, macro precision / recall / F1,
# macro one-vs-rest AUC-ROC, distribution of |predicted - true| class), per-class permutation
# importance, and generalization across regions. Damage classes are ordered integers 0..K-1.


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
    import numpy as np

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
    import numpy as np

    per_class = _per_class_auc(y_true, y_proba, labels)
    return float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan")


def _per_class_auc(y_true, y_proba, labels=None):
    import numpy as np
    from sklearn.metrics import roc_auc_score

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
    import numpy as np

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
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

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
    import numpy as np

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
        import numpy as np

        labels = np.asarray(self.labels)
        proba = aligned_proba(estimator, X, labels)
        if self.metric == "roc_auc":
            scores = _per_class_auc(y, proba, labels)
        else:
            pred = labels[np.argmax(proba, axis=1)]
            y = np.asarray(y)
            scores = np.array([np.mean(pred[y == c] == c) if np.any(y == c) else np.nan for c in labels])
        return {f"{self.metric}_{c}": float(s) for c, s in zip(labels.tolist(), scores)}


class _MetadataView:
    """Shows a damage model ``[image row | metadata]`` so that permuting the first column
    permutes whole images between buildings and the other columns permute one metadata
    column each (instead of thousands of single pixels)."""

    def __init__(self, estimator, images):
        self.estimator = estimator
        self.images = images
        self.classes_ = estimator.classes_

    def _full(self, Z):
        import numpy as np

        rows = Z[:, 0].astype(np.int64)
        return np.hstack([self.images[rows], Z[:, 1:]]).astype(np.float32)

    def fit(self, Z, y=None):  # permutation_importance never fits; present for duck typing
        return self

    def predict_proba(self, Z):
        return self.estimator.predict_proba(self._full(Z))

    def predict(self, Z):
        return self.estimator.predict(self._full(Z))


def per_class_permutation_importance(estimator, X, y, input_shape, metadata_columns, labels=None,
                                     metric="roc_auc", n_repeats=5, random_state=None, include_image=True):
    """Per-class permutation importance of the metadata columns (and of the whole image).

    scikit-learn's :func:`~sklearn.inspection.permutation_importance` with a
    :class:`PerClassScorer`: the drop of each class's one-vs-rest score when one metadata
    column is shuffled between buildings. With ``include_image`` the image is one more
    "feature" (chips shuffled between buildings).

    Parameters
    ----------
    estimator : fitted damage classifier taking the 2-D layout ``[image | metadata]``
    X, y : the layout array and the classes (a held-out set)
    input_shape : tuple (C, H, W)
    metadata_columns : sequence of str
    labels : array-like, optional
        Classes to score (default ``estimator.classes_``).
    metric : {"roc_auc", "recall"}
    n_repeats : int, default=5
    random_state : int, optional

    Returns
    -------
    dict
        ``features`` (names, ``"image"`` first when included), ``classes``,
        ``importances_mean`` and ``importances_std`` (arrays ``(n_features, n_classes)``),
        ``metric``.
    """
    import numpy as np
    from sklearn.inspection import permutation_importance

    X = np.asarray(X, dtype=np.float32)
    n_pixels = int(np.prod(input_shape))
    columns = list(metadata_columns)
    if X.ndim != 2 or X.shape[1] != n_pixels + len(columns):
        raise ValueError(f"X must be (n, {n_pixels + len(columns)}) = image {tuple(input_shape)} + "
                         f"{len(columns)} metadata columns, got {X.shape}")
    labels = np.asarray(estimator.classes_ if labels is None else labels)
    view = _MetadataView(estimator, X[:, :n_pixels])
    Z = np.hstack([np.arange(len(X), dtype=np.float32)[:, None], X[:, n_pixels:]])
    scorer = PerClassScorer(labels, metric)
    res = permutation_importance(view, Z, np.asarray(y), scoring=scorer, n_repeats=n_repeats,
                                 random_state=random_state)
    keys = [f"{metric}_{c}" for c in labels.tolist()]
    mean = np.stack([res[k].importances_mean for k in keys], axis=1)
    std = np.stack([res[k].importances_std for k in keys], axis=1)
    features = ["image"] + columns
    if not include_image:
        features, mean, std = features[1:], mean[1:], std[1:]
    return {"features": features, "classes": labels.tolist(), "importances_mean": mean,
            "importances_std": std, "metric": metric}


def importance_table(result, class_names=None, digits=3):
    """Markdown table of :func:`per_class_permutation_importance` (mean +- std per class)."""
    names = class_names or [str(c) for c in result["classes"]]
    head = "| feature | " + " | ".join(names) + " |"
    lines = [head, "|" + " --- |" * (len(names) + 1)]
    for i, feat in enumerate(result["features"]):
        cells = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in
                 zip(result["importances_mean"][i], result["importances_std"][i])]
        lines.append(f"| {feat} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_permutation_importance(result, class_names=None, ax=None):
    """Grouped horizontal bar chart of per-class permutation importance (matplotlib).

    Returns the matplotlib ``Figure``; save it with ``fig.savefig(path)``.
    """
    import numpy as np
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 0.35 * len(result["features"]) + 1.5))
    else:
        fig = ax.figure
    names = class_names or [str(c) for c in result["classes"]]
    mean = np.asarray(result["importances_mean"])
    std = np.asarray(result["importances_std"])
    n_feat, n_cls = mean.shape
    height = 0.8 / n_cls
    pos = np.arange(n_feat)
    for j in range(n_cls):
        ax.barh(pos + j * height, mean[:, j], height, xerr=std[:, j], label=names[j])
    ax.set_yticks(pos + 0.4 - height / 2)
    ax.set_yticklabels(result["features"])
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel(f"drop in one-vs-rest {result['metric']} when shuffled")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def region_generalization(estimator, X, y, groups, train_regions=None, test_size=0.3, labels=None,
                          random_state=None):
    """Train on one region, test in that region and on each other region.

    For every training region ``r`` (all, or ``train_regions``): the samples of ``r`` are
    split (stratified where possible) into ``1 - test_size`` for training and ``test_size``
    for an in-region test; a clone of ``estimator`` is fitted on the first part and scored on
    the in-region part and on every other region (all their samples), as in the paper's
    Kahramanmaras experiment. The cross-region splits are those of
    :class:`skquake.damage.RegionTransferSplit`.

    Returns
    -------
    list of dict
        One row per (train region, test region) with ``train_region``, ``test_region``,
        ``in_region`` (bool) and the :func:`damage_report` metrics.
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from .damage import RegionTransferSplit

    y = np.asarray(y)
    groups = np.asarray(groups)
    labels = np.unique(y) if labels is None else np.asarray(labels)
    rows = []
    for train_idx, other_idx in RegionTransferSplit(train_regions).split(X, y, groups):
        region = groups[train_idx[0]]
        counts = np.bincount(np.searchsorted(labels, y[train_idx]), minlength=len(labels))
        stratify = y[train_idx] if counts[counts > 0].min() >= 2 else None
        fit_idx, held_idx = train_test_split(train_idx, test_size=test_size, stratify=stratify,
                                             random_state=random_state)
        model = clone(estimator).fit(X[fit_idx], y[fit_idx])
        tests = [(region, held_idx, True)] + [
            (g, other_idx[groups[other_idx] == g], False) for g in np.unique(groups[other_idx])]
        for g, idx, inside in tests:
            row = {"train_region": int(region), "test_region": int(g), "in_region": inside}
            row.update(damage_scores(model, X[idx], y[idx], labels))
            rows.append(row)
    return rows


class _MacroAUCScorer:
    """``scorer(estimator, X, y)``: :func:`macro_roc_auc_ovr` of ``predict_proba`` over the
    estimator's classes (defined when a fold lacks a class, unlike ``"roc_auc_ovr"``)."""

    _sign = 1
    _response_method = "predict_proba"  # as scikit-learn's scorers declare it

    def __call__(self, estimator, X, y):
        import numpy as np

        labels = np.asarray(estimator.classes_)
        return macro_roc_auc_ovr(y, aligned_proba(estimator, X, labels), labels)

    def __repr__(self):
        return "damage_roc_auc_macro_scorer"


SCORERS["roc_auc_macro"] = _MacroAUCScorer()
__all__ += [
    "PerClassScorer",
    "aligned_proba",
    "class_distance_distribution",
    "damage_report",
    "damage_scores",
    "importance_table",
    "macro_roc_auc_ovr",
    "per_class_permutation_importance",
    "plot_permutation_importance",
    "region_generalization",
]
