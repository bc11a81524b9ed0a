"""The benchmark's plots: each task's headline metric against cost, ranking against MSE, and the
example change maps of per-pixel tasks.

matplotlib is optional (``pip install "skquake[plot]"``); without it the plots are skipped.

Every figure is laid out so that it can go into a paper as it is: constrained layout, titles
and names wrapped to the room they have, models named in a legend below the axes (never over
the data), axis limits that never zoom to noise (:func:`~skquake.utils.padded_limits`) and
tick labels that never overlap (:func:`~skquake.utils.fit_tick_labels`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..metrics import get_metric
from ..utils import add_figure_legend, chars_that_fit, fit_tick_labels, padded_limits, wrap_text
from ._examples import change_maps_figure
from ._tables import summarize
from ._tasks import TASKS

__all__ = ["draw_plots"]

_DPI = 110
_COST_SIZE = (11.0, 4.2)  # inches: two panels side by side
_PANEL_WIDTH = 5.5  # inches per panel of the ranking plot
_TITLE_PT = 12  # matplotlib's "large", the default size of a suptitle
_COST_PANELS = (
    ("latency_ms", "inference time, one sample (ms, log)", "no model reports its inference time"),
    ("mflops", "MFLOPs per sample (log; deep models)", "no model reports MFLOPs (shallow models have none)"),
)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def draw_plots(out: Path, rows: Sequence[dict], log) -> list[Path]:
    """Quality against cost per task, and ranking against plain regression, as PNG files under
    ``out/plots``; none (with a note) without matplotlib."""
    try:
        import matplotlib  # optional dependency (skquake[plot])

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # optional dependency (skquake[plot])
    except ImportError:
        log("matplotlib is not installed: plots skipped (pip install 'skquake[plot]')")
        return []
    plot_dir = out / "plots"
    plot_dir.mkdir(exist_ok=True)
    files = []
    for task_name in [t for t in TASKS if any(r["task"] == t for r in rows)]:
        metric = TASKS[task_name].metrics[0]
        summary = [e for e in summarize(rows, task_name) if _finite(e[f"test_{metric}"][0])]
        if summary:
            fig = _cost_figure(plt, task_name, metric, summary)
            files.append(_save(plt, fig, plot_dir / f"{task_name}_{metric}_vs_cost.png"))
        if TASKS[task_name].n_examples:
            fig = change_maps_figure(plt, out, task_name, [r for r in rows if r["task"] == task_name])
            if fig is not None:
                files.append(_save(plt, fig, plot_dir / f"{task_name}_examples.png"))
    fig = _ranking_figure(plt, rows)
    if fig is not None:
        files.append(_save(plt, fig, plot_dir / "ranking_vs_mse.png"))
    elif any(TASKS[r["task"]].registry_task == "magnitude" for r in rows if r.get("task") in TASKS):
        # Only worth saying where a magnitude task ran (a damage-only run has nothing to pair).
        log("no '<backbone>-mse' / '<backbone>-rank' pair with results: ranking plot skipped")
    return files


def _save(plt, fig, path: Path) -> Path:
    for ax in fig.axes:
        fit_tick_labels(ax)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def _styles(plt, models: Sequence[str]) -> dict:
    """A distinct colour per model: tab10 up to 10 models, tab20 up to 20, then a colour ramp."""
    n = len(models)
    if n <= 20:
        cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
        return {m: cmap(i) for i, m in enumerate(models)}
    cmap = plt.get_cmap("turbo")
    return {m: cmap(i / (n - 1)) for i, m in enumerate(models)}


def _suptitle(fig, text: str) -> None:
    fig.suptitle(wrap_text(text, chars_that_fit(fig.get_size_inches()[0], _TITLE_PT)), fontsize=_TITLE_PT)


def _cost_figure(plt, task_name: str, metric: str, summary: list[dict]):
    """Test metric (mean, std over seeds) against time and MFLOPs, one marker per model."""
    spec = get_metric(metric)
    ylabel = f"test {spec.label}" + ("" if spec.greater_is_better else " (lower is better)")
    colors = _styles(plt, [e["model"] for e in summary])
    markers = {e["model"]: "o" if e["family"] == "deep" else "s" for e in summary}
    fig, axes = plt.subplots(1, 2, figsize=_COST_SIZE, layout="constrained")
    for ax, (cost, xlabel, empty) in zip(axes, _COST_PANELS):
        xs, ys = [], []
        for e in summary:
            x, (y, yerr, _) = e[cost][0], e[f"test_{metric}"]
            if not (_finite(x) and x > 0):
                continue
            yerr = yerr if _finite(yerr) else 0.0
            ax.errorbar([x], [y], yerr=[yerr], fmt=markers[e["model"]], capsize=3, color=colors[e["model"]])
            xs.append(x)
            ys += [y - yerr, y + yerr]
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if xs:
            ax.set_xscale("log")
            ax.set_xlim(*padded_limits(xs, log=True))
            ax.set_ylim(*padded_limits(ys))
            ax.grid(alpha=0.3)
        else:
            # An empty panel says why instead of showing a meaningless 0..1 frame.
            ax.text(0.5, 0.5, wrap_text(empty, 40), transform=ax.transAxes, ha="center", va="center", color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
    handles = [plt.Line2D([], [], ls="none", marker=markers[m], color=c) for m, c in colors.items()]
    add_figure_legend(fig, handles, [e["model"] + _not_plotted(e) for e in summary])
    _suptitle(fig, f"{task_name}: test {spec.label} against cost "
                   "(squares: shallow, circles: deep; bars: std over seeds)")
    return fig


def _not_plotted(entry: dict) -> str:
    """A legend note for a model missing from a panel where it belongs (its cost not measured)."""
    expected = (("latency_ms", "time", True), ("mflops", "MFLOPs", entry["family"] == "deep"))
    missing = [what for cost, what, needed in expected
               if needed and not (_finite(entry[cost][0]) and entry[cost][0] > 0)]
    return f" (no {' or '.join(missing)})" if missing else ""


def _ranking_pairs(rows: Sequence[dict]) -> list[tuple[str, list]]:
    """Per magnitude task, ``(backbone, mae of -mse, mae of -rank)`` for each backbone with both."""
    panels = []
    for task_name in [t for t in TASKS if TASKS[t].registry_task == "magnitude"]:
        summary = {e["model"]: e for e in summarize(rows, task_name)}
        pairs = []
        for name in summary:
            b = name[: -len("-mse")]
            if name.endswith("-mse") and b + "-rank" in summary:
                mse, rank = summary[name]["test_mae"], summary[b + "-rank"]["test_mae"]
                if _finite(mse[0]) and _finite(rank[0]):
                    pairs.append((b, mse, rank))
        if pairs:
            panels.append((task_name, pairs))
    return panels


def _ranking_figure(plt, rows: Sequence[dict]):
    """Ranking against plain regression: MAE of ``<b>-mse`` and ``<b>-rank`` per backbone.

    Horizontal bars, one row per backbone, so that long backbone names stack instead of
    running into each other; ``None`` when no backbone has both models.
    """
    panels = _ranking_pairs(rows)
    if not panels:
        return None
    name_chars = 24
    names = {b: wrap_text(b, name_chars) for _, pairs in panels for b, _, _ in pairs}
    lines = max(n.count("\n") + 1 for n in names.values())
    n_rows = max(len(pairs) for _, pairs in panels)
    # Each backbone row holds its two bars and its (wrapped) name; a fixed part for the titles.
    height = max(3.0, 1.8 + n_rows * max(0.45, 0.2 * lines + 0.1))
    fig, axes = plt.subplots(1, len(panels), figsize=(_PANEL_WIDTH * len(panels), height), squeeze=False,
                             layout="constrained")
    width = 0.38
    for ax, (task_name, pairs) in zip(axes[0], panels):
        idx = np.arange(len(pairs))
        ends = [0.0]
        for offset, which, label in ((-width / 2, 1, "MSE only"), (width / 2, 2, "MSE + ranking")):
            means = [p[which][0] for p in pairs]
            errs = [p[which][1] if _finite(p[which][1]) else 0.0 for p in pairs]
            ax.barh(idx + offset, means, width, xerr=errs, capsize=3, label=label)
            ends += [m + e for m, e in zip(means, errs)]
        ax.set_yticks(idx, [names[p[0]] for p in pairs])
        ax.invert_yaxis()
        ax.set_xlim(0, padded_limits(ends)[1])
        ax.set_xlabel("test MAE (lower is better)")
        ax.set_title(wrap_text(task_name, chars_that_fit(_PANEL_WIDTH - 1, 12)))
        ax.grid(axis="x", alpha=0.3)
    add_figure_legend(fig, *axes[0][0].get_legend_handles_labels())
    _suptitle(fig, "Ranking loss against plain regression, per backbone (bars: std over seeds)")
    return fig
