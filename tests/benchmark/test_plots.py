"""The benchmark's plots are fit for a paper: every plot the runner makes, drawn at the size it
is saved at, has no text cut off or overlapping, no legend over the data, axes that do not zoom
to noise, and survives missing values."""
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from skquake.benchmark import read_rows  # noqa: E402
from skquake.benchmark._plots import draw_plots  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
LONG = "convnextv2-atto-rank-with-a-very-long-suffix"


def _row(model, seed=0, task="magnitude-bitemporal", family="deep", mae=2.5, latency=5.0, mflops=45.0, **extra):
    row = {"task": task, "model": model, "seed": seed, "config_id": "c", "status": "ok", "family": family,
           "latency_ms": latency, "mflops": mflops if family == "deep" else None}
    if task.startswith("magnitude"):
        row.update(test_mae=mae, test_magnitude_accuracy=0.5, test_spearman=0.3, test_rmse=mae)
    else:
        row.update(test_accuracy=mae, test_f1=mae, test_f1_macro=mae)
    return {**row, **extra}


def _long_names():
    """A backbone with a long name (both magnitude tasks, so the ranking plot has two panels)."""
    rows = [_row("svr-rbf", family="shallow", mae=2.7, latency=1.0),
            _row("rfr-change", family="shallow", mae=1.8, latency=16.0)]
    for task in ("magnitude-bitemporal", "magnitude-single"):
        for seed in (0, 1):
            rows += [_row(f"{LONG}-mse", seed, task, mae=2.36 + seed / 50, latency=5.8),
                     _row(f"{LONG}-rank", seed, task, mae=2.38 + seed / 20, latency=4.7)]
    return rows


def _twelve_models():
    """Twelve models and six ``-mse`` / ``-rank`` pairs with costs within a few percent."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        family = "deep" if i % 2 else "shallow"
        for seed in (0, 1):
            rows.append(_row(f"model-number-{i:02d}", seed, family=family, mae=2 + rng.random(),
                             latency=1.6 + rng.random() * 2.4, mflops=44 + rng.random() * 5))
    for i in range(6):
        for kind in ("mse", "rank"):
            for seed in (0, 1):
                rows.append(_row(f"convnextv2-atto-{i}-{kind}", seed, mae=2 + rng.random(), latency=3 + rng.random(),
                                 mflops=44.0 + i))
    return rows


def _narrow_costs():
    """Costs within a fraction of a decade (MFLOPs 175.51 .. 175.53): log axes labelled 1.75512x10^2."""
    return [_row(m, seed, task="damage", mae=v + seed / 100, latency=lat, mflops=mf)
            for m, v, lat, mf in (("damage-fusion", 0.38, 6.7, 175.525632), ("damage-image", 0.26, 6.0, 175.511296))
            for seed in (0, 1)] + [_row("damage-meta-rf", s, task="damage", family="shallow", mae=0.47, latency=13.9)
                                   for s in (0, 1)]


def _committed():
    rows = []
    for name in ("quick", "quick-damage"):
        path = RESULTS / name / "results.jsonl"
        if path.exists():
            rows += read_rows(path)[0]
    return rows


CASES = {"long names": _long_names, "twelve models": _twelve_models, "costs within a decade": _narrow_costs,
         "one model, one seed": lambda: [_row("svr-rbf", family="shallow")], "committed results": _committed}


@pytest.fixture
def drawn(monkeypatch):
    """``draw(rows) -> {file name: Figure}``: the figures draw_plots saves, kept for inspection."""
    saved = {}
    savefig = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved[Path(path).name] = fig
        return savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)

    def draw(rows, out):
        files = draw_plots(out, rows, log=lambda *_: None)
        assert sorted(p.name for p in files) == sorted(saved)
        return saved

    return draw


@pytest.mark.parametrize("case", list(CASES))
def test_every_plot_is_readable(case, drawn, layout_problems, tmp_path):
    """No title, name or tick label cut off or overlapping another, no legend over the data."""
    rows = CASES[case]()
    if not rows:
        pytest.skip("no committed results")
    figures = drawn(rows, tmp_path)
    assert figures
    for name, fig in figures.items():
        assert layout_problems(fig) == [], name


def test_plot_files_keep_their_names(drawn, tmp_path):
    figures = drawn(_long_names() + _narrow_costs() + [_row("rfc", task="detection-single", family="shallow",
                                                            mae=0.55)], tmp_path)
    assert set(figures) == {"magnitude-bitemporal_mae_vs_cost.png", "magnitude-single_mae_vs_cost.png",
                            "damage_f1_macro_vs_cost.png", "detection-single_accuracy_vs_cost.png",
                            "ranking_vs_mse.png"}


def test_a_single_point_does_not_zoom_to_noise(drawn, tmp_path):
    """Two seeds that differ by 1e-7 and costs that differ by 1e-7: the axes stay at a scale where
    a reader sees a single value, not rounding noise blown up to fill the panel."""
    rows = [_row("resnet10t-mse", 0, mae=2.5, latency=3.0, mflops=44.0),
            _row("resnet10t-mse", 1, mae=2.5 + 1e-7, latency=3.0 + 1e-7, mflops=44.0 + 1e-7)]
    fig = drawn(rows, tmp_path)["magnitude-bitemporal_mae_vs_cost.png"]
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        assert hi - lo >= 0.05 * 2.5, (ax.get_xlabel(), lo, hi)
        x0, x1 = ax.get_xlim()
        assert x1 / x0 >= 2, (ax.get_xlabel(), x0, x1)


@pytest.mark.parametrize("bad", [float("nan"), None, float("inf")])
def test_missing_values_do_not_break_the_plots(bad, drawn, layout_problems, tmp_path):
    """A metric or a cost missing (None, NaN) or infinite for one model or one seed: the other
    models are still plotted, the ranking plot included, on finite axes."""
    rows = [_row("rfr", family="shallow", mae=bad), _row("svr-rbf", family="shallow", latency=bad),
            _row("resnet10t-mse", 0, mae=2.4), _row("resnet10t-mse", 1, mae=2.3, mflops=bad),
            _row("resnet10t-rank", 0, mae=bad), _row("resnet10t-rank", 1, mae=bad),
            _row("mobilenetv2-mse", 0, mae=2.2), _row("mobilenetv2-rank", 0, mae=2.1, latency=bad)]
    figures = drawn(rows, tmp_path)
    assert set(figures) == {"magnitude-bitemporal_mae_vs_cost.png", "ranking_vs_mse.png"}
    for fig in figures.values():
        assert layout_problems(fig) == []
        for ax in fig.axes:
            assert all(math.isfinite(v) for v in (*ax.get_xlim(), *ax.get_ylim()))
