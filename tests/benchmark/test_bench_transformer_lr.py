"""benchmarks/bench_transformer_lr.py runs end to end on a tiny file and writes its table with the command."""
import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("bench_transformer_lr")
    yield module
    sys.modules.pop("bench_transformer_lr", None)


def test_runs_and_reports(bench, tiny_quakeset, tmp_path):
    out = tmp_path / "transformer_lr.md"
    argv = ["--data", str(tiny_quakeset), "--runs", "test_vit:1e-3:2", "test_resnet:1e-4:1", "--pool", "1",
            "--processes", "1", "--out", str(out)]
    assert bench.main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_transformer_lr.py {' '.join(argv)}`"
    rows = [line.split(" | ") for line in lines if line.startswith("| test_")]
    assert [(r[0], r[1], r[2]) for r in rows] == [("| test_vit", "0.001", "2"), ("| test_resnet", "0.0001", "1")]
    # first, 25 / 50 / 75 % and last epoch losses; MAE and the prediction spread are numbers
    assert all(len(r[6].split(", ")) == 5 and float(r[3]) > 0 and float(r[5]) >= 0 for r in rows)
