"""The epicentre estimators (QuakeSet tasks 3 and 7): targets, the meta-estimator, the deep net,
the registry entries, and scikit-learn's checks through an adapter of their targets."""
import pickle

import numpy as np
import pytest
import torch
from optuna_integration import OptunaSearchCV
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skquake.datasets import EPICENTRE_COLUMNS, load_epicentre
from skquake.metrics import depth_mae_km, epicentre_error_km, get_scorer
from skquake.models import create_model, get_model_spec, get_search_space, list_models, load_model, save_model
from skquake.models.deep import QuakeNetBase, SARNet
from skquake.models.epicentre import (
    DeepEpicentreEstimator,
    EpicentreEstimator,
    EpicentreLoss,
    EpicentreNet,
    check_epicentre_targets,
    make_epicentre_pipeline,
)

NAN = np.nan
MODELS = ("epicentre-centre", "epicentre-rf", "epicentre-svm", "resnet10t-epicentre")
FAST = {"epicentre-rf": {"epicentre__classifier__n_estimators": 10, "epicentre__regressor__regressor__n_estimators": 10},
        "resnet10t-epicentre": {"max_epochs": 1, "batch_size": 8}}
TINY_NET = dict(max_epochs=2, batch_size=8, random_state=0)
WIDTH_KM = 0.32  # a 32-pixel patch of 10 m pixels


