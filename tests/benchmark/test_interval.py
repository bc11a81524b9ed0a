"""``skquake benchmark --interval``: magnitude models in split-conformal calibration, coverage and
width in the rows and tables; runs without it unchanged."""
import json
from pathlib import Path

import numpy as np
import pytest

from skquake import benchmark as bench
from skquake.benchmark._store import RESULTS_FILE
from skquake.cli import main

pytest.importorskip("mapie")

MINI = bench.Profile(name="mini", seeds=(0,), pool=1, shallow_pool=1,
                     deep_overrides={"max_epochs": 2, "batch_size": 16}, n_latency=1)
_INTERVAL_COLUMNS = ("test_coverage", "test_interval_width", "val_coverage", "val_interval_width")


def _run(path, out, **kwargs):
    kwargs = {"profile": MINI, "data": path, "out": out, "progress": False, "plots": False, "isolate": False,
              "log": lambda *_: None, "models": ["rfr", "rfc", "resnet10t-mse"],
              "tasks": ["magnitude-bitemporal", "detection-bitemporal"], **kwargs}
    return bench.run_benchmark(**kwargs)


def _rows(out):
    rows, bad = bench.read_rows(Path(out) / RESULTS_FILE)
    assert bad == 0
    return {(r["task"], r["model"], r["config_id"]): r for r in rows}


def test_interval_adds_coverage_and_width_to_magnitude_rows_only(tiny_quakeset, tmp_path):
    out = tmp_path / "bench"
    plain = _run(tiny_quakeset, out)
    assert plain["ran"] == 3 and plain["failed"] == 0
    before = _rows(out)
    for row in before.values():
        assert not any(k in row for k in (*_INTERVAL_COLUMNS, "interval_level", "n_calibration")), row["model"]
    assert "coverage" not in (out / "results.csv").read_text().splitlines()[0]
    assert "Coverage" not in (out / "results.md").read_text()

    # Same folder with --interval: the detection row is done already (its config is unchanged);
    # the magnitude rows are new rows of a new config.
    result = _run(tiny_quakeset, out, interval=0.8)
    assert result["ran"] == 2 and result["skipped"] == 1 and result["failed"] == 0
    after = _rows(out)
    new = {k: r for k, r in after.items() if k not in before}
    assert {(t, m) for t, m, _ in new} == {("magnitude-bitemporal", "rfr"), ("magnitude-bitemporal", "resnet10t-mse")}
    old_ids = {cid for t, _, cid in before if t == "magnitude-bitemporal"}
    assert all(cid not in old_ids for _, _, cid in new)
    for row in new.values():
        assert row["status"] == "ok", row.get("error")
        for split in ("test", "val"):
            assert 0 <= row[f"{split}_coverage"] <= 1 and row[f"{split}_interval_width"] > 0
        assert row["interval_level"] == 0.8 and row["n_calibration"] >= 5 and row["calibration_events"] >= 1
        assert row["n_calibration"] < row["n_train"] and np.isfinite(row["test_mae"])
    deep = new[next(k for k in new if k[1] == "resnet10t-mse")]
    # selection on validation still on the headline metric, recorded from the fitted clone
    assert deep["selection"] == "best epoch on val mae" and deep["best_epoch"] in (1, 2)
    assert len(deep["val_curve"]) == 2 and deep["n_params"] > 100_000

    md = (out / "results.md").read_text()
    magnitude = md.split("## magnitude-bitemporal")[1].split("## ")[0]
    assert "| Coverage (target 0.8) | Interval width ↓ |" in magnitude
    assert "val Coverage" in magnitude
    assert "Coverage" not in md.split("## detection-bitemporal")[1].split("## ")[0]
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert set(_INTERVAL_COLUMNS) <= set(header)
    configs = json.loads((out / "configs.json").read_text())
    levels = [c["settings"].get("interval", "absent") for c in configs.values()]
    assert levels.count(0.8) == 1 and set(levels) == {0.8, "absent"}


@pytest.mark.parametrize("extra, message", [
    (["--interval", "1.5"], "argument --interval"),
    (["--interval", "0"], "argument --interval"),
    (["--profile", "full", "--interval", "0.9"], "--interval 0.9 calibrates on images in memory"),
])
def test_bad_interval_options(tiny_quakeset, tmp_path, capsys, extra, message):
    out = tmp_path / "never"
    argv = ["benchmark", "--data", str(tiny_quakeset), "--models", "rfr", "--tasks", "magnitude-bitemporal",
            "--out", str(out), "--no-progress", "--no-plots", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not out.exists()


def test_too_few_calibration_events_fail_the_row_with_the_numbers(tiny_quakeset, tmp_path):
    out = tmp_path / "few"
    result = _run(tiny_quakeset, out, models=["rfr"], tasks=["magnitude-bitemporal"], interval=0.99)
    assert result["failed"] == 1
    (row,) = _rows(out).values()
    assert row["error"].startswith("fit: ValueError: ConformalRegressor: the calibration set has")
    assert "confidence_level=0.99 needs at least" in row["error"]
