"""benchmarks/bench_cache_training.py: one small run, the same training from every source."""
import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
HEADER = "| source | training samples/s | vs (b) HDF5 | train loss, last epoch |"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _common as a top-level module
    module = importlib.import_module("bench_cache_training")
    yield module
    sys.modules.pop("bench_cache_training", None)


def test_report(bench, tmp_path):
    out = tmp_path / "results" / "cache_training.md"
    argv = ["--size", "16", "--n-events", "6", "--epochs", "2", "--work", str(tmp_path / "work"),
            "--out", str(out)]
    assert bench.main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_cache_training.py {' '.join(argv)}`"
    table = lines[lines.index(HEADER) + 2:]
    rows = [line.strip("| ").split(" | ") for line in table if line.startswith("| (")]
    assert [r[0][:3] for r in rows] == ["(a)", "(b)", "(c)", "(c)", "(c)"]
    assert all(float(r[1]) > 0 for r in rows) and rows[1][2] == "1.0x"
    losses = [float(r[3]) for r in rows]
    # the same samples and batches: exact for arrays, the file and the float32 cache
    assert losses[0] == losses[1] == losses[4]
    assert losses[2] == losses[3] == pytest.approx(losses[1], rel=1e-3)  # float16 decibels
    assert list((tmp_path / "work").iterdir()) == []  # generated file and caches removed


def test_bad_arguments(bench, capsys):
    for args in (["--epochs", "1"], ["--batch-size", "1"], ["--size", "0"]):
        with pytest.raises(SystemExit) as exc:
            bench.main(args)
        assert exc.value.code == 2 and args[0] in capsys.readouterr().err
