"""Change-detection metrics against values computed by hand, and their registration."""
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, jaccard_score

from skquake.metrics import (
    CHANGE_REFERENCES,
    change_confusion,
    change_scores,
    changed_fraction,
    get_metric,
    get_scorer,
    list_metrics,
)

# Two 3 x 3 samples: a positive (earthquake and one unrelated pixel) and a negative (unrelated
# change only, so its earthquake mask is empty).
QUAKE = np.array([
    [[1, 1, 0], [1, 0, 0], [0, 0, 0]],
    [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
])
ANY = np.array([
    [[1, 1, 0], [1, 0, 0], [0, 0, 1]],
    [[0, 0, 0], [0, 1, 1], [0, 0, 0]],
])
TRUTH = np.stack([QUAKE, ANY], axis=1).astype(np.uint8)  # (2, 2, 3, 3) as load_change gives
PRED = np.array([
    [[1, 0, 0], [1, 1, 0], [0, 0, 0]],
    [[0, 0, 0], [0, 1, 0], [1, 0, 0]],
], dtype=np.uint8)

# By hand, 18 pixels pooled.
# quake: TP 2 ((0,0), (1,0) of sample 0), FP 3, FN 1 ((0,1)), TN 12.
#   IoU 2/6, F1 4/8, OA 14/18, false alarm 3/15, missed 1/3,
#   kappa: p_o = 14/18, p_e = (5*3 + 13*15)/18^2 = 210/324 -> (252 - 210)/(324 - 210) = 42/114 = 7/19
# any: TP 3 (+ (1,1) of sample 1), FP 2, FN 3, TN 10.
#   IoU 3/8, F1 6/11, OA 13/18, false alarm 2/12, missed 3/6,
#   kappa: p_o = 13/18, p_e = (5*6 + 13*12)/324 = 186/324 -> (234 - 186)/(324 - 186) = 48/138 = 8/23
EXPECTED = {
    "quake": {"iou": 1 / 3, "f1": 0.5, "kappa": 7 / 19, "oa": 14 / 18, "false_alarm": 0.2, "missed": 1 / 3},
    "any": {"iou": 3 / 8, "f1": 6 / 11, "kappa": 8 / 23, "oa": 13 / 18, "false_alarm": 1 / 6, "missed": 0.5},
}


@pytest.mark.parametrize("reference", ["quake", "any"])
def test_hand_computed_values(reference):
    counts = {"quake": (12, 3, 1, 2), "any": (10, 2, 3, 3)}[reference]
    assert change_confusion(TRUTH, PRED, reference) == counts
    scores = change_scores(TRUTH, PRED, reference)
    assert scores == pytest.approx(EXPECTED[reference], rel=1e-12)
    for statistic, value in EXPECTED[reference].items():
        metric = get_metric(f"change_{statistic}_{reference}")
        assert metric.func(TRUTH, PRED) == pytest.approx(value, rel=1e-12)
        assert metric.compute(TRUTH, y_pred=PRED) == pytest.approx(value, rel=1e-12)
        assert metric.greater_is_better == (statistic not in ("false_alarm", "missed"))
        assert metric.tasks == ("change",)
    assert changed_fraction(None, PRED) == changed_fraction(TRUTH, PRED) == 5 / 18


def test_the_same_as_scikit_learn_on_flattened_pixels():
    rng = np.random.default_rng(0)
    truth = (rng.random((4, 2, 8, 8)) < 0.3).astype(np.uint8)
    pred = (rng.random((4, 8, 8)) < 0.4).astype(np.uint8)
    for reference, index in CHANGE_REFERENCES.items():
        t, p = truth[:, index].ravel(), pred.ravel()
        scores = change_scores(truth, pred, reference)
        assert scores["iou"] == pytest.approx(jaccard_score(t, p))
        assert scores["f1"] == pytest.approx(f1_score(t, p))
        assert scores["kappa"] == pytest.approx(cohen_kappa_score(t, p))


def test_one_mask_per_sample_serves_both_references():
    for reference in CHANGE_REFERENCES:
        assert change_scores(QUAKE, PRED, reference) == pytest.approx(EXPECTED["quake"])
    assert change_scores(QUAKE.astype(bool), PRED.astype(bool))["iou"] == pytest.approx(1 / 3)


def test_undefined_is_nan_and_no_truth_is_nan():
    empty = np.zeros((1, 3, 3), dtype=np.uint8)
    scores = change_scores(empty, empty)
    assert np.isnan(scores["iou"]) and np.isnan(scores["f1"]) and np.isnan(scores["missed"])
    assert np.isnan(scores["kappa"])  # one class only: chance agreement is total
    assert scores["oa"] == 1.0 and scores["false_alarm"] == 0.0
    # The real file has no masks: every metric that needs them is NaN, changed_fraction is not.
    for name in list_metrics("change"):
        metric = get_metric(name)
        value = metric.compute(None, y_pred=PRED)
        assert (value == 5 / 18) if name == "changed_fraction" else np.isnan(value), name
    assert all(np.isnan(v) for v in change_scores(None, PRED).values())


def test_references_follow_the_order_of_the_loaded_masks():
    from skquake.datasets import CHANGE_MASKS

    assert CHANGE_MASKS[CHANGE_REFERENCES["quake"]] == "earthquake" and CHANGE_MASKS[CHANGE_REFERENCES["any"]] == "any"


def test_registered_names_labels_and_scorers():
    names = list_metrics("change")
    assert names[0] == "change_iou_quake"  # the headline
    assert set(names) == {f"change_{s}_{r}" for s in EXPECTED["quake"] for r in ("quake", "any")} | {"changed_fraction"}
    assert get_metric("change_iou_quake").label == "IoU (quake)"
    assert get_metric("change_false_alarm_any").label == "False alarm (any)"

    class Fixed:  # a fitted detector that predicts PRED whatever X is
        def predict(self, X):
            return PRED

    assert get_scorer("change_iou_quake")(Fixed(), None, TRUTH) == pytest.approx(1 / 3)
    assert get_scorer("neg_change_false_alarm_quake")(Fixed(), None, TRUTH) == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="neg_change_missed_any"):
        get_scorer("change_missed_any")


