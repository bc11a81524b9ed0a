"""benchmarks/bench_ranking.py runs end to end on a tiny file, resumes, and computes its intervals right."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_ranking(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their _common as a top-level module
    module = importlib.import_module("bench_ranking")
    yield module
    sys.modules.pop("bench_ranking", None)


def test_study_report_plot_and_resume(bench_ranking, tiny_quakeset, tmp_path, monkeypatch):
    out, png, work = tmp_path / "ranking_study.md", tmp_path / "ranking_study.png", tmp_path / "work"
    argv = ["--data", str(tiny_quakeset), "--backbones", "test_resnet", "test_vit", "--options-backbone",
            "test_resnet", "--epochs", "1", "--seeds", "0", "1", "--pool", "1", "--work", str(work),
            "--out", str(out), "--plot", str(png)]
    assert bench_ranking.main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == f"Command: `python benchmarks/bench_ranking.py {' '.join(argv)}`"
    diffs = [line for line in lines if line.startswith("| test_")][:6]
    # one paired comparison per backbone, plus the four options on the options backbone
    # (a 1-epoch model that predicts the mean gets a note that its differences say nothing)
    names = [line.split(" | ")[1].split(" (the MSE model")[0] for line in diffs]
    assert names == ["paper (half, hinge, ties paper, 1:1)", "paper (half, hinge, ties paper, 1:1)",
                     "all pairs", "logistic", "ties ignored", "weight 3"]
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert len(list(work.rglob("*.json"))) == 2 * (2 + 2 + 4)

    # A second call finds every run done and only rewrites the report.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(bench_ranking, "fit_one", no_training)
    out.unlink()
    assert bench_ranking.main(argv) == 0
    assert out.exists()


def test_paired_interval(bench_ranking):
    from scipy.stats import t

    rows = {}
    for seed, (mse, rank) in enumerate([(2.0, 1.9), (2.2, 2.0), (2.1, 2.1)]):
        rows["b", "mse", seed] = {"mae": mse}
        rows["b", "rank", seed] = {"mae": rank}
    d, mean, half = bench_ranking.paired(rows, "b", "rank", "mae", [0, 1, 2])
    np.testing.assert_allclose(d, [-0.1, -0.2, 0.0], atol=1e-12)
    assert mean == pytest.approx(-0.1)
    assert half == pytest.approx(t.ppf(0.975, 2) * 0.1 / np.sqrt(3))


def test_needs_two_seeds(bench_ranking, tiny_quakeset):
    with pytest.raises(SystemExit):
        bench_ranking.main(["--data", str(tiny_quakeset), "--seeds", "0"])
