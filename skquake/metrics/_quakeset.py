"""Metrics of the QuakeSet tasks: detection (accuracy, F1) and magnitude (MAE, RMSE, detection
accuracy of a magnitude regressor, Spearman).

Only what scikit-learn lacks is written here: detection accuracy of a magnitude regressor and a
Spearman score that is defined for constant predictions. The others are scikit-learn's
functions, registered with their labels and directions.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn import metrics as _skm
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._registry import register_metric

__all__ = ["MAGNITUDE_THRESHOLD", "magnitude_accuracy_score", "spearman_score"]

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


@register_metric("magnitude_accuracy", label="Accuracy (mag >= 1)", tasks=("magnitude",))
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

    Examples
    --------
    >>> magnitude_accuracy_score([0.0, 5.5, 6.1], [0.4, 5.0, 0.9])
    0.6666666666666666
    """
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    return float(_skm.accuracy_score(y_true >= threshold, y_pred >= threshold, sample_weight=sample_weight))


@register_metric("spearman", label="Spearman", tasks=("magnitude",))
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

    Examples
    --------
    >>> spearman_score([4.5, 5.0, 6.0], [1.0, 2.0, 3.0])
    1.0
    """
    y_true, y_pred = _check_1d_pair(y_true, y_pred)
    if y_true.shape[0] < 2:
        raise ValueError(f"spearman_score needs at least 2 samples, got {y_true.shape[0]}")
    if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = spearmanr(y_true, y_pred).statistic
    return float(rho)


register_metric("mae", label="MAE", greater_is_better=False, tasks=("magnitude",))(_skm.mean_absolute_error)
register_metric("rmse", label="RMSE", greater_is_better=False, tasks=("magnitude",))(_skm.root_mean_squared_error)
register_metric("accuracy", label="Accuracy", tasks=("detection", "damage"))(_skm.accuracy_score)
register_metric("f1", label="F1", tasks=("detection",))(_skm.f1_score)