def blob_world(n, size=16, channels=4, seed=0):
    """Speckled patches whose change is a blob centred on the "epicentre" (a toy world).

    Positives: the epicentre is in the patch (contains 1) or up to 30 % of its width outside
    (contains 0, position finite); negatives: no blob, NaN targets. Depth widens the blob.
    """
    rng = np.random.default_rng(seed)
    X = rng.gamma(4.4, 0.1 / 4.4, size=(n, channels, size, size)).astype(np.float32)
    y = np.full((n, 4), NAN)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        if rng.random() < 0.2:
            y[i, 0] = 0.0
            continue
        row, col = rng.uniform(-0.3, 1.3, 2) * size - 0.5
        depth = rng.uniform(5.0, 25.0)
        radius = 1.5 + depth / 10.0
        blob = np.exp(-0.5 * ((yy - row) ** 2 + (xx - col) ** 2) / radius**2)
        X[i, channels // 2:] *= (1.0 + 15.0 * blob).astype(np.float32)  # the later date (or the image)
        inside = -0.5 <= row <= size - 0.5 and -0.5 <= col <= size - 0.5
        east, north = ((col + 0.5) / size - 0.5) * WIDTH_KM, (0.5 - (row + 0.5) / size) * WIDTH_KM
        y[i] = [float(inside), east, north, depth]
    return X, y


# ----------------------------------------------------------------------------- targets
def test_targets_are_checked_with_clear_errors():
    y = np.array([[1, 0.1, 0.2, 10.0], [0, NAN, NAN, NAN], [0, 0.5, 0.5, 12.0]])
    checked, contains = check_epicentre_targets(y, 3, "Model")
    assert checked.dtype == np.float64 and contains.tolist() == [True, False, False]
    assert checked is not y
    columns = r"\('contains', 'east_km', 'north_km', 'depth_km'\)"
    with pytest.raises(ValueError, match=rf"Model: y must have shape \(n_samples, 4\) with the columns {columns}, "
                                         r"got shape \(3,\)"):
        check_epicentre_targets(y[:, 0], 3, "Model")
    with pytest.raises(ValueError, match=r"got shape \(3, 3\)"):
        check_epicentre_targets(y[:, :3], 3, "Model")
    with pytest.raises(ValueError, match="Model requires y to be passed, but the target y is None"):
        check_epicentre_targets(None, 3, "Model")
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        check_epicentre_targets(y, 4, "Model")
    with pytest.raises(ValueError, match=r"column 0 \('contains'\) must be 0 or 1, got \[0.5\] at rows \[1\]"):
        check_epicentre_targets(np.where(np.arange(3)[:, None] * [1, 0, 0, 0] == 1, 0.5, y), 3, "Model")
    bad = y.copy()
    bad[0, 3] = NAN
    with pytest.raises(ValueError, match=r"column 3 \('depth_km'\) must be finite where contains=1, got \[nan\] "
                                         r"at rows \[0\]"):
        check_epicentre_targets(bad, 3, "Model")
    with pytest.raises(ValueError, match="no row of y has contains=1"):
        check_epicentre_targets(y[1:], 2, "Model")
    with pytest.raises(ValueError, match="y must be a numeric array"):
        check_epicentre_targets([["a", 1, 2, 3]], 1, "Model")


# ----------------------------------------------------------------------------- meta-estimator
def test_parts_learn_from_their_rows():
    X, y = blob_world(60)
    model = EpicentreEstimator(DummyClassifier(strategy="most_frequent"), DummyRegressor()).fit(X, y)
    inside = y[:, 0] == 1
    pred = model.predict(X)
    assert pred.shape == (60, 4) and pred.dtype == np.float64
    # the regressor saw the rows that contain the epicentre only (NaN rows would give NaN)
    np.testing.assert_allclose(pred[:, 1:], np.tile(y[inside, 1:].mean(axis=0), (60, 1)))
    majority = float(np.mean(inside) >= 0.5)
    assert np.all(pred[:, 0] == majority)
    assert model.classes_.tolist() == [0, 1] and model.predict_proba(X).shape == (60, 2)


def test_parts_are_cloned_and_seeded():
    X, y = blob_world(40)
    classifier = RandomForestClassifier(n_estimators=5)
    regressor = TransformedTargetRegressor(RandomForestRegressor(n_estimators=5, random_state=5))
    model = EpicentreEstimator(classifier, regressor, random_state=3).fit(X.reshape(40, -1), y)
    assert not hasattr(classifier, "classes_") and not hasattr(regressor, "regressor_")
    seeds = (model.classifier_.random_state, model.regressor_.regressor.random_state)
    assert all(isinstance(s, int) for s in seeds) and seeds[1] != 5
    again = clone(model).fit(X.reshape(40, -1), y)
    np.testing.assert_array_equal(again.predict(X.reshape(40, -1)), model.predict(X.reshape(40, -1)))
    untouched = EpicentreEstimator(classifier, regressor).fit(X.reshape(40, -1), y)
    assert untouched.regressor_.regressor.random_state == 5 and untouched.classifier_.random_state is None
    params = model.get_params()
    assert params["classifier__n_estimators"] == 5 and params["regressor__regressor__random_state"] == 5
    assert model.n_features_in_ == 4 * 16 * 16


def test_meta_estimator_errors():
    X, y = blob_world(20)
    flat = X.reshape(20, -1)
    with pytest.raises(ValueError, match=r"EpicentreEstimator: y must have shape \(n_samples, 4\) with the columns"):
        EpicentreEstimator().fit(flat, y[:, 0])
    assert not hasattr(EpicentreEstimator(SVC()), "predict_proba")
    assert hasattr(EpicentreEstimator(), "predict_proba")

    class OneOutput(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X))

    model = EpicentreEstimator(DummyClassifier(), OneOutput()).fit(flat, y)
    with pytest.raises(ValueError, match=r"must predict the 3 columns \('east_km', 'north_km', 'depth_km'\).*"
                                         "MultiOutputRegressor"):
        model.predict(flat)


def test_location_features_beat_the_patch_centre():
    X, y = blob_world(300, seed=1)
    X_test, y_test = blob_world(120, seed=2)
    centre = create_model("epicentre-centre").fit(X, y).predict(X_test)
    model = create_model("epicentre-rf", **FAST["epicentre-rf"]).fit(X, y)
    pred = model.predict(X_test)
    assert epicentre_error_km(y_test, pred) < 0.5 * epicentre_error_km(y_test, centre)
    assert depth_mae_km(y_test, pred) < depth_mae_km(y_test, centre)
    assert np.mean(pred[:, 0] == y_test[:, 0]) > 0.75
    # the baseline: majority containment, offset (0, 0), the training mean depth
    inside = y[:, 0] == 1
    np.testing.assert_allclose(centre[:, 1:], np.tile([0.0, 0.0, y[inside, 3].mean()], (120, 1)))
    assert np.all(centre[:, 0] == float(inside.mean() >= 0.5))


