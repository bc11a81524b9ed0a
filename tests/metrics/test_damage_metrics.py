"""Building-damage metrics."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score

from skquake.models.damage import make_metadata_forest


def test_damage_metrics_by_hand():
    from skquake.metrics import class_distance_distribution, damage_report, macro_roc_auc_ovr

    y_true = np.array([0, 0, 1, 2, 3, 3])
    y_pred = np.array([0, 1, 1, 0, 3, 1])
    np.testing.assert_allclose(class_distance_distribution(y_true, y_pred, 4), [3 / 6, 1 / 6, 2 / 6, 0])
    proba = np.eye(4)[y_pred] * 0.7 + 0.075
    r = damage_report(y_true, y_pred, proba)
    assert r["accuracy"] == pytest.approx(3 / 6)
    # per class precision 1/2, 1/3, 0, 1 and recall 1/2, 1, 0, 1/2
    assert r["precision_macro"] == pytest.approx((1 / 2 + 1 / 3 + 0 + 1) / 4)
    assert r["recall_macro"] == pytest.approx((1 / 2 + 1 + 0 + 1 / 2) / 4)
    f1 = [1 / 2, 1 / 2, 0, 2 / 3]
    assert r["f1_macro"] == pytest.approx(np.mean(f1))
    assert r["class_distance"] == pytest.approx([0.5, 1 / 6, 1 / 3, 0])
    # a class absent from y_true is left out of the macro AUC instead of failing
    perfect = np.eye(4)[[0, 0, 1, 1]]
    assert macro_roc_auc_ovr([0, 0, 1, 1], perfect) == pytest.approx(1.0)


def test_scores_align_missing_classes(data):
    from skquake.metrics import aligned_proba, damage_scores, get_scorer

    (X, y, _), (Xt, yt, _), layout = data
    keep = y < 2  # a model that never saw classes 2 and 3
    rf = make_metadata_forest(n_estimators=10, random_state=0).fit(X[keep], y[keep])
    proba = aligned_proba(rf, Xt, np.arange(4))
    assert proba.shape == (len(Xt), 4) and np.all(proba[:, 2:] == 0)
    r = damage_scores(rf, Xt, yt, labels=np.arange(4))
    assert len(r["class_distance"]) == 4 and 0 <= r["roc_auc_macro"] <= 1
    scores = cross_val_score(make_metadata_forest(n_estimators=10, random_state=0), X, y, cv=2,
                             scoring=get_scorer("roc_auc_macro"))
    assert np.all((0 <= scores) & (scores <= 1))


