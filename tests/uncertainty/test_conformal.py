"""ConformalRegressor: coverage, splits by event, scikit-learn compatibility, bad inputs."""
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

from skquake.datasets import load_quakeset
from skquake.datasets.synthetic import make_quakeset
from skquake.metrics import coverage_score, get_scorer, mean_interval_width
from skquake.models import create_model
from skquake.preprocessing import Flatten
from skquake.uncertainty import ConformalRegressor
from skquake.utils import InvalidParameterError


@pytest.mark.parametrize("method", ["split", "cross"])
def test_coverage_on_many_samples(method, linear_data):
    """4000 test samples: coverage within 3 points of 90%, narrower at 50%."""
    X, y, groups = linear_data(6000, seed=1)
    fit, test = slice(0, 2000), slice(2000, None)
    reg = ConformalRegressor(Ridge(), method=method, random_state=0).fit(X[fit], y[fit], groups=groups[fit])
    intervals = reg.predict_interval(X[test])
    assert intervals.shape == (4000, 2) and np.all(intervals[:, 0] <= intervals[:, 1])
    assert 0.87 <= coverage_score(y[test], intervals) <= 0.93
    half = ConformalRegressor(Ridge(), method=method, confidence_level=0.5, random_state=0)
    half.fit(X[fit], y[fit], groups=groups[fit])
    assert 0.45 <= coverage_score(y[test], half.predict_interval(X[test])) <= 0.55
    assert mean_interval_width(y[test], half.predict_interval(X[test])) < mean_interval_width(y[test], intervals)
    if method == "split":  # absolute residuals: the point prediction is the interval's centre
        np.testing.assert_allclose(reg.predict(X[test]), intervals.mean(axis=1), atol=1e-8)
    else:  # CV+: the fold models' mean, inside the interval
        assert coverage_score(reg.predict(X[test]), intervals) == 1.0


@pytest.fixture(scope="module")
def quakeset_xy(tmp_path_factory):
    """A synthetic QuakeSet file of 400 events with 8 x 8 patches (about 600 samples)."""
    path = make_quakeset(tmp_path_factory.mktemp("conformal") / "q.h5", n_events=400, patch_size=8,
                         patches_per_event=2, random_state=3)
    return load_quakeset(path, split="all", target="magnitude")


@pytest.mark.parametrize("method", ["split", "cross"])
def test_coverage_on_a_synthetic_quakeset(quakeset_xy, method):
    """A registered shallow model, events held out: coverage of new events' magnitudes near 90%."""
    X, y, groups = quakeset_xy
    test = np.isin(groups, np.unique(groups)[::2])  # half of the events for measuring
    model = create_model("rfr-change", rf__n_estimators=20, random_state=0)
    reg = ConformalRegressor(model, method=method, cv=0.3 if method == "split" else 4, random_state=0)
    reg.fit(X[~test], y[~test], groups=groups[~test])
    cov = coverage_score(y[test], reg.predict_interval(X[test]))
    # CV+ guarantees only 1 - 2 alpha and is known to over-cover (Barber et al. 2021, "Predictive
    # inference with the jackknife+"): its upper bound is looser than split conformal's.
    upper = 0.97 if method == "split" else 0.99
    assert test.sum() > 250 and 0.84 <= cov <= upper, cov


def test_deep_regressor_on_images(tiny_quakeset):
    """A deep QuakeRegressor (4-D image input) wraps as any regressor."""
    from skquake.models.deep import QuakeRegressor

    X, y, groups = load_quakeset(tiny_quakeset, split="all", target="magnitude", pool=4)
    net = QuakeRegressor("test_vit", module__patch_size=8, module__depth=1, module__embed_dim=16, max_epochs=1,
                         batch_size=16, random_state=0)
    reg = ConformalRegressor(net, confidence_level=0.5, cv=0.4, random_state=0).fit(X, y, groups=groups)
    intervals = reg.predict_interval(X)
    assert intervals.shape == (len(y), 2) and np.all(np.isfinite(intervals))
    assert reg.predict(X).shape == (len(y),) and not hasattr(reg, "n_features_in_")


# ----------------------------------------------------------------------------- events
def _check_by_event(groups, train, held_out):
    assert len(held_out) and not set(groups[train]) & set(groups[held_out])
    assert sorted(np.concatenate([train, held_out])) == list(range(len(groups)))


def test_split_calibration_set_is_by_event(linear_data, recorder):
    Regressor, _, seen = recorder
    X, y, groups = linear_data(400, per_event=5)
    reg = ConformalRegressor(Regressor(), cv=0.25, random_state=0).fit(X, y, groups=groups)
    [(train, calibration)] = reg.splits_
    _check_by_event(groups, train, calibration)
    assert np.unique(groups[calibration]).size == 20  # 25% of the 80 events
    assert [sorted(s) for s in seen] == [sorted(train)] and reg.estimator_.n_features_in_ == 4
    # without groups the calibration set is drawn by sample: events straddle it
    [(train, calibration)] = ConformalRegressor(Ridge(), random_state=0).fit(X, y).splits_
    assert set(groups[train]) & set(groups[calibration])


@pytest.mark.parametrize("cv", [4, GroupKFold(4)])
def test_cross_folds_are_by_event(linear_data, recorder, cv):
    Regressor, _, seen = recorder
    X, y, groups = linear_data(200)
    reg = ConformalRegressor(Regressor(), method="cross", cv=cv, random_state=0).fit(X, y, groups=groups)
    assert len(reg.splits_) == 4
    for train, held_out in reg.splits_:
        _check_by_event(groups, train, held_out)
    # MAPIE fitted on those folds (and once on everything)
    fits = {tuple(sorted(s)) for s in seen}
    assert {tuple(sorted(train)) for train, _ in reg.splits_} <= fits and tuple(range(200)) in fits


