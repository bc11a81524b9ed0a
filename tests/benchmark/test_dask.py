"""The benchmark on a Dask cluster: the serial run's figures, a worker lost mid-row, resume."""
import os
import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import cloudpickle
import dask
import distributed
from sklearn.dummy import DummyRegressor

from skquake import benchmark as bench
from skquake.benchmark._cli import main
from skquake.benchmark._dask import run_on_dask
from skquake.benchmark._store import RESULTS_FILE
from skquake.models import list_models, register_model

# Workers are processes of their own: the test double and its plugin travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TINY = bench.Profile(name="tiny-dask", seeds=(0, 1), pool=1, shallow_pool=1, n_latency=2)
TASK = "magnitude-single"
DIES = "test-dies-once"


class _DiesOnce(DummyRegressor):
    """Kills its worker process in its first fit (as the OOM killer or a lost node would);
    fits like a DummyRegressor when run again."""

    def __init__(self, marker=""):
        super().__init__()
        self.marker = marker

    def fit(self, X, y=None, sample_weight=None):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y, sample_weight)


def _register(marker):
    list_models()  # built-ins first
    register_model(DIES, task="magnitude", family="shallow", description="dask test double")(
        lambda **kw: _DiesOnce(marker=str(marker))
    )


class _RegisterDouble(distributed.WorkerPlugin):
    """Registers the test double on every worker, restarted ones included."""

    def __init__(self, marker):
        self.marker = str(marker)

    def setup(self, worker):
        _register(self.marker)


def _rows(out):
    rows, bad = bench.read_rows(Path(out) / RESULTS_FILE)
    assert bad == 0
    return rows


def _metrics(rows):
    return {(r["model"], r["task"], r["seed"]): {k: v for k, v in r.items() if k.startswith(("val_", "test_"))
                                                 and isinstance(v, float) and not k.endswith(("_s", "_mb"))}
            for r in rows}


def _run(path, out, **kwargs):
    kwargs = {"profile": TINY, "data": path, "out": out, "tasks": [TASK], "progress": False,
              "plots": False, "log": lambda *_: None, **kwargs}
    return bench.run_benchmark(**kwargs)


def test_local_cluster_gives_the_serial_figures(tiny_quakeset, tmp_path):
    serial = _run(tiny_quakeset, tmp_path / "serial", models=["rfr", "svr-rbf"])
    dasked = _run(tiny_quakeset, tmp_path / "dask", models=["rfr", "svr-rbf"], workers=2)
    assert serial["failed"] == dasked["failed"] == 0
    assert dasked["ran"] == serial["ran"] >= 4
    a, b = _metrics(_rows(tmp_path / "serial")), _metrics(_rows(tmp_path / "dask"))
    n_metrics = 2 * len(bench.TASKS[TASK].metrics)  # val and test
    assert a.keys() == b.keys() and all(len(a[k]) == n_metrics for k in a)
    assert a == b
    # resumes: nothing left to run, nothing appended
    again = _run(tiny_quakeset, tmp_path / "dask", models=["rfr", "svr-rbf"], workers=2)
    assert (again["ran"], again["skipped"]) == (0, serial["ran"])
    assert len(_rows(tmp_path / "dask")) == serial["ran"]


def test_a_worker_lost_mid_row_runs_it_again(tiny_quakeset, tmp_path, monkeypatch):
    from skquake.models import _registry as registry

    marker = tmp_path / "killed-pid"
    list_models()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    _register(marker)  # the client plans the rows
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        client.register_plugin(_RegisterDouble(marker))
        pids = set(client.run(os.getpid).values())
        result = _run(tiny_quakeset, tmp_path / "out", models=["rfr", DIES], scheduler=cluster.scheduler_address)
        assert int(marker.read_text()) in pids  # a worker really died in the row
        assert result["failed"] == 0 and result["ran"] == 4
        rows = _rows(tmp_path / "out")
        keys = [(r["model"], r["seed"]) for r in rows]
        assert sorted(keys) == sorted([(m, s) for m in ("rfr", DIES) for s in (0, 1)])  # each once
        assert all(r["status"] == "ok" for r in rows)
        again = _run(tiny_quakeset, tmp_path / "out", models=["rfr", DIES], scheduler=cluster.scheduler_address)
        assert (again["ran"], again["skipped"]) == (0, 4)
        assert len(_rows(tmp_path / "out")) == 4


def test_a_row_whose_workers_keep_dying_is_recorded_as_failed(tmp_path):
    job = {"model": "m", "task": TASK, "seed": 0, "base": {"task": TASK, "model": "m", "seed": 0, "config_id": "c"}}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # run_row is swapped for a killer in the worker through the submitted job itself
        failed = run_on_dask([job], tmp_path / RESULTS_FILE, scheduler=cluster.scheduler_address, progress=False,
                             on_client=lambda c: c.run(_swap_run_row))
    rows = _rows(tmp_path)
    assert failed == 1 and len(rows) == 1
    assert rows[0]["status"] == "failed" and "KilledWorker" in rows[0]["error"]


def _swap_run_row():
    import skquake.benchmark._row as row_module

    row_module.run_row = lambda job: os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("flags, names", [
    (["--workers", "2", "--in-process"], ("--in-process", "--workers")),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], ("--scheduler", "--workers")),
    (["--scheduler", "tcp://127.0.0.1:8786", "--timeout", "5"], ("--timeout", "--scheduler")),
    (["--workers", "0"], ("--workers",)),
])
def test_exclusive_or_bad_flags_are_usage_errors(tiny_quakeset, tmp_path, capsys, flags, names):
    assert main(["--data", str(tiny_quakeset), "--out", str(tmp_path / "o"), "--models", "rfr", *flags]) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in names), err
    assert not (tmp_path / "o").exists()


def test_an_unknown_scheduler_address_is_named(tiny_quakeset, tmp_path):
    with pytest.raises(ConnectionError, match="--scheduler.*'nowhere://x'"):
        _run(tiny_quakeset, tmp_path / "o", models=["rfr"], scheduler="nowhere://x")


def test_without_the_extra_the_error_names_it(tiny_quakeset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"skquake\[distributed\]"):
        _run(tiny_quakeset, tmp_path / "o", models=["rfr"], workers=1)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "workers and scheduler are exclusive"),
    ({"workers": 2, "timeout": 5.0}, "no timeout"),
    ({"scheduler": "tcp://127.0.0.1:8786", "isolate": False}, "no isolate=False"),
    ({"workers": 0}, "workers == 0, must be >= 1"),
])
def test_bad_dask_arguments_are_named(tiny_quakeset, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _run(tiny_quakeset, tmp_path / "o", models=["rfr"], **kwargs)
    assert not (tmp_path / "o").exists()
