"""Metrics of prediction intervals: empirical coverage and mean width.

Their input is the ``(n, 2)`` array of lower and upper bounds that
``predict_interval`` returns (:class:`skquake.uncertainty.ConformalRegressor`), so they are
registered with ``response_method="predict_interval"``. They list no task: a plain regressor
has no intervals, and the benchmark's magnitude tables stay as they are.

Coverage is registered as "greater is better" because a scorer needs a direction, but the goal
is the nominal level, not 1: an interval as wide as the real line covers everything. Read it
next to :func:`mean_interval_width`, never tune on it alone.
"""
from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._registry import register_metric

__all__ = ["coverage_score", "mean_interval_width"]


def _check_intervals(y_true, y_interval):
    y_true = column_or_1d(y_true).astype(np.float64, copy=False)
    y_interval = np.asarray(y_interval, dtype=np.float64)
    if y_interval.ndim != 2 or y_interval.shape[1] != 2:
        raise ValueError(f"y_interval must have shape (n_samples, 2) (lower, upper), got shape {y_interval.shape}")
    check_consistent_length(y_true, y_interval)
    if y_true.size == 0:
        raise ValueError("y_true is empty: coverage and width need at least one sample")
    for name, y in (("y_true", y_true), ("y_interval", y_interval)):
        if np.isnan(y).any():
            raise ValueError(f"{name} contains NaN")
    if np.any(y_interval[:, 0] > y_interval[:, 1]):
        bad = int(np.argmax(y_interval[:, 0] > y_interval[:, 1]))
        raise ValueError(f"y_interval row {bad} has lower bound {y_interval[bad, 0]:g} above upper bound "
                         f"{y_interval[bad, 1]:g}; columns must be (lower, upper)")
    return y_true, y_interval


@register_metric("coverage", label="Coverage", response_method="predict_interval")
def coverage_score(y_true, y_interval):
    """Fraction of samples whose true value lies inside its interval (bounds included).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_interval : array-like of shape (n, 2)
        Lower and upper bounds; infinite bounds are allowed.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> coverage_score([1.0, 2.0, 5.0], [[0.5, 1.5], [2.0, 3.0], [0.0, 4.0]])
    0.6666666666666666
    """
    y_true, y_interval = _check_intervals(y_true, y_interval)
    return float(np.mean((y_interval[:, 0] <= y_true) & (y_true <= y_interval[:, 1])))


@register_metric("interval_width", label="Interval width", greater_is_better=False,
                 response_method="predict_interval")
def mean_interval_width(y_true, y_interval):
    """Mean width (upper - lower) of the intervals, in the target's unit.

    ``y_true`` is unused but kept so that every interval metric takes ``(y_true, y_interval)``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_interval : array-like of shape (n, 2)

    Returns
    -------
    float >= 0 (inf when a bound is infinite)

    Examples
    --------
    >>> mean_interval_width([1.0, 2.0], [[0.5, 1.5], [1.0, 4.0]])
    2.0
    """
    _, y_interval = _check_intervals(y_true, y_interval)
    return float(np.mean(y_interval[:, 1] - y_interval[:, 0]))
