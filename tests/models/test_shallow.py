import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from skquake.datasets import load_quakeset
from skquake.metrics import get_scorer
from skquake.models import create_model, get_model_spec, get_search_space, list_models
from skquake.models.shallow import DEFAULT_MAX_SIZE

SHALLOW = {"svr-rbf": "magnitude", "svr-poly": "magnitude", "rfr": "magnitude",
           "svc-rbf": "detection", "svc-poly": "detection", "rfc": "detection"}
PAPER = {"svr-rbf": "SVR-RBF", "svr-poly": "SVR-poly", "rfr": "RFR",
         "svc-rbf": "SVC-RBF", "svc-poly": "SVC-poly", "rfc": "RFC"}
FAST = {"rf__n_estimators": 10}


def _fast(name, **kw):
    return create_model(name, **({**FAST, **kw} if name.startswith("rf") else kw))


def test_registry_entries():
    names = list_models(tags=("paper",), family="shallow")
    assert set(SHALLOW) <= set(names)
    for name, task in SHALLOW.items():
        spec = get_model_spec(name)
        assert (spec.task, spec.family, spec.paper_name) == (task, "shallow", PAPER[name])
        assert name in list_models(task=task)


@pytest.mark.parametrize("name", list(SHALLOW))
def test_search_space_routes_through_set_params(name):
    model = create_model(name)
    grid = get_search_space(name, kind="grid")
    assert "pca__n_components" in grid and 2 <= len(grid) <= 3
    for param, values in grid.items():
        assert 2 <= len(values) <= 3
        for v in values:
            model.set_params(**{param: v})
            assert model.get_params()[param] == v
    for dist in get_search_space(name, kind="optuna").values():
        assert dist is not None


def test_overrides():
    model = create_model("svr-rbf", pca__n_components=5, svr__C=3.0, input_shape=(4, 8, 8), random_state=7)
    p = model.get_params()
    assert (p["pca__n_components"], p["svr__C"], p["image__input_shape"], p["pca__random_state"]) == (5, 3.0, (4, 8, 8), 7)
    assert create_model("rfc", random_state=3).get_params()["rf__random_state"] == 3
    assert create_model("rfc").get_params()["pool__max_size"] == DEFAULT_MAX_SIZE
    with pytest.raises(ValueError, match="Invalid parameter"):
        create_model("svr-rbf", svr__nope=1)


@pytest.mark.parametrize("mode", ["bitemporal", "single"])
@pytest.mark.parametrize("name", list(SHALLOW))
def test_fit_predict_on_tiny_file(tiny_quakeset, name, mode):
    target = "magnitude" if SHALLOW[name] == "magnitude" else "label"
    X, y, _ = load_quakeset(tiny_quakeset, split="train", mode=mode, target=target)
    X_test, y_test, _ = load_quakeset(tiny_quakeset, split="test", mode=mode, target=target)
    assert X.shape[1] == (4 if mode == "bitemporal" else 2)
    model = _fast(name).fit(X, y)
    pred = model.predict(X_test)
    assert pred.shape == y_test.shape and np.all(np.isfinite(pred))
    if SHALLOW[name] == "detection":
        assert set(np.unique(pred)) <= {0, 1}
    # PCA keeps what the data allows (n_components=None)
    assert model.named_steps["pca"].n_components_ == min(len(X), np.prod(X.shape[1:]))
    # flattened input with input_shape gives the same model
    flat = _fast(name, input_shape=X.shape[1:]).fit(X.reshape(len(X), -1), y)
    np.testing.assert_allclose(flat.predict(X_test.reshape(len(X_test), -1)), pred, rtol=1e-5)
    # predicting on another number of channels names both shapes
    other = X_test[:, :2] if mode == "bitemporal" else np.concatenate([X_test, X_test], axis=1)
    with pytest.raises(ValueError, match=r"X holds images of shape \(\d, 32, 32\).*fitted on images of shape"):
        model.predict(other)


CHANGE = {"rfr-change": "magnitude", "rfc-change": "detection"}


def test_change_models_are_registered_outside_the_papers():
    for name, task in CHANGE.items():
        spec = get_model_spec(name)
        assert (spec.task, spec.family, spec.paper_name) == (task, "shallow", None)
        assert name not in list_models(tags=("paper",)) and name in list_models(task=task, family="shallow")
        model = create_model(name)
        for param, values in get_search_space(name, kind="grid").items():
            for v in values:
                assert model.set_params(**{param: v}).get_params()[param] == v


@pytest.mark.parametrize("mode", ["bitemporal", "single"])
@pytest.mark.parametrize("name", list(CHANGE))
def test_change_models_fit_both_modes(tiny_quakeset, name, mode):
    target = "magnitude" if CHANGE[name] == "magnitude" else "label"
    X, y, _ = load_quakeset(tiny_quakeset, split="train", mode=mode, target=target, fill_value=None)
    X_test, y_test, _ = load_quakeset(tiny_quakeset, split="test", mode=mode, target=target, fill_value=None)
    assert np.isnan(X).any()  # no-data areas kept: the statistics ignore them
    model = _fast(name, random_state=0).fit(X, y)
    pred = model.predict(X_test)
    assert pred.shape == y_test.shape and np.all(np.isfinite(pred))
    n_channels = 6 if mode == "bitemporal" else 2  # [t0, t1, t1 - t0] x 2 polarizations, or the image
    names = model[:-1].get_feature_names_out()
    assert len(names) == n_channels * 9 and model.named_steps["change"].passthrough_ == (mode == "single")
    flat = _fast(name, random_state=0, input_shape=X.shape[1:]).fit(X.reshape(len(X), -1), y)
    np.testing.assert_allclose(flat.predict(X_test.reshape(len(X_test), -1)), pred, rtol=1e-5)