def test_random_state_draws_the_split(linear_data):
    X, y, groups = linear_data(200)
    a, b, c = (ConformalRegressor(Ridge(), random_state=s).fit(X, y, groups=groups) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.splits_[0][1], b.splits_[0][1])
    np.testing.assert_array_equal(a.predict_interval(X), b.predict_interval(X))
    assert not np.array_equal(a.splits_[0][1], c.splits_[0][1])


def test_refit_leaves_no_stale_attributes(linear_data):
    X, y, groups = linear_data(200)
    reg = ConformalRegressor(Ridge(), random_state=0).fit(X, y, groups=groups)
    assert reg.n_features_in_ == 4 and hasattr(reg, "estimator_")
    images = X.reshape(200, 1, 2, 2)  # 4-D, as a deep model takes: no feature count
    reg.set_params(estimator=make_pipeline(Flatten(), Ridge()), method="cross").fit(images, y, groups=groups)
    assert not hasattr(reg, "estimator_") and not hasattr(reg, "n_features_in_") and len(reg.splits_) == 5


# ----------------------------------------------------------------------------- scikit-learn
def test_clone_params_and_grid_search(linear_data):
    X, y, groups = linear_data(300)
    reg = ConformalRegressor(Ridge(alpha=2.0), method="cross", cv=3, random_state=0)
    params = reg.get_params()
    assert params["estimator__alpha"] == 2.0 and params["method"] == "cross" and params["confidence_level"] == 0.9
    twin = clone(reg)
    assert twin.estimator is not reg.estimator and twin.get_params()["estimator__alpha"] == 2.0
    search = GridSearchCV(reg, {"estimator__alpha": [0.01, 1e4]}, cv=GroupKFold(3),
                          scoring=get_scorer("neg_interval_width"))
    search.fit(X, y, groups=groups)
    # heavy shrinkage gives wide intervals: the narrowest wins
    assert search.best_params_ == {"estimator__alpha": 0.01}
    assert search.best_estimator_.conformal_ is not None
    assert 0.8 <= get_scorer("coverage")(search.best_estimator_, X, y) <= 1.0


# ----------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, "90%"])
def test_confidence_level_out_of_range(linear_data, level):
    X, y, _ = linear_data(40)
    with pytest.raises(InvalidParameterError, match="'confidence_level' parameter of ConformalRegressor must be"):
        ConformalRegressor(Ridge(), confidence_level=level).fit(X, y)


@pytest.mark.parametrize("params, message", [
    ({"method": "jackknife"}, "'method' parameter of ConformalRegressor must be a str among"),
    ({"cv": 1.5}, "'cv' parameter of ConformalRegressor must be"),
    ({"cv": 5}, "cv=5 is a number of folds, which only method='cross' takes"),
    ({"method": "cross", "cv": 0.2}, "cv=0.2 is a calibration fraction, which only method='split' takes"),
    ({"cv": 0.05}, r"the calibration set has 8 sample\(s\) \(2 events\); confidence_level=0.9 needs at least 10"),
    ({"method": "cross", "cv": 30}, r"cv=30 splits by event, and groups holds 25 event\(s\)"),
])
def test_bad_settings(linear_data, params, message):
    X, y, groups = linear_data(100)
    with pytest.raises(ValueError, match=message):
        ConformalRegressor(Ridge(), **params).fit(X, y, groups=groups)


def test_classifier_refused(linear_data):
    X, y, _ = linear_data(100)
    for clf in (LogisticRegression(), create_model("rfc-change")):
        with pytest.raises(ValueError, match=f"ConformalRegressor needs a regressor; estimator="
                                             f"{type(clf).__name__} is a classifier"):
            ConformalRegressor(clf).fit(X, y > 0)


@pytest.mark.parametrize("method", ["split", "cross"])
def test_groups_of_wrong_length(linear_data, method):
    X, y, groups = linear_data(100)
    with pytest.raises(ValueError, match=r"groups must hold one event id per sample, 100 in all; got shape \(99,\)"):
        ConformalRegressor(Ridge(), method=method).fit(X, y, groups=groups[:-1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ConformalRegressor(Ridge(), method=method).fit(X, y[:-1])


def test_not_fitted_and_missing_mapie(linear_data, monkeypatch):
    X, y, _ = linear_data(100)
    with pytest.raises(NotFittedError):
        ConformalRegressor(Ridge()).predict_interval(X)
    monkeypatch.setitem(sys.modules, "mapie.regression", None)
    with pytest.raises(ImportError, match=r"mapie is needed .* pip install 'skquake\[uncertainty\]'"):
        ConformalRegressor(Ridge()).fit(X, y)


class _Float32Regressor(RegressorMixin, BaseEstimator):
    """Predicts in float32, far from the targets: as a torch regressor early in training does."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.asarray(X[:, 0], dtype=np.float32) * np.float32(0.1) + np.float32(1.9)


@pytest.mark.parametrize("method", ["split", "cross"])
def test_float32_targets_and_predictions_calibrate(method):
    """MAPIE's consistency check (y == y_pred + score to 1e-8) holds: the scores are float64."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    y = (5.0 + rng.normal(size=200)).astype(np.float32)
    reg = ConformalRegressor(_Float32Regressor(), method=method, random_state=0)
    reg.fit(X, y, groups=np.repeat(np.arange(50), 4))
    assert np.all(np.isfinite(reg.predict_interval(X)))
