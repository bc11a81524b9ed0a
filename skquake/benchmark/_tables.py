"""Rows summarised over seeds and laid out as the papers' tables (Markdown cells and CSV values)."""
from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np

from ..metrics import get_metric
from ..models import list_models
from ._row import INTERVAL_METRICS
from ._tasks import TASKS

__all__ = ["csv_value", "mean_std", "summarize", "task_table"]

_SUMMARY_COSTS = ("fit_s", "latency_ms", "infer_ms_per_sample", "throughput_sps", "mflops", "n_params", "peak_rss_mb")


def csv_value(value):
    """A cell of ``results.csv``: nested values as JSON, ``None`` as empty."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if value is None:
        return ""
    return value


def _fmt_count(n) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    n = float(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}"


def _fmt_num(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 else f"{x:.{digits}f}"


def _fmt_cost(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"


def mean_std(values) -> tuple:
    """(mean, std with ddof=1 or None for one value, count) of the finite values; (None, None, 0)
    when there are none."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None, 0
    mean = float(np.mean(vals))
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return mean, std, len(vals)


def _pm(values, digits=4) -> str:
    mean, std, n = mean_std(values)
    if mean is None:
        return "-"
    return _fmt_num(mean, digits) if std is None else f"{_fmt_num(mean, digits)} ± {_fmt_num(std, digits)}"


def _metric_names(rows: Sequence[dict], task_name: str) -> tuple:
    """The task's metrics, then the interval metrics when its rows have them (``--interval``)."""
    task = TASKS.get(task_name)
    names = task.metrics if task else ()
    if any(r["task"] == task_name and f"test_{INTERVAL_METRICS[0]}" in r for r in rows):
        names += INTERVAL_METRICS
    return names


def summarize(rows: Sequence[dict], task_name: str) -> list[dict]:
    """Per model: mean and std over seeds of every measured column (rows with status ok).

    Parameters
    ----------
    rows : sequence of dict
        Rows of the results store.
    task_name : str

    Returns
    -------
    list of dict
        One entry per model (shallow models first, then registry order): ``model``,
        ``family``, ``n_seeds``, ``rows``, ``device`` and, per measured column,
        ``(mean, std, count)`` from :func:`mean_std`.
    """
    order = {m: i for i, m in enumerate(list_models())}
    metric_names = _metric_names(rows, task_name)
    groups: dict[str, list] = {}
    for row in rows:
        if row["task"] == task_name and row.get("status") == "ok":
            groups.setdefault(row["model"], []).append(row)
    out = []
    for model, rs in groups.items():
        entry = {"model": model, "family": rs[0].get("family", ""), "n_seeds": len(rs), "rows": rs}
        for col in [f"test_{m}" for m in metric_names] + [f"val_{m}" for m in metric_names] + list(_SUMMARY_COSTS):
            entry[col] = mean_std([r.get(col) for r in rs])
        entry["device"] = ", ".join(sorted({str(r.get("device", "")) for r in rs}))
        out.append(entry)
    out.sort(key=lambda e: (e["family"] != "shallow", order.get(e["model"], len(order)), e["model"]))
    return out


def task_table(rows: Sequence[dict], task_name: str) -> list[str]:
    """Markdown lines of one task: the papers' layout on the test split, then a validation table."""
    metrics = _metric_names(rows, task_name)
    summary = summarize(rows, task_name)
    head = ["Model", "Params"]
    levels = sorted({r["interval_level"] for r in rows if r["task"] == task_name and "interval_level" in r})
    for m in metrics:
        arrow = {True: " ↑", False: " ↓", None: ""}[get_metric(m).greater_is_better]  # None: a statistic
        if m == INTERVAL_METRICS[0]:  # coverage: the goal is the nominal level, not 1
            arrow = f" (target {', '.join(f'{level:g}' for level in levels)})"
        head.append(f"{get_metric(m).label}{arrow}")
    head += ["Time (ms/sample) ↓", "MFLOPs ↓", "Fit (s)", "Throughput (samples/s)", "Peak RSS (MiB)", "Seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["model"], _fmt_count(e["n_params"][0])]
        cells += [_pm([r.get(f"test_{m}") for r in e["rows"]]) for m in metrics]
        cells += [
            _pm([r.get("latency_ms") for r in e["rows"]], 3),
            _fmt_cost(e["mflops"][0]),
            _pm([r.get("fit_s") for r in e["rows"]], 3),
            _fmt_cost(e["throughput_sps"][0]),
            _fmt_cost(max((r.get("peak_rss_mb") or 0 for r in e["rows"]), default=None)),
            str(e["n_seeds"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    val_lines = []
    if summary:
        val_lines = ["", "Validation split (same rows):", ""]
        vhead = ["Model"] + [f"val {get_metric(m).label}" for m in metrics]
        val_lines += ["| " + " | ".join(vhead) + " |", "|" + "---|" * len(vhead)]
        for e in summary:
            val_lines.append(
                "| " + " | ".join([e["model"]] + [_pm([r.get(f"val_{m}") for r in e["rows"]]) for m in metrics]) + " |"
            )
    return lines + val_lines
