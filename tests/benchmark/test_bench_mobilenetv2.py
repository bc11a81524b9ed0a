"""benchmarks/bench_mobilenetv2.py runs end to end on a tiny file and measures what it says."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_mobilenetv2(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _common as a top-level module
    module = importlib.import_module("bench_mobilenetv2")
    yield module
    sys.modules.pop("bench_mobilenetv2", None)


def test_report(bench_mobilenetv2, tiny_quakeset_factory, tmp_path):
    path = tiny_quakeset_factory(patch_size=64, n_events=8)
    out = tmp_path / "diag.md"
    argv = ["--data", str(path), "--runs", "mnv2", "mnv2-os8", "mnv2-std-input", "--epochs", "1",
            "--work", str(tmp_path / "work"), "--out", str(out)]
    assert bench_mobilenetv2.main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_mobilenetv2.py {' '.join(argv)}`"
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ") for line in lines if line.startswith("| `")}
    assert set(rows) == {"mnv2", "mnv2-os8", "mnv2-std-input"}
    assert rows["mnv2"][2] == "32 x 32 -> 1 x 1"
    assert rows["mnv2-os8"][2] == "32 x 32 -> 4 x 4"  # the output stride reached timm
    assert rows["mnv2"][3] == "1, 0.001"


def test_standardise_clips_no_data_and_uses_train_statistics(bench_mobilenetv2):
    rng = np.random.default_rng(0)
    X = rng.uniform(0.01, 1.0, size=(6, 2, 4, 4)).astype(np.float32)
    X[0, 0, 0, 0] = 0.0  # a filled no-data pixel: -90 dB before the clip
    train, test = bench_mobilenetv2.standardise(X, X[:2])
    np.testing.assert_allclose(train.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    np.testing.assert_allclose(test, train[:2], atol=1e-6)
    db = 10 * np.log10(np.maximum(X, 1e-4))  # the filled pixel at -40 dB, not -90
    expected = (db - db.mean(axis=(0, 2, 3), keepdims=True)) / db.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(train, expected, atol=1e-4)