# ----------------------------------------------------------------------------- registry and searches
def test_registry_entries():
    assert set(MODELS) <= set(list_models(task="epicentre"))
    assert get_model_spec("resnet10t-epicentre").family == "deep"
    assert {get_model_spec(m).family for m in MODELS[:3]} == {"shallow"}


@pytest.mark.parametrize("name", MODELS)
def test_search_space_routes_through_set_params(name):
    model = create_model(name)
    for param, values in get_search_space(name, kind="grid").items():
        for v in values:
            model.set_params(**{param: v})
            assert model.get_params()[param] == v
    assert set(get_search_space(name, kind="optuna")) == set(get_search_space(name))


def test_pipeline_overrides():
    pipe = create_model("epicentre-svm", input_shape=(4, 8, 8), random_state=7, features__grid=2)
    params = pipe.get_params()
    assert (params["image__input_shape"], params["epicentre__random_state"], params["features__grid"]) == ((4, 8, 8), 7, 2)
    assert [name for name, _ in pipe.steps] == ["image", "features", "scale", "epicentre"]
    assert make_epicentre_pipeline(DummyClassifier(), DummyRegressor()).steps[-1][0] == "epicentre"


def test_grid_search_and_optuna():
    X, y = blob_world(80)
    groups = np.arange(80) // 4
    scorer = get_scorer("neg_epicentre_error_km")
    search = GridSearchCV(create_model("epicentre-rf", **FAST["epicentre-rf"]),
                          {"features__grid": [2, 4], "epicentre__classifier__max_depth": [2, None]},
                          scoring=scorer, cv=GroupKFold(2)).fit(X, y, groups=groups)
    assert set(search.best_params_) == {"features__grid", "epicentre__classifier__max_depth"}
    assert search.predict(X).shape == (80, 4) and np.isfinite(search.best_score_)
    space = {k: v for k, v in get_search_space("epicentre-svm", kind="optuna").items() if "__C" in k}
    optuna = OptunaSearchCV(create_model("epicentre-svm"), space, n_trials=2, cv=2, scoring=scorer,
                            random_state=0).fit(X, y)
    assert optuna.predict(X).shape == (80, 4) and len(optuna.trials_) == 2


@pytest.mark.parametrize("mode", ["bitemporal", "single"])
def test_every_model_on_the_synthetic_file(tiny_quakeset, mode):
    X, y, _ = load_epicentre(tiny_quakeset, split="train", mode=mode)
    X_test, y_test, _ = load_epicentre(tiny_quakeset, split="test", mode=mode)
    assert np.isnan(y[:, 1:]).any() and (y[:, 0] == 1).any()  # negatives' NaN reach the models
    for name in MODELS:
        model = create_model(name, **FAST.get(name, {})).fit(X, y)
        pred = model.predict(X_test)
        assert pred.shape == (len(X_test), 4) and np.isfinite(pred).all(), name
        assert set(np.unique(pred[:, 0])) <= {0.0, 1.0}
        assert np.isfinite(epicentre_error_km(y_test, pred))
        np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ["epicentre-centre", "epicentre-rf", "resnet10t-epicentre"])
def test_saved_model_round_trip(name, tmp_path):
    X, y = blob_world(24, size=32)
    params = FAST.get(name, {})
    model = create_model(name, **params).fit(X, y)
    path = save_model(model, tmp_path / "m.skq", model=name, task="epicentre", params=params)
    np.testing.assert_allclose(load_model(path).predict(X), model.predict(X), rtol=1e-6)


