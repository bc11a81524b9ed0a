"""A regressor and a classifier that record which samples each fit saw (column 0 holds a
sample id), to check that folds and calibration sets keep each event on one side."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge

SEEN = []


class _Recorder(BaseEstimator):
    def fit(self, X, y):
        SEEN.append(np.asarray(X)[:, 0].astype(int))
        self.model_ = self._model().fit(X[:, 1:], y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return self.model_.predict(X[:, 1:])


class RecordingRegressor(RegressorMixin, _Recorder):
    _model = Ridge


class RecordingClassifier(ClassifierMixin, _Recorder):
    _model = LogisticRegression

    def fit(self, X, y):
        super().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X[:, 1:])


@pytest.fixture
def recorder():
    """``(RecordingRegressor, RecordingClassifier, seen)``: ``seen`` lists the ids of each fit."""
    SEEN.clear()
    return RecordingRegressor, RecordingClassifier, SEEN


@pytest.fixture
def linear_data():
    return _linear_data


def _linear_data(n, seed=0, per_event=4):
    """``(X, y, groups)``: y linear in X plus an event effect and noise; column 0 is the id."""
    rng = np.random.default_rng(seed)
    groups = np.arange(n) // per_event
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=groups.max() + 1)[groups] + rng.normal(size=n)
    return np.column_stack([np.arange(n), X]), y, groups
