"""The benchmark's task list: the built-in tasks, registering a task, the default data files."""
import numpy as np
import pytest

from skquake.benchmark import PROFILES, TASKS, BenchTask, default_data_file, register_task
from skquake.benchmark._runner import plan


def test_task_table_has_the_seven_quakeset_tasks():
    assert list(TASKS)[:7] == [
        "detection-bitemporal", "magnitude-bitemporal", "detection-single", "magnitude-single",
        "change-bitemporal", "epicentre-bitemporal", "epicentre-single",
    ]
    for name, task in TASKS.items():
        assert task.registry_task in ("detection", "magnitude", "change", "epicentre", "damage"), name
        assert task.metrics, name
    assert TASKS["magnitude-single"].metrics[:2] == ("mae", "magnitude_accuracy")
    assert "spearman" in TASKS["magnitude-bitemporal"].metrics
    assert TASKS["detection-single"].metrics == ("accuracy", "f1")
    with pytest.raises(ValueError, match="already registered"):
        register_task("detection-single", registry_task="detection", metrics=("accuracy",))(lambda *a, **k: None)
    with pytest.raises(ValueError, match="statistic"):  # a headline metric must have a better direction
        register_task("x", registry_task="change", metrics=("changed_fraction",))


def test_damage_task_is_registered_like_the_others():
    task = TASKS["damage"]
    assert list(TASKS)[-1] == "damage" and task.registry_task == "damage"
    assert task.metrics[0] == "f1_macro" and "roc_auc_macro" in task.metrics
    assert task.data_option == "damage_data" and task.synthetic_name == "damage-synthetic.h5"
    assert task.make_synthetic is not None and task.model_kwargs is not None
    # the damage rows keep the fusion nets' last epoch, as their published figures do
    assert task.select_on_val is False
    # change detection is unsupervised: no epoch may be chosen by scoring masks either
    assert TASKS["change-bitemporal"].unsupervised and not TASKS["change-bitemporal"].select_on_val
    assert all(TASKS[t].select_on_val for t in TASKS if t not in ("damage", "change-bitemporal"))


@pytest.fixture
def scratch_tasks():
    """TASKS as it was before the test (the test may register tasks)."""
    before = dict(TASKS)
    yield TASKS
    TASKS.clear()
    TASKS.update(before)


def test_a_task_is_one_decorated_loader(scratch_tasks):
    """Adding a task: one decorated function; the runner's plan picks it up by name."""
    calls = []

    @register_task("magnitude-scratch", registry_task="magnitude", metrics=["mae", "rmse"],
                   description="a test task", paper="nowhere")
    def load(path, split, *, pool=1, lazy=False):
        calls.append(split)
        return np.zeros((2, 1, 1, 1), np.float32), np.zeros(2)

    assert load(None, "val") is not None and calls == ["val"]  # the loader is returned unchanged
    task = TASKS["magnitude-scratch"]
    assert isinstance(task, BenchTask) and task.load is load and task.metrics == ("mae", "rmse")
    assert task.description == "a test task" and task.data_option == "data" and task.make_synthetic is None
    assert plan(PROFILES["quick"], ["magnitude-scratch"], ["rfr", "svc-rbf"]) == [("magnitude-scratch", "rfr")]


def test_register_task_refuses_bad_entries():
    with pytest.raises(ValueError, match="needs at least one metric"):
        register_task("x", registry_task="magnitude", metrics=())
    with pytest.raises(KeyError, match="unknown metric 'maee'"):
        register_task("x", registry_task="magnitude", metrics=("maee",))
    with pytest.raises(ValueError, match="data_option .* got 'dataset'"):
        register_task("x", registry_task="magnitude", metrics=("mae",), data_option="dataset")
    assert "x" not in TASKS


def test_default_data_file_is_written_once_and_shared(tmp_path, monkeypatch):
    messages = []
    path = default_data_file("detection-single", cache_dir=tmp_path, log=messages.append)
    assert path == tmp_path / "quakeset-synthetic.h5" and path.is_file() and len(messages) == 1
    mtime = path.stat().st_mtime_ns
    # Every QuakeSet task and the benchmark scripts share the one file; it is not rewritten.
    monkeypatch.setenv("SKQUAKE_CACHE_DIR", str(tmp_path))
    assert default_data_file() == path and path.stat().st_mtime_ns == mtime
    assert len(messages) == 1
