"""The interval metrics (coverage, interval_width) and their route through the registry."""
import math

import numpy as np
import pytest

from skquake.metrics import coverage_score, get_metric, get_scorer, list_metrics, mean_interval_width, register_metric

Y = np.array([1.0, 2.0, 5.0, -1.0])
INTERVALS = np.array([[0.5, 1.5], [2.0, 3.0], [0.0, 4.0], [-np.inf, -1.0]])


def test_values_by_hand():
    # inside, on the lower bound, outside, on an infinite interval's upper bound -> 3 of 4
    assert coverage_score(Y, INTERVALS) == 0.75
    assert mean_interval_width(Y[:3], INTERVALS[:3]) == pytest.approx((1.0 + 1.0 + 4.0) / 3)
    assert mean_interval_width(Y, INTERVALS) == math.inf
    assert coverage_score([3.0], [[3.0, 3.0]]) == 1.0 and mean_interval_width([3.0], [[3.0, 3.0]]) == 0.0
    assert coverage_score(Y[:3], INTERVALS[:3] + 100) == 0.0


def test_registered_as_interval_metrics():
    cov, width = get_metric("coverage"), get_metric("interval_width")
    assert (cov.response_method, width.response_method) == ("predict_interval", "predict_interval")
    assert cov.greater_is_better and not width.greater_is_better
    assert (cov.scorer_name, width.scorer_name) == ("coverage", "neg_interval_width")
    assert cov.compute(Y, y_interval=INTERVALS) == 0.75
    assert width.compute(Y[:3], y_interval=INTERVALS[:3]) == pytest.approx(2.0)
    # no intervals (a plain model's predictions): NaN, as a probability metric without proba
    assert math.isnan(cov.compute(Y, y_pred=Y)) and math.isnan(width.compute(Y, Y, None, None))
    # not listed for a task: the magnitude tables keep their columns
    assert "coverage" not in list_metrics("magnitude") and "coverage" in list_metrics()


class _Fixed:
    """An estimator stand-in whose intervals are INTERVALS."""

    def predict(self, X):
        return np.zeros(len(X))

    def predict_interval(self, X):
        return INTERVALS[: len(X)]


def test_from_estimator_and_scorer():
    X = np.zeros((4, 1))
    assert get_metric("coverage").from_estimator(_Fixed(), X, Y) == 0.75
    assert get_scorer("coverage")(_Fixed(), X, Y) == 0.75
    assert get_scorer("neg_interval_width")(_Fixed(), X[:3], Y[:3]) == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="'interval_width' is a metric where lower is better"):
        get_scorer("interval_width")


def test_estimator_without_intervals_is_named():
    from sklearn.linear_model import Ridge

    model = Ridge().fit(np.eye(3), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="metric 'coverage' reads prediction intervals, and Ridge has no "
                                         "predict_interval; wrap the model in skquake.uncertainty.ConformalRegressor"):
        get_scorer("coverage")(model, np.eye(3), [1.0, 2.0, 3.0])


def test_other_response_methods_unchanged():
    assert get_metric("mae").compute([1.0, 2.0], [2.0, 2.0]) == 0.5
    assert get_metric("mae").compute([1.0, 2.0], [2.0, 2.0], y_interval=INTERVALS[:2]) == 0.5
    with pytest.raises(ValueError, match=r"response_method of metric 'x' must be one of \('predict', "
                                         r"'predict_proba', 'predict_interval'\), got 'nope'"):
        register_metric("x", label="X", response_method="nope")


@pytest.mark.parametrize("y_true, y_interval, message", [
    (Y, INTERVALS[:, 0], r"y_interval must have shape \(n_samples, 2\) \(lower, upper\), got shape \(4,\)"),
    (Y, np.zeros((4, 3)), r"got shape \(4, 3\)"),
    (Y[:3], INTERVALS, "inconsistent numbers of samples"),
    ([], np.zeros((0, 2)), "y_true is empty"),
    ([np.nan], [[0.0, 1.0]], "y_true contains NaN"),
    ([0.5], [[np.nan, 1.0]], "y_interval contains NaN"),
    ([0.5, 0.5], [[0.0, 1.0], [2.0, 1.0]], "y_interval row 1 has lower bound 2 above upper bound 1"),
])
@pytest.mark.parametrize("func", [coverage_score, mean_interval_width])
def test_bad_inputs(func, y_true, y_interval, message):
    with pytest.raises(ValueError, match=message):
        func(y_true, y_interval)
