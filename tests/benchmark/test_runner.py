"""The benchmark runner: a miniature profile end to end, stop-and-resume, failures recorded."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skquake import benchmark as bench
from skquake.benchmark._store import RESULTS_FILE, lock
from skquake.models import list_models, register_model

# The miniature profile: full-size tiny images (32 x 32), one epoch, one seed.
MINI = bench.Profile(
    name="mini",
    seeds=(0,),
    pool=1,
    shallow_pool=1,
    deep_overrides={"max_epochs": 1, "batch_size": 16},
    n_latency=2,
)
SHALLOW, DEEP = "rfr", "mobilenetv2-mse"


class _Failing:
    """An estimator whose fit fails: stands for a model with a bug."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        raise RuntimeError("this model fails on purpose")


class _Crashing(_Failing):
    """Kills its own process in fit, as a segfault or the OOM killer would."""

    def fit(self, X, y=None):
        os._exit(3)


class _Sleeping(_Failing):
    def fit(self, X, y=None):
        time.sleep(60)


@pytest.fixture
def test_doubles(monkeypatch):
    """The failing models, registered in a scratch copy of the registry for one test only
    (other test modules list every registered model). Forked rows inherit the copy."""
    from skquake.models import _registry as registry

    list_models()  # built-ins first, so that they are in the copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    for name, cls in (("test-failing", _Failing), ("test-crashing", _Crashing), ("test-sleeping", _Sleeping)):
        register_model(name, task="magnitude", family="shallow", description="benchmark test double")(
            lambda cls=cls, **kw: cls()
        )


def _run(path, out, **kwargs):
    kwargs = {"profile": MINI, "data": path, "out": out, "progress": False, "log": lambda *_: None, **kwargs}
    return bench.run_benchmark(**kwargs)


def _rows(out):
    rows, bad = bench.read_rows(Path(out) / RESULTS_FILE)
    return rows, bad


def test_miniature_profile_end_to_end(tiny_quakeset, tmp_path):
    out = tmp_path / "mini"
    result = _run(tiny_quakeset, out, models=[SHALLOW, DEEP], tasks=["magnitude-*"])
    assert result["ran"] == 4 and result["failed"] == 0 and result["skipped"] == 0

    rows, bad = _rows(out)
    assert bad == 0 and len(rows) == 4
    assert {(r["task"], r["model"]) for r in rows} == {
        (t, m) for t in ("magnitude-bitemporal", "magnitude-single") for m in (SHALLOW, DEEP)
    }
    for r in rows:
        assert r["status"] == "ok", r.get("error")
        for col in ("test_mae", "val_mae", "test_magnitude_accuracy", "test_spearman", "fit_s",
                    "latency_ms", "throughput_sps", "peak_rss_mb"):
            assert np.isfinite(r[col]) and r[col] >= (-1 if "spearman" in col else 0), (r["model"], col)
        assert 0 <= r["test_magnitude_accuracy"] <= 1
        assert r["device"].startswith("cpu") and r["versions"]["torch"]
        assert r["n_test"] > 0 and r["n_train"] > r["n_test"]
    deep = [r for r in rows if r["model"] == DEEP]
    assert all(r["n_params"] > 100_000 and r["mflops"] > 0 for r in deep)
    assert {r["input_shape"] for r in deep} == {"4x32x32", "2x32x32"}
    # fewer input channels: fewer FLOPs in the stem
    by_task = {r["task"]: r for r in deep}
    assert by_task["magnitude-single"]["mflops"] < by_task["magnitude-bitemporal"]["mflops"]
    assert all(r["n_params"] > 0 and r.get("mflops") is None for r in rows if r["model"] == SHALLOW)
    assert {json.loads(r["overrides"]).get("max_epochs") for r in deep} == {1}

    for name in ("results.csv", "results.json", "results.md", "configs.json",
                 "plots/magnitude-bitemporal_mae_vs_cost.png", "plots/magnitude-single_mae_vs_cost.png"):
        assert (out / name).stat().st_size > 0, name
    assert len(json.loads((out / "results.json").read_text())) == 4
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("task,model,seed,status")
    md = (out / "results.md").read_text()
    assert "## magnitude-bitemporal" in md and "## magnitude-single" in md
    assert "| Model | Params | MAE ↓ |" in md
    assert f"| {SHALLOW} |" in md and f"| {DEEP} |" in md
    assert "not measured here" in md  # the papers' figures sit in their own labelled section
    measured = md.split("## Reference")[0]
    assert "0.5456" not in measured and "MobileNetV2 (CNN)" not in measured

    # Same command again: everything is done, nothing runs, nothing is lost.
    again = _run(tiny_quakeset, out, models=[SHALLOW, DEEP], tasks=["magnitude-*"])
    assert again["ran"] == 0 and again["skipped"] == 4
    assert _rows(out)[0] == rows