# ----------------------------------------------------------------------------- the deep estimator
def test_loss_by_hand():
    y_pred = torch.tensor([[0.0, 1.0, 2.0, 3.0], [2.0, 0.0, 0.0, 0.0], [-1.0, 5.0, 5.0, 5.0]], requires_grad=True)
    y_true = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, NAN, NAN, NAN]])
    bce = [np.log(2.0), np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))]
    mse = [(1 + 4 + 9) / 3, 1.0]  # rows that contain; the third is not scored (and its NaN harmless)
    loss = EpicentreLoss(position_weight=0.5)(y_pred, y_true)
    assert float(loss) == pytest.approx(np.mean(bce) + 0.5 * np.mean(mse), rel=1e-6)
    loss.backward()
    assert torch.isfinite(y_pred.grad).all() and torch.all(y_pred.grad[2, 1:] == 0)
    weighted = EpicentreLoss()(y_pred, y_true, sample_weight=torch.tensor([1.0, 3.0, 0.0]))
    assert float(weighted) == pytest.approx((bce[0] + 3 * bce[1]) / 4 + (mse[0] + 3 * mse[1]) / 4, rel=1e-6)
    none = EpicentreLoss()(y_pred[2:], y_true[2:])  # no row contains: BCE only
    assert float(none) == pytest.approx(bce[2], rel=1e-6)
    with pytest.raises(ValueError, match="position_weight"):
        EpicentreLoss(position_weight=-1.0)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        EpicentreLoss()(y_pred[:, :3], y_true[:, :3])


def test_flips_move_targets_with_images():
    x = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).reshape(2, 2, 3, 3)  # no symmetry: 4 distinct flips
    y = torch.tensor([[1.0, 0.3, -0.2, 10.0], [1.0, -0.1, 0.4, 20.0]])
    seen = set()
    torch.manual_seed(0)
    for _ in range(12):
        fx, fy = DeepEpicentreEstimator._flip(x, y)
        for i in range(2):
            (horizontal, vertical), = [(h, v) for h in (0, 1) for v in (0, 1)
                                       if torch.equal(fx[i], x[i].flip(-1) if h else x[i]) and not v
                                       or v and torch.equal(fx[i], (x[i].flip(-1) if h else x[i]).flip(-2))]
            seen.add((horizontal, vertical))
            expected = y[i] * torch.tensor([1.0, -1.0 if horizontal else 1.0, -1.0 if vertical else 1.0, 1.0])
            torch.testing.assert_close(fy[i], expected)
    assert len(seen) == 4
    weighted = {"_skquake_input": x, "_skquake_sample_weight": torch.tensor([1.0, 2.0])}
    fx, _ = DeepEpicentreEstimator._flip(weighted, y)  # fit(sample_weight=...): weights kept with the input
    assert set(fx) == set(weighted) and torch.equal(fx["_skquake_sample_weight"], torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("channels", [4, 2])
def test_deep_fit_predict_and_persistence(channels, tmp_path):
    X, y = blob_world(24, channels=channels)
    net = DeepEpicentreEstimator(**TINY_NET).fit(X, y)
    pred = net.predict(X)
    assert pred.shape == (24, 4) and pred.dtype == np.float64 and set(np.unique(pred[:, 0])) <= {0.0, 1.0}
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pred[:, 0], (proba[:, 1] >= 0.5).astype(float))
    inside = y[:, 0] == 1
    np.testing.assert_allclose(net.target_mean_, y[inside, 1:].mean(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(DeepEpicentreEstimator(**TINY_NET).fit(X, y).predict(X), pred)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(net)).predict(X), pred, rtol=1e-6)
    net.save_weights(tmp_path / "w.pt")
    loaded = DeepEpicentreEstimator(**TINY_NET).load_weights(tmp_path / "w.pt")
    np.testing.assert_allclose(loaded.predict(X), pred, rtol=1e-6)
    flat = DeepEpicentreEstimator(**TINY_NET, input_shape=(channels, 16, 16)).fit(X.reshape(24, -1), y)
    assert flat.predict(X.reshape(24, -1)).shape == (24, 4)


