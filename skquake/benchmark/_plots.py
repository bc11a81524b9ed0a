"""The benchmark's plots: each task's headline metric against cost, and ranking against MSE.

matplotlib is optional (``pip install "skquake[plot]"``); without it the plots are skipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..metrics import get_metric
from ._tables import summarize
from ._tasks import TASKS

__all__ = ["draw_plots"]


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
        task = TASKS[task_name]
        metric = task.metrics[0]
        spec = get_metric(metric)
        summary = [e for e in summarize(rows, task_name) if e[f"test_{metric}"][0] is not None]
        if not summary:
            continue
        colors = {e["model"]: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(summary)}
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, cost, label in (
            (axes[0], "latency_ms", "inference time, one sample (ms, log)"),
            (axes[1], "mflops", "MFLOPs per sample (log; deep models)"),
        ):
            any_point = False
            for e in summary:
                x = e[cost][0]
                if x is None or x <= 0:
                    continue
                y, yerr, _ = e[f"test_{metric}"]
                marker = "o" if e["family"] == "deep" else "s"
                ax.errorbar([x], [y], yerr=[yerr or 0.0], fmt=marker, capsize=3, color=colors[e["model"]])
                ax.annotate(e["model"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
                any_point = True
            if any_point:
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(f"test {spec.label}" + ("" if spec.greater_is_better else " (lower is better)"))
            ax.grid(alpha=0.3)
        fig.suptitle(f"{task_name}: quality against cost (squares: shallow, circles: deep; bars: std over seeds)")
        fig.tight_layout()
        path = plot_dir / f"{task_name}_{metric}_vs_cost.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    ranking = _ranking_plot(plot_dir, rows, plt)
    if ranking is not None:
        files.append(ranking)
    elif any(TASKS[r["task"]].registry_task == "magnitude" for r in rows if r.get("task") in TASKS):
        # Only worth saying where a magnitude task ran (a damage-only run has nothing to pair).
        log("no '<backbone>-mse' / '<backbone>-rank' pair with results: ranking plot skipped")
    return files


def _ranking_plot(plot_dir: Path, rows: Sequence[dict], plt) -> Path | None:
    """Ranking against plain regression: MAE of ``<b>-mse`` and ``<b>-rank`` per backbone."""
    panels = []
    for task_name in [t for t in TASKS if TASKS[t].registry_task == "magnitude"]:
        summary = {e["model"]: e for e in summarize(rows, task_name)}
        pairs = []
        for name in summary:
            if name.endswith("-mse") and name[: -len("-mse")] + "-rank" in summary:
                b = name[: -len("-mse")]
                pairs.append((b, summary[name]["test_mae"], summary[b + "-rank"]["test_mae"]))
        if pairs:
            panels.append((task_name, pairs))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (task_name, pairs) in zip(axes[0], panels):
        idx = np.arange(len(pairs))
        width = 0.38
        for offset, which, label in ((-width / 2, 1, "MSE only"), (width / 2, 2, "MSE + ranking")):
            means = [p[which][0] for p in pairs]
            errs = [p[which][1] or 0.0 for p in pairs]
            ax.bar(idx + offset, means, width, yerr=errs, capsize=3, label=label)
        ax.set_xticks(idx)
        ax.set_xticklabels([p[0] for p in pairs], rotation=20)
        ax.set_ylabel("test MAE (lower is better)")
        ax.set_title(task_name)
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Ranking loss against plain regression, per backbone (bars: std over seeds)")
    fig.tight_layout()
    path = plot_dir / "ranking_vs_mse.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