def test_bad_input():
    with pytest.raises(ValueError, match="y_pred must hold 0 and 1 only"):
        change_scores(TRUTH, PRED * 2)
    with pytest.raises(ValueError, match=r"y_pred must be change masks of shape \(n, H, W\), got shape \(2, 9\)"):
        change_scores(TRUTH, PRED.reshape(2, 9))
    with pytest.raises(ValueError, match=r"y_true masks have shape \(2, 3, 3\).*y_pred has shape \(2, 3, 2\)"):
        change_scores(TRUTH, PRED[:, :, :2])
    with pytest.raises(ValueError, match=r"expected masks \(n, 2, H, W\)"):
        change_scores(np.concatenate([TRUTH, TRUTH], axis=1), PRED)
    with pytest.raises(ValueError, match="reference must be one of"):
        change_confusion(TRUTH, PRED, "earthquake")
    with pytest.raises(ValueError, match="y_true must hold 0 and 1"):
        change_scores(TRUTH.astype(str), PRED)
    with pytest.raises(ValueError, match="y_pred must be change masks"):
        changed_fraction(None, PRED[0])


def test_changed_fraction_is_a_statistic_not_a_score():
    """It has no better direction: no arrow in tables, no scorer, never a task's headline."""
    from skquake.metrics import get_scorer, get_scorer_names

    assert get_metric("changed_fraction").greater_is_better is None
    with pytest.raises(ValueError, match="statistic"):
        get_scorer("changed_fraction")
    assert "changed_fraction" not in get_scorer_names() and "neg_changed_fraction" not in get_scorer_names()
