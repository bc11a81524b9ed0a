"""The model registry: names, factories, search spaces, and what every entry promises."""
import math

import pytest
from sklearn.base import clone, is_classifier, is_regressor

from skquake.models import _registry as registry
from skquake.models import (
    Categorical,
    FloatRange,
    IntRange,
    create_model,
    get_model_spec,
    get_search_space,
    list_models,
    register_model,
)


@pytest.fixture
def scratch_registry(monkeypatch):
    """A registry with the built-ins loaded, restored after the test."""
    list_models()  # load built-ins first so they are not re-imported into the scratch copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return registry._REGISTRY


def test_search_space_kinds():
    assert Categorical(["a", "b"]).grid() == ["a", "b"]
    grid = FloatRange(1e-4, 1e-2, log=True).grid()
    assert len(grid) == 3 and math.isclose(grid[1], 1e-3) and math.isclose(grid[0], 1e-4)
    assert FloatRange(0.0, 1.0).grid() == [0.0, 0.5, 1.0]
    assert FloatRange(0.0, 1.0, grid_values=(0.2,)).grid() == [0.2]
    assert IntRange(10, 1000, log=True).grid() == [10, 100, 1000]
    assert IntRange(1, 3, n_grid=5).grid() == [1, 2, 3]
    dist = FloatRange(1e-4, 1e-2, log=True).to_optuna()
    assert dist.log and dist.low == 1e-4 and dist.high == 1e-2
    assert IntRange(2, 8).to_optuna().high == 8
    assert Categorical([1, 2]).to_optuna().choices == (1, 2)


@pytest.mark.parametrize(
    "make",
    [lambda: Categorical([]), lambda: FloatRange(1.0, 1.0), lambda: FloatRange(0.0, 1.0, log=True), lambda: IntRange(3, 2)],
)
def test_search_space_rejects_bad_bounds(make):
    with pytest.raises(ValueError):
        make()


def test_register_and_create(scratch_registry):
    from sklearn.dummy import DummyRegressor

    @register_model("dummy-test", task="magnitude", family="shallow", description="d", tags=("t",),
                    search_space={"strategy": Categorical(["mean", "median"])},
                    expected_failed_checks={"check_fit2d_1sample": "a reason"})
    def _dummy(**overrides):
        return DummyRegressor().set_params(**overrides)

    assert get_model_spec("dummy-test").expected_failed_checks == {"check_fit2d_1sample": "a reason"}

    assert "dummy-test" in list_models()
    assert list_models("dummy-*") == ["dummy-test"]
    assert list_models(task="detection", pattern="dummy-*") == []
    assert list_models(tags=("t",)) == ["dummy-test"]
    assert create_model("dummy-test", strategy="median").strategy == "median"
    assert get_search_space("dummy-test") == {"strategy": ["mean", "median"]}
    assert set(get_search_space("dummy-test", "optuna")) == {"strategy"}
    with pytest.raises(ValueError, match="already registered"):
        register_model("dummy-test", task="magnitude", family="shallow")(_dummy)
    with pytest.raises(ValueError, match="'kind' parameter of get_search_space must be a str among .*Got 'nope'"):
        get_search_space("dummy-test", "nope")


def test_register_rejects_unknown_task_and_family():
    with pytest.raises(ValueError, match="'task' parameter of register_model must be a str among .*Got 'segmentation'"):
        register_model("x", task="segmentation", family="shallow")
    with pytest.raises(ValueError, match="'family' parameter of register_model must be a str among .*Got 'medium'"):
        register_model("x", task="magnitude", family="medium")


def test_unknown_model_names_close_matches():
    names = list_models()
    assert names, "the built-in models should be registered"
    with pytest.raises(KeyError, match="unknown model 'svr-rfb'.*svr-rbf"):
        get_model_spec("svr-rfb")


@pytest.mark.parametrize(
    "call, match",
    [
        # Bad input to the public API fails naming the parameter and what was expected, not
        # with a TypeError from inside (None, a list) or an empty list (an unknown task).
        (lambda: create_model(None), r"'name' parameter of create_model must be an instance of 'str'\. Got None"),
        (lambda: create_model(["svr-rbf"]), r"'name' parameter of create_model must be an instance of 'str'"),
        (lambda: get_model_spec(3), r"'name' parameter of get_model_spec must be an instance of 'str'\. Got 3"),
        (lambda: list_models(task="nope"), r"'task' parameter of list_models must be None or a str among .*Got 'nope'"),
        (lambda: list_models(task="Magnitude"), r"'task' parameter of list_models .*Got 'Magnitude'"),
        (lambda: list_models(family="shalow"), r"'family' parameter of list_models .*Got 'shalow'"),
        (lambda: list_models(tags="paper"), r"'tags' parameter of list_models must be an instance of 'list'"),
        (lambda: list_models(pattern=3), r"'pattern' parameter of list_models must be None or an instance of 'str'"),
    ],
)
def test_public_api_refuses_bad_input_clearly(call, match):
    with pytest.raises(ValueError, match=match):  # InvalidParameterError is a ValueError
        call()


def test_every_known_task_and_family_can_be_listed():
    for task in registry.TASKS:
        assert all(get_model_spec(m).task == task for m in list_models(task=task))
    assert set(list_models(family="shallow")) | set(list_models(family="deep")) == set(list_models())
    assert list_models(tags={"paper"}) == list_models(tags=("paper",)) != []


@pytest.mark.parametrize("name", list_models())
def test_every_entry_is_a_consistent_estimator(name):
    """Each entry builds an unfitted estimator of its task whose search space routes."""
    spec = get_model_spec(name)
    est = create_model(name)
    assert spec.task in registry.TASKS and spec.family in ("shallow", "deep")
    assert spec.description, f"{name} needs a one-line description"
    if spec.task == "magnitude":
        assert is_regressor(est), name
    elif spec.task == "change":  # unsupervised: masks from predict, per-pixel scores
        assert hasattr(est, "predict") and hasattr(est, "score_samples") and hasattr(est, "decision_function"), name
    elif spec.task == "epicentre":  # containment, position and depth in one (n, 4) prediction
        assert hasattr(est, "predict"), name
    else:
        assert is_classifier(est), name
    clone(est)
    valid = est.get_params(deep=True)
    space = get_search_space(name, "grid")
    # a baseline (the patch-centre guess) has nothing to tune, and says so
    assert space or "baseline" in spec.tags, f"{name} has no default search space"
    for param, values in space.items():
        assert param in valid or param.startswith("criterion__") or param.startswith("module__"), (
            f"{name}: search-space parameter {param!r} does not route to the estimator"
        )
        est.set_params(**{param: values[0]})
