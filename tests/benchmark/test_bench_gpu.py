"""benchmarks/bench_gpu.py: refuses to run without CUDA, and runs end to end on a CPU with --allow-cpu."""
import importlib
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
HEADER = "| backbone | batch | source | samples/s | busy | x ceiling |"
TINY = ["--backbones", "test_resnet", "--size", "32", "--steps", "2", "--warmup", "1", "--workers", "0"]


@pytest.fixture
def bench_gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _common as a top-level module
    module = importlib.import_module("bench_gpu")
    yield module
    sys.modules.pop("bench_gpu", None)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_refuses_without_cuda(bench_gpu, no_cuda, tiny_quakeset, tmp_path, capsys):
    out = tmp_path / "gpu.md"
    argv = ["--data", str(tiny_quakeset), *TINY, "--work", str(tmp_path / "work"), "--out", str(out)]
    assert bench_gpu.main(argv) == 2
    err = capsys.readouterr().err
    assert "CUDA GPU" in err and "torch.cuda.is_available() is False" in err and "--allow-cpu" in err
    assert not out.exists() and not (tmp_path / "work").exists()


def test_report_on_cpu(bench_gpu, no_cuda, tiny_quakeset, tmp_path):
    out = tmp_path / "results" / "gpu.md"
    argv = ["--allow-cpu", "--data", str(tiny_quakeset), *TINY, "--batches", "4", "6",
            "--work", str(tmp_path / "work"), "--out", str(out)]
    assert bench_gpu.main(argv) == 0

    lines = out.read_text().splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_gpu.py {' '.join(argv)}`"
    assert "on CPU (--allow-cpu: a check of the script, not a measurement)" in lines[2]
    assert "amp=False, channels_last=False" in lines[2]  # the "auto" defaults on a CPU
    table = lines[lines.index(HEADER) + 2:]
    rows = [line.split(" | ") for line in table[:table.index("")]]
    assert len(rows) == 2 * 4  # two batch sizes x four sources
    assert [r[1] for r in rows] == ["4"] * 4 + ["6"] * 4
    assert [r[2][:3] for r in rows] == ["(a)", "(b)", "(c)", "(d)"] * 2
    for cells in rows:
        assert cells[0] == "| test_resnet" and float(cells[3]) > 0
        assert 0 < float(cells[4].rstrip("%")) <= 100
    assert [r[5] for r in rows if r[2].startswith("(d)")] == ["1.00 |", "1.00 |"]
    verdicts = [line for line in lines if line.startswith("- test_resnet, batch ")]
    assert len(verdicts) == 2
    for v in verdicts:
        assert ": input-bound: device-resident " in v or ": not input-bound: device-resident " in v


@pytest.mark.parametrize("args, message", [
    (["--size", "64"], "--size 64 but"),
    (["--batches", "1000"], "--batches 1000 is larger than the"),
])
def test_bad_data_options(bench_gpu, no_cuda, tiny_quakeset, tmp_path, args, message):
    argv = ["--allow-cpu", "--data", str(tiny_quakeset), *TINY, *args, "--work", str(tmp_path), "--out",
            str(tmp_path / "gpu.md")]
    with pytest.raises(SystemExit, match=message):
        bench_gpu.main(argv)


def test_missing_data_file(bench_gpu, no_cuda, tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        bench_gpu.main(["--allow-cpu", "--data", str(tmp_path / "none.h5"), "--work", str(tmp_path)])


@pytest.mark.parametrize("args", [["--batches", "1"], ["--steps", "0"], ["--workers", "-1"]])
def test_bad_arguments(bench_gpu, args, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_gpu.main(args)
    assert exc.value.code == 2
    assert args[0] in capsys.readouterr().err
