"""benchmarks/bench_export.py runs end to end on a tiny file, so that the script cannot rot."""
import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
COLUMNS = ("| model | input | params | MFLOPs | file MB: .skq / .onnx / int8 | latency ms, median (p90): "
           "estimator / ONNX / int8 | test quality: estimator / ONNX / int8 | max abs diff: ONNX / int8 |")
TINY_DEEP = ["--set", "backbone=test_resnet", "--deep-epochs", "1"]


@pytest.fixture
def bench_export(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _common as a top-level module
    module = importlib.import_module("bench_export")
    yield module
    sys.modules.pop("bench_export", None)


def test_report_and_json(bench_export, tiny_quakeset, tmp_path):
    out = tmp_path / "results" / "export.md"
    argv = ["--data", str(tiny_quakeset), "--pool", "1", "--shallow", "svr-rbf", "--deep", "resnet10t-det",
            "--large", "resnet10t-mse", "--large-size", "32", "--large-events", "12", *TINY_DEEP,
            "--repeats", "1", "--warmup", "0", "--out", str(out)]
    assert bench_export.main(argv) == 0

    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_export.py {' '.join(argv)}`"
    assert "1-minute load average before" in text and "torch and onnxruntime 1 thread(s)" in text
    assert "onnxruntime" in next(line for line in lines if line.startswith("Versions: "))
    assert "(the QuakeSet paper's)" not in text  # the large model ran at 32, not 512
    table = lines[lines.index(COLUMNS):]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in table[2:]}
    assert set(rows) == {"svr-rbf", "resnet10t-det", "resnet10t-mse"}
    assert all(len(cells) == 8 for cells in rows.values())
    # shallow: no MFLOPs, no int8 model; deep: all three variants
    assert rows["svr-rbf"][3] == "-" and rows["svr-rbf"][4].endswith("/ -")
    assert rows["svr-rbf"][6].startswith("mae ") and rows["resnet10t-det"][6].startswith("accuracy ")
    assert "-" not in rows["resnet10t-det"][5].replace("e-", "")
    assert rows["resnet10t-det"][7].count("same label") == 2 and "same label" not in rows["resnet10t-mse"][7]

    result = json.loads(out.with_suffix(".json").read_text())
    assert result["meta"]["command"] == lines[0][len("Command: `"):-1]
    assert set(result["meta"]["load_avg_1min"]) == {"before", "after"}
    by_model = {r["model"]: r for r in result["rows"]}
    shallow, deep, large = by_model["svr-rbf"], by_model["resnet10t-det"], by_model["resnet10t-mse"]
    assert shallow["n_params"] > 0 and shallow["mflops"] is None and set(shallow["latency_ms"]) == {"estimator", "onnx"}
    assert set(shallow["size_mb"]) == {"skq", "onnx"}
    for row in (deep, large):
        assert row["n_params"] > 0 and row["mflops"] > 0 and row["params"]["backbone"] == "test_resnet"
        assert set(row["latency_ms"]) == set(row["quality"]) == {"estimator", "onnx", "int8"}
        assert all(len(t["runs"]) == 1 and 0 < t["median"] <= t["p90"] for t in row["latency_ms"].values())
        assert row["size_mb"]["int8"] < row["size_mb"]["onnx"]
    assert large["input_shape"] == [4, 32, 32]
    assert set(deep["same_label"]) == {"onnx", "int8"} and deep["same_label"]["onnx"] == 1.0
    assert "same_label" not in large and "same_label" not in shallow
    # The export is exact to float32: the ONNX model scores as the estimator does.
    for row in (shallow, deep, large):
        assert row["max_abs_diff"]["onnx"] <= 1e-4
        assert row["quality"]["onnx"] == pytest.approx(row["quality"]["estimator"], abs=1e-4)


@pytest.mark.parametrize("argv, message", [
    (["--shallow", "svr-rbff"], "unknown model 'svr-rbff'; did you mean 'svr-rbf'"),
    (["--shallow", "resnet10t-mse"], "--shallow resnet10t-mse: a deep model, list it under --deep or --large"),
    (["--deep", "rfr"], "--deep rfr: a shallow model, list it under --shallow"),
    (["--large", "svr-rbf"], "--large svr-rbf: a shallow model, list it under --shallow"),
    (["--repeats", "0"], "--repeats must be >= 1, got 0"),
    (["--warmup", "-1"], "--warmup must be >= 0, got -1"),
    (["--data", "missing.h5"], "--data: no QuakeSet file at missing.h5"),
    (["--set", "backbone"], "expected NAME=VALUE, got 'backbone'"),
])
def test_bad_options(bench_export, argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench_export.main([*argv, "--out", str(tmp_path / "export.md")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "export.md").exists()


def test_latencies_interleave_the_variants(bench_export):
    calls = []
    predictors = {name: (lambda x, name=name: calls.append(name)) for name in ("estimator", "onnx", "int8")}
    times = bench_export._latencies(predictors, None, repeats=2, warmup=1)
    assert calls == ["estimator", "onnx", "int8"] * 3  # round-robin, the warm-up round included
    assert {name: len(t) for name, t in times.items()} == {"estimator": 2, "onnx": 2, "int8": 2}