def test_deep_weights_modules_and_errors():
    X, y = blob_world(24)
    weighted = DeepEpicentreEstimator(**TINY_NET).fit(X, y, sample_weight=np.linspace(0.5, 2.0, 24))
    assert weighted.predict(X).shape == (24, 4)
    # bfloat16 autocast (what "auto" turns on for a CUDA GPU) and channels-last, here on a CPU
    fast = DeepEpicentreEstimator(amp=True, channels_last=True, **TINY_NET).fit(X, y).predict(X)
    assert fast.dtype == np.float64 and np.isfinite(fast).all()
    X32, y32 = blob_world(16, size=32)  # resnet10t pooled whole downsamples by 32
    pooled = DeepEpicentreEstimator(module=SARNet, **TINY_NET).fit(X32, y32)
    assert pooled.predict(X32).shape == (16, 4)
    with pytest.raises(ValueError, match=r"DeepEpicentreEstimator: y must have shape \(n_samples, 4\)"):
        DeepEpicentreEstimator(**TINY_NET).fit(X, y[:, :3])
    with pytest.raises(ValueError, match="requires y to be passed"):
        DeepEpicentreEstimator(**TINY_NET).fit(X)
    with pytest.raises(ValueError, match="EpicentreNet neither flips nor clamps"):
        EpicentreNet("resnet10t", 4, flips=True)


def test_heat_map_stage():
    # the deepest stage with a map of at least 4 x 4 cells: stride 8 at 32 px, stride 4 at 16 px
    for size, cells in ((32, 4), (16, 4), (64, 4), (6, 3)):
        net = EpicentreNet("resnet10t", 4, input_size=(size, size)).eval()
        assert net.backbone(torch.zeros(1, 4, size, size))[-1].shape[-1] == cells, size


def test_deep_net_learns_where_the_blob_is():
    X, y = blob_world(300, seed=1)
    X_test, y_test = blob_world(120, seed=2)
    net = DeepEpicentreEstimator(max_epochs=15, batch_size=16, random_state=0).fit(X, y)
    centre = create_model("epicentre-centre").fit(X, y).predict(X_test)
    assert epicentre_error_km(y_test, net.predict(X_test)) < 0.4 * epicentre_error_km(y_test, centre)


# ----------------------------------------------------------------------------- scikit-learn's checks
def _as_epicentre(y):
    """The checks' 1-D (or one-column) targets as epicentre targets: the upper half contains."""
    y = np.asarray(y, dtype=float)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1:
        return y
    contains = (y >= np.median(y)).astype(float)
    position = np.column_stack([y, -y, y + 10.0])
    position[contains == 0] = NAN
    return np.column_stack([contains, position])


class AdaptedEpicentreEstimator(EpicentreEstimator):
    """EpicentreEstimator with the checks' targets adapted (the real code paths otherwise)."""

    _expected_failed_checks = {
        check: "the check compares predict's shape with its one-column y; the adapter's y has 4 columns"
        for check in ("check_estimator_sparse_array", "check_estimator_sparse_matrix")}

    def fit(self, X, y):
        return super().fit(X, None if y is None else _as_epicentre(y))


class AdaptedDeepEpicentreEstimator(DeepEpicentreEstimator):
    """DeepEpicentreEstimator with the checks' targets adapted: it fails QuakeNetBase's checks only."""

    _expected_failed_checks = dict(QuakeNetBase._expected_failed_checks)

    def fit(self, X, y=None, sample_weight=None, **fit_params):
        return super().fit(X, None if y is None else _as_epicentre(y), sample_weight=sample_weight, **fit_params)

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        return super().partial_fit(X, None if y is None else _as_epicentre(y), classes=classes,
                                   sample_weight=sample_weight, **fit_params)


# the deep one as in tests/test_common.py: a patch-1 ViT reads the checks' 2-D data as 1 x 1 images
_ADAPTED = [
    AdaptedEpicentreEstimator(RandomForestClassifier(n_estimators=5), RandomForestRegressor(n_estimators=5),
                              random_state=0),
    AdaptedDeepEpicentreEstimator(
        backbone="test_vit", module=SARNet, module__patch_size=1, module__depth=1, module__embed_dim=16,
        decibels=False, flips=False, max_epochs=3, lr=0.01, batch_size=16, random_state=0,
        iterator_valid__batch_size=1),
]


@parametrize_with_checks(_ADAPTED, expected_failed_checks=lambda e: e._expected_failed_checks, xfail_strict=True)
def test_sklearn_checks_through_adapted_targets(estimator, check):
    check(estimator)
