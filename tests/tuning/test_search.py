"""Search objects: scorers by task, parameter checks, GridSearchCV / OptunaSearchCV by event."""
import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState
from sklearn.model_selection import GridSearchCV, GroupKFold

from skquake.datasets import LazyImages, QuakeSet, lazy_xy, load_quakeset
from skquake.metrics import get_metric
from skquake.models import get_search_space, list_models
from skquake.tuning import default_scoring, make_search_cv, tune

SHALLOW = "svr-rbf"
DEEP = "mobilenetv2-rank"
# A registered deep entry with a tiny timm backbone and short training: seconds per fit.
DEEP_FAST = dict(backbone="mobilenetv3_small_050", max_epochs=1, batch_size=8, random_state=0)
SHALLOW_SPACE = ["svr__C"]


def test_default_scoring_follows_the_metric_registry():
    assert default_scoring("magnitude") == "neg_mae" == get_metric("mae").scorer_name
    assert default_scoring("detection") == "accuracy" == default_scoring("damage")
    with pytest.raises(ValueError, match="task"):
        default_scoring("segmentation")


def test_unknown_model_and_parameter(tiny_quakeset, tmp_path):
    with pytest.raises(KeyError, match="svr-rbf"):
        tune("svr-rfb", tiny_quakeset, n_trials=1, storage=tmp_path)
    with pytest.raises(KeyError, match="svr-rbf"):
        make_search_cv("svr-rfb", "grid")
    with pytest.raises(ValueError, match=r"'svr__gama'.*valid parameters:.*svr__gamma"):
        tune(SHALLOW, tiny_quakeset, n_trials=1, storage=tmp_path, params={"svr__gama": 0.1})
    with pytest.raises(ValueError, match="'nope__x'"):
        make_search_cv(SHALLOW, "optuna", param_space={"nope__x": optuna.distributions.FloatDistribution(0, 1)})
    with pytest.raises(ValueError, match="not in the search space"):
        make_search_cv(SHALLOW, "grid", param_space=["svr__nothing"])
    with pytest.raises(ValueError, match="search"):
        make_search_cv(SHALLOW, "random")
    with pytest.raises(ValueError, match="n_trials"):
        tune(SHALLOW, tiny_quakeset, n_trials=0, storage=tmp_path)
    # Nothing was written for the failed calls.
    assert not (tmp_path / "skquake-optuna.db").exists()


def test_every_registered_search_space_routes():
    # Every name of every registry space reaches a parameter of its model (checked by
    # make_search_cv), so GridSearchCV / OptunaSearchCV can be built for every model.
    names = list_models()
    assert SHALLOW in names and DEEP in names
    for name in names:
        if not get_search_space(name, "grid"):  # a baseline: nothing to tune (tests/models/test_registry.py)
            continue
        grid = make_search_cv(name, "grid")
        assert isinstance(grid, GridSearchCV) and isinstance(grid.cv, GroupKFold)
        assert grid.param_grid, name
        assert set(make_search_cv(name, "optuna").param_distributions) == set(grid.param_grid)


def test_grid_search_shallow(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude", pool=2)
    search = make_search_cv(SHALLOW, "grid", param_space=SHALLOW_SPACE, cv=2)
    search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == len(search.param_grid["svr__C"]) > 1
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict(X[:3]).shape == (3,)


def test_optuna_search_shallow(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude", pool=2)
    search = make_search_cv(SHALLOW, "optuna", cv=2, n_trials=3, random_state=0)
    search.fit(X, y, groups=groups)
    assert len(search.trials_) == 3
    assert set(search.best_params_) == set(search.param_distributions)
    assert search.predict(X[:2]).shape == (2,)


def test_grid_search_deep_lazy_parallel(tiny_quakeset):
    X, y, groups = lazy_xy(QuakeSet(tiny_quakeset, split="train"), target="label")
    search = make_search_cv("mobilenetv2-det", "grid", param_space={"lr": [1e-3, 3e-3]}, cv=2, n_jobs=2,
                            params=DEEP_FAST)
    search.fit(X, y, groups=groups)
    assert isinstance(X, LazyImages)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["lr"] in (1e-3, 3e-3)
    X_test, _, _ = lazy_xy(QuakeSet(tiny_quakeset, split="test"), target="label")
    assert set(search.best_estimator_.predict(X_test)) <= {0, 1}
    assert search.best_estimator_.lr == search.best_params_["lr"]


def test_optuna_search_deep(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude")
    search = make_search_cv(DEEP, "optuna", cv=2, n_trials=2, random_state=0, params=DEEP_FAST)
    search.fit(X, y, groups=groups)
    assert len(search.trials_) == 2
    assert all(t.state == TrialState.COMPLETE and np.isfinite(t.value) for t in search.trials_)
    assert set(search.best_params_) == {"lr", "weight_decay", "criterion__ranking_weight", "criterion__margin"}
    assert np.all(np.isfinite(search.predict(X[:4])))