def test_stop_and_resume_after_a_kill(tiny_quakeset, tmp_path):
    out = tmp_path / "resume"
    argv = [
        "benchmark", "--profile", "quick", "--data", str(tiny_quakeset), "--models", DEEP,
        "--tasks", "magnitude-*", "--seeds", "0", "1", "--pool", "1", "--max-epochs", "2",
        "--out", str(out), "--no-progress", "--no-plots",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "skquake.cli", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / RESULTS_FILE
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
        assert results.exists(), "the run wrote no row in 300 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its row process, as a hard stop would
        proc.wait()
        gone = time.monotonic() + 10
        while time.monotonic() < gone:  # the row process dies with its runner; let it finish dying
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    # A kill in the middle of a write leaves half a line behind.
    with open(results, "ab") as f:
        f.write(b'{"task": "magnitude-single", "model": "mobilen')
    first, bad = _rows(out)
    assert len(first) >= 1 and bad == 1
    assert len(first) < 4, "the run finished before it could be stopped; the test proves nothing"

    from skquake.cli import main

    assert main(argv) == 0
    rows, bad = _rows(out)
    keys = [(r["task"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == 4, keys  # every row once
    assert rows[: len(first)] == first  # rows written before the kill kept as they were
    assert bad == 1  # the broken line is left alone, not glued to a new row
    assert all(r["status"] == "ok" for r in rows)
    assert len(json.loads((out / "results.json").read_text())) == 4


def test_failing_model_is_recorded_and_run_goes_on(tiny_quakeset, tmp_path, test_doubles):
    out = tmp_path / "fail"
    result = _run(tiny_quakeset, out, models=["test-failing", "test-crashing", SHALLOW],
                  tasks=["magnitude-bitemporal"], timeout=60)
    assert result["ran"] == 3 and result["failed"] == 2
    rows = {r["model"]: r for r in _rows(out)[0]}
    assert rows["test-failing"]["status"] == "failed"
    assert "fit: RuntimeError: this model fails on purpose" in rows["test-failing"]["error"]
    assert "exit code 3" in rows["test-crashing"]["error"]
    assert rows[SHALLOW]["status"] == "ok"
    md = (out / "results.md").read_text()
    assert "Failed rows" in md and "fails on purpose" in md

    # A failed row counts as done, unless asked to retry it.
    assert _run(tiny_quakeset, out, models=["test-failing"], tasks=["magnitude-bitemporal"])["ran"] == 0
    retried = _run(tiny_quakeset, out, models=["test-failing"], tasks=["magnitude-bitemporal"], retry_failed=True)
    assert retried["ran"] == 1
    assert len(_rows(out)[0]) == 4  # the earlier failure is kept in the log; tables use the latest


def test_timeout_stops_a_row(tiny_quakeset, tmp_path, test_doubles):
    out = tmp_path / "timeout"
    t0 = time.perf_counter()
    result = _run(tiny_quakeset, out, models=["test-sleeping"], tasks=["magnitude-single"], timeout=1.0)
    assert time.perf_counter() - t0 < 30
    (row,) = _rows(out)[0]
    assert result["failed"] == 1 and row["status"] == "failed" and "timeout" in row["error"]


def test_changed_settings_never_overwrite_earlier_rows(tiny_quakeset, tmp_path):
    out = tmp_path / "configs"
    _run(tiny_quakeset, out, models=[SHALLOW], tasks=["magnitude-single"])
    (old,) = _rows(out)[0]
    pooled = replace(MINI, shallow_pool=2, pool=2)
    result = _run(tiny_quakeset, out, profile=pooled, models=[SHALLOW], tasks=["magnitude-single"])
    assert result["ran"] == 1  # different settings: a new row, not a skip
    rows = _rows(out)[0]
    assert rows[0] == old and rows[1]["config_id"] != old["config_id"]
    assert rows[1]["input_shape"] == "2x16x16"
    configs = json.loads((out / "configs.json").read_text())
    assert {old["config_id"], rows[1]["config_id"]} <= set(configs)
    assert len(json.loads((out / "results.json").read_text())) == 2  # all configs kept
    md = (out / "results.md").read_text()
    assert "1 other config(s)" in md and old["config_id"] in md


def test_one_run_per_output_folder(tiny_quakeset, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    with lock(out):
        with pytest.raises(RuntimeError, match="another 'skquake benchmark'"):
            _run(tiny_quakeset, out, models=[SHALLOW], tasks=["magnitude-single"])


def test_bad_selection_and_missing_data_give_clear_errors(tiny_quakeset, tmp_path, capsys):
    with pytest.raises(ValueError, match="no registered model matches 'nope-\\*'"):
        _run(tiny_quakeset, tmp_path / "a", models=["nope-*"])
    with pytest.raises(ValueError, match="no benchmark task matches"):
        _run(tiny_quakeset, tmp_path / "a", tasks=["magnitude-triple"])
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        _run(tmp_path / "missing.h5", tmp_path / "a", models=[SHALLOW])
    full_without_data = ["--profile", "full", "--models", SHALLOW, "--out", str(tmp_path / "b")]
    assert bench.main(full_without_data) == 2
    assert "needs a data file: pass --data" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # no empty folders left


def test_damage_task_end_to_end(tmp_path):
    from skquake.datasets.synthetic import make_damage_dataset

    path = make_damage_dataset(tmp_path / "damage.h5", n_buildings=160, n_regions=3, image_size=32, random_state=1)
    out = tmp_path / "damage"
    profile = replace(MINI, deep_overrides={"max_epochs": 1, "batch_size": 32, "backbone": "test_resnet"})
    result = _run(None, out, profile=profile, damage_data=path, tasks=["damage"],
                  models=["damage-meta-rf", "damage-fusion"])
    assert result["ran"] == 2 and result["failed"] == 0
    rows, bad = _rows(out)
    assert bad == 0 and {r["model"] for r in rows} == {"damage-meta-rf", "damage-fusion"}
    for r in rows:
        assert r["status"] == "ok", r.get("error")
        assert r["selection"] == "none (registered settings)" and "best_epoch" not in r
        for m in bench.TASKS["damage"].metrics:
            assert 0 <= r[f"test_{m}"] <= 1 and 0 <= r[f"val_{m}"] <= 1, (r["model"], m)
    md = (out / "results.md").read_text()
    assert "## damage" in md and "Macro AUC ↑" in md
