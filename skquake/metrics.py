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
