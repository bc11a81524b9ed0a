import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from skquake.metrics import (
    MAGNITUDE_THRESHOLD,
    get_metric,
    list_metrics,
    get_scorer,
    get_scorer_names,
    magnitude_accuracy_score,
    spearman_score,
)

y_true = np.array([0.0, 0.0, 5.5, 6.1, 4.8])
y_pred = np.array([0.5, 1.2, 5.0, 0.9, 6.0])


def test_magnitude_accuracy_by_hand():
    # truth affected: F F T T T ; predicted (>= 1): F T T F T -> 3 of 5 right
    assert MAGNITUDE_THRESHOLD == 1.0
    assert magnitude_accuracy_score(y_true, y_pred) == pytest.approx(0.6)
    # the threshold is inclusive, and labels work as truth too
    assert magnitude_accuracy_score([1, 0], [1.0, 0.999]) == 1.0
    # >= 5.5: truth F F T T F, predicted F F F F T -> 2 of 5
    assert magnitude_accuracy_score(y_true, y_pred, threshold=5.5) == pytest.approx(0.4)
    assert magnitude_accuracy_score(y_true, y_pred, sample_weight=[1, 1, 1, 0, 1]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="NaN"):
        magnitude_accuracy_score(y_true, [np.nan, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        magnitude_accuracy_score(y_true, y_pred[:3])


def test_spearman_by_hand():
    # ranks of truth: 1.5 1.5 4 5 3 ; of prediction: 1 3 4 2 5
    rt, rp = np.array([1.5, 1.5, 4, 5, 3]), np.array([1, 3, 4, 2, 5])
    expected = np.corrcoef(rt, rp)[0, 1]
    assert spearman_score(y_true, y_pred) == pytest.approx(expected)
    assert spearman_score([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman_score([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # constant prediction: no ranking skill
    assert spearman_score(y_true, np.full(5, 3.0)) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        spearman_score([1.0], [1.0])


def test_scorers_signs_and_values():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 0, 5, 5, 5, 5, 6], dtype=float)
    model = DummyRegressor(strategy="constant", constant=2.0).fit(X, y)
    mae = np.mean(np.abs(y - 2.0))
    assert get_scorer("neg_mae")(model, X, y) == pytest.approx(-mae)
    assert get_scorer("neg_rmse")(model, X, y) == pytest.approx(-np.sqrt(np.mean((y - 2.0) ** 2)))
    # a loss is never scored under its plain name (scikit-learn's convention)
    with pytest.raises(ValueError, match="'mae' is a metric where lower is better; its scorer is 'neg_mae'"):
        get_scorer("mae")
    assert get_metric("mae").from_estimator(model, X, y) == pytest.approx(mae)
    assert get_scorer("magnitude_accuracy")(model, X, y) == pytest.approx(0.5)  # all predicted affected
    assert get_scorer("spearman")(model, X, y) == 0.0
    lin = LinearRegression().fit(X, y)
    assert get_scorer("spearman")(lin, X, y) == pytest.approx(spearman_score(y, lin.predict(X)))


def test_classifier_scorers_and_fallback():
    X = np.r_[np.zeros(5), np.ones(5)].reshape(-1, 1)
    y = np.r_[np.zeros(5), np.ones(5)].astype(int)
    clf = LogisticRegression().fit(X, y)
    assert get_scorer("accuracy")(clf, X, y) == 1.0
    assert get_scorer("f1")(clf, X, y) == 1.0
    assert get_scorer("r2")(LinearRegression().fit(X, y), X, y) == pytest.approx(1.0)  # sklearn's name
    quakeset = {"neg_mae", "neg_rmse", "magnitude_accuracy", "spearman", "accuracy", "f1"}
    assert quakeset <= set(get_scorer_names()) and "r2" in get_scorer_names()
    assert set(list_metrics(task="magnitude")) == {"mae", "rmse", "magnitude_accuracy", "spearman"}
    assert get_scorer("neg_mae") is not get_scorer("neg_mae")
    with pytest.raises(ValueError, match="unknown scorer 'maee'"):
        get_scorer("maee")
