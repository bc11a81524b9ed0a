"""The epicentre metrics against values worked out by hand."""
import math

import numpy as np
import pytest

from skquake.metrics import (
    depth_mae_km,
    epicentre_accuracy,
    epicentre_error_km,
    epicentre_f1,
    get_metric,
    get_scorer,
    list_metrics,
)
from skquake.utils import EARTH_RADIUS_KM

NAN = math.nan
# rows: [contains, east_km, north_km, depth_km]; the third and fourth do not contain the epicentre
Y_TRUE = np.array([
    [1, 3.0, 4.0, 10.0],
    [1, 1.0, 0.0, 30.0],
    [0, 2.0, 2.0, 15.0],  # affected, epicentre outside: position given but not scored
    [0, NAN, NAN, NAN],   # a negative
])
Y_PRED = np.array([
    [1, 0.0, 0.0, 12.0],   # 5 km off (3-4-5), depth 2 km off
    [0, -1.0, 0.0, 25.0],  # 2 km off along the equator, depth 5 km off; contains missed
    [1, 9.0, 9.0, 99.0],   # not scored for position and depth
    [0, 7.0, 7.0, 99.0],
])


def test_containment_metrics_by_hand():
    # contains: true [1, 1, 0, 0], predicted [1, 0, 1, 0]: 2 of 4 right; TP 1, FP 1, FN 1
    assert epicentre_accuracy(Y_TRUE, Y_PRED) == 0.5
    assert epicentre_f1(Y_TRUE, Y_PRED) == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    assert epicentre_accuracy(Y_TRUE, Y_TRUE) == 1.0
    assert epicentre_f1(Y_TRUE, Y_TRUE) == 1.0
    nothing = Y_PRED.copy()
    nothing[:, 0] = 0
    assert epicentre_f1(Y_TRUE, nothing) == 0.0


def test_location_metrics_by_hand():
    # (3, 4) vs the centre: 5 km (the projection keeps distances from its centre exactly);
    # (1, 0) vs (-1, 0): 2 km of equator. Rows 3 and 4 (true contains 0) are left out, and the
    # predicted contains of row 2 (0) does not matter.
    assert epicentre_error_km(Y_TRUE, Y_PRED) == pytest.approx((5.0 + 2.0) / 2, rel=1e-9)
    assert depth_mae_km(Y_TRUE, Y_PRED) == pytest.approx((2.0 + 5.0) / 2)
    assert epicentre_error_km(Y_TRUE, Y_TRUE) == pytest.approx(0.0, abs=1e-9)


def test_error_is_a_great_circle_distance():
    # 100 km apart along a meridian, far from the centre: the chord of the sphere, not the
    # planar difference, within the projection's small distortion away from its centre
    y_true = np.array([[1, 500.0, 0.0, 10.0]])
    y_pred = np.array([[1, 500.0, 100.0, 10.0]])
    error = epicentre_error_km(y_true, y_pred)
    assert error == pytest.approx(100.0, rel=2e-3) and error != 100.0
    # half the equator east and half west meet at the antipode: 0 km, where a plane says 2 pi R
    half = math.pi * EARTH_RADIUS_KM
    assert epicentre_error_km([[1, half, 0, 1]], [[1, -half, 0, 1]]) == pytest.approx(0.0, abs=1e-6)


def test_nan_without_rows_that_contain():
    y_true = np.array([[0, NAN, NAN, NAN], [0, 1.0, 1.0, 5.0]])
    y_pred = np.array([[1, 0.0, 0.0, 5.0], [0, 0.0, 0.0, 5.0]])
    assert math.isnan(epicentre_error_km(y_true, y_pred))
    assert math.isnan(depth_mae_km(y_true, y_pred))
    assert epicentre_accuracy(y_true, y_pred) == 0.5


@pytest.mark.parametrize("metric", [epicentre_accuracy, epicentre_f1, epicentre_error_km, depth_mae_km])
def test_bad_input(metric):
    with pytest.raises(ValueError, match=r"y_true must have shape \(n_samples, 4\) with the columns \('contains'"):
        metric(Y_TRUE[:, :3], Y_PRED)
    with pytest.raises(ValueError, match=r"y_pred must have shape \(n_samples, 4\).*got shape \(4,\)"):
        metric(Y_TRUE, Y_PRED[:, 0])
    with pytest.raises(ValueError, match="y_true has 4 samples but y_pred has 3"):
        metric(Y_TRUE, Y_PRED[:3])
    bad = Y_PRED.copy()
    bad[0, 0] = 0.7
    with pytest.raises(ValueError, match=r"y_pred's column 0 \('contains'\) must be 0 or 1, got \[0.7\]"):
        metric(Y_TRUE, bad)


def test_nan_where_scored_is_refused():
    pred = Y_PRED.copy()
    pred[1, 2] = NAN
    with pytest.raises(ValueError, match=r"y_pred's column 2 \('north_km'\) must be finite where the true contains=1"):
        epicentre_error_km(Y_TRUE, pred)
    truth = Y_TRUE.copy()
    truth[0, 3] = NAN
    with pytest.raises(ValueError, match=r"y_true's column 3 \('depth_km'\) must be finite where contains=1"):
        depth_mae_km(truth, Y_PRED)
    # NaN where nothing is scored is fine
    pred = Y_PRED.copy()
    pred[3, 1:] = NAN
    assert depth_mae_km(Y_TRUE, pred) == pytest.approx(3.5)


def test_registered():
    assert {"epicentre_accuracy", "epicentre_f1", "epicentre_error_km", "depth_mae_km"} <= set(
        list_metrics("epicentre"))
    assert get_metric("epicentre_error_km").greater_is_better is False
    assert get_metric("depth_mae_km").greater_is_better is False
    assert get_metric("epicentre_f1").greater_is_better is True

    class Fixed:  # an estimator that predicts Y_PRED
        def predict(self, X):
            return Y_PRED

    assert get_scorer("neg_epicentre_error_km")(Fixed(), None, Y_TRUE) == pytest.approx(-3.5)
    assert get_scorer("epicentre_accuracy")(Fixed(), None, Y_TRUE) == 0.5
    with pytest.raises(ValueError, match="'neg_depth_mae_km'"):
        get_scorer("depth_mae_km")