def test_pooling_while_reading_gives_the_same_model(tiny_quakeset):
    # the default pools 32 -> 16 when max_size=16; reading with pool=2 must give the same fit
    X, y, _ = load_quakeset(tiny_quakeset, target="magnitude")
    Xp, _, _ = load_quakeset(tiny_quakeset, target="magnitude", pool=2)
    a = create_model("svr-rbf", pool__max_size=16).fit(X, y)
    b = create_model("svr-rbf", pool__max_size=16).fit(Xp, y)
    assert b.named_steps["pool"].pool_factor_ == 1 and a.named_steps["pool"].pool_factor_ == 2
    np.testing.assert_allclose(a.predict(X), b.predict(Xp), rtol=1e-4, atol=1e-4)


def test_bad_input(tiny_quakeset):
    X, y, _ = load_quakeset(tiny_quakeset, target="magnitude")
    flat = X.reshape(len(X), -1)
    with pytest.raises(ValueError, match=r"input_shape=\(4, 16, 16\).*1024.*4096"):
        create_model("svr-rbf", input_shape=(4, 16, 16)).fit(flat, y)
    y_bad = y.copy()
    y_bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        create_model("svr-rbf").fit(X, y_bad)
    y_bad[0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _fast("rfr").fit(X, y_bad)


def test_grid_search_with_event_groups(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, split="all", target="magnitude")
    search = GridSearchCV(
        create_model("svr-rbf"),
        {"svr__C": [0.1, 10.0]},
        cv=GroupKFold(n_splits=3),
        scoring=get_scorer("neg_mae"),
    ).fit(X, y, groups=groups)
    assert search.best_params_["svr__C"] in (0.1, 10.0)
    assert np.all(search.cv_results_["mean_test_score"] <= 0)  # negated MAE
    assert search.predict(X).shape == y.shape


def test_pipeline_is_clonable_and_fresh():
    a = create_model("svc-rbf")
    assert clone(a).get_params().keys() == a.get_params().keys()
    assert create_model("svc-rbf") is not a


@pytest.mark.parametrize("name", ["svr-rbf", "rfc-change"])
def test_takes_the_inputs_the_deep_nets_take(tiny_quakeset, name):
    """A list of images, a QuakeSet and a LazyImages view fit and predict as the arrays do."""
    from skquake.datasets import LazyImages, QuakeSet

    target = get_model_spec(name).task
    X, y, _ = load_quakeset(tiny_quakeset, split="train", target="magnitude" if target == "magnitude" else "label")
    expected = _fast(name, random_state=0).fit(X, y).predict(X)
    with QuakeSet(tiny_quakeset, split="train") as ds:
        for given in (list(X), tuple(X), ds, LazyImages(ds)):
            model = _fast(name, random_state=0).fit(given, y)
            np.testing.assert_allclose(model.predict(given), expected, rtol=1e-5, err_msg=type(given).__name__)
        # A view of some samples, as scikit-learn's splitters make.
        part = np.arange(0, len(ds), 2)
        np.testing.assert_allclose(_fast(name, random_state=0).fit(LazyImages(ds)[part], y[part]).predict(X[part]),
                                   _fast(name, random_state=0).fit(X[part], y[part]).predict(X[part]), rtol=1e-5)
        # The pipeline needs y (the deep nets read it from the dataset); scikit-learn says so.
        with pytest.raises(ValueError, match="requires y to be passed"):
            _fast(name).fit(ds)


def test_dataset_input_keeps_no_data_pixels(tiny_quakeset):
    # LazyImages refuses NaN (the nets cannot train on it); the shallow pipelines fill it.
    from skquake.datasets import LazyImages, QuakeSet

    X, y, _ = load_quakeset(tiny_quakeset, target="magnitude", fill_value=None)
    assert np.isnan(X).any()
    expected = create_model("svr-rbf").fit(X, y).predict(X)
    with QuakeSet(tiny_quakeset, fill_value=None) as ds:
        np.testing.assert_allclose(create_model("svr-rbf").fit(LazyImages(ds), y).predict(ds), expected, rtol=1e-5)


def test_list_of_images_of_different_shapes_is_refused_clearly(tiny_quakeset):
    X, y, _ = load_quakeset(tiny_quakeset, target="magnitude")
    images = [X[0], X[1][:, :16], X[2]]
    with pytest.raises(ValueError, match=r"list of images of different shapes \(\(4, 32, 32\), \(4, 16, 32\)\)"):
        create_model("svr-rbf").fit(images, y[:3])
    with pytest.raises(ValueError, match=r"expected images of shape \(n, C, H, W\).*\(3, 32, 32\)"):
        create_model("svr-rbf").fit([x[0] for x in X[:3]], y[:3])  # (H, W) images: no channel axis
