"""The reports rebuilt from ``results.jsonl`` after every run: CSV, JSON, Markdown and plots."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Callable, Sequence

from ._host import now
from ._paper import PAPER_RESULTS, reference_table
from ._plots import draw_plots
from ._store import RESULTS_FILE, latest_rows, read_rows, write_text
from ._tables import csv_value, task_table
from ._tasks import TASKS

__all__ = ["write_reports"]

_CSV_FRONT = [
    "task", "model", "seed", "status", "error", "family", "paper_name", "config_id", "profile", "device",
    "n_train", "n_val", "n_test", "input_shape",
]
_CSV_COST = [
    "n_params", "params_kind", "mflops", "fit_s", "predict_s", "infer_ms_per_sample", "throughput_sps",
    "latency_ms", "peak_rss_mb", "peak_rss_scope", "gpu_peak_mb", "load_avg_1min",
]
_CSV_BACK = ["overrides", "data", "machine", "versions", "command", "started_at", "finished_at"]


def _write_tables(out: Path, rows: Sequence[dict]) -> list[Path]:
    """``results.csv`` and ``results.json``: every row, atomically replaced."""
    extra = sorted({k for r in rows for k in r} - set(_CSV_FRONT) - set(_CSV_COST) - set(_CSV_BACK) - {"traceback"})
    metric_cols = [k for k in extra if k.startswith(("test_", "val_"))]
    other = [k for k in extra if k not in metric_cols]
    columns = _CSV_FRONT + metric_cols + _CSV_COST + other + _CSV_BACK
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_value(r.get(k)) for k in columns})
    write_text(out / "results.csv", buffer.getvalue())
    write_text(out / "results.json", json.dumps(rows, indent=1, sort_keys=True, default=str))
    return [out / "results.csv", out / "results.json"]


def _preamble(shown: Sequence[dict], config_ids, command: str | None) -> list[str]:
    """The top of ``results.md``: commands, what the figures are, device, load, versions."""
    md = ["# skquake benchmark results", ""]
    commands = list(dict.fromkeys(r["command"] for r in shown if r.get("command")))
    if commands:
        md += ["Rows produced by:", "", "```bash", *commands, "```", ""]
    if command and command not in commands:
        md += [f"Tables rebuilt by `{command}`.", ""]
    md += [
        f"Written {now()} from `{RESULTS_FILE}` in this folder (configs: "
        f"{', '.join(sorted(config_ids)) or '-'}; `configs.json` says what each id stands for).",
        "Every figure below was measured by the runner; the papers' figures appear only in the",
        "reference tables at the end. Metrics: test split, mean ± std over seeds. Time: median",
        "wall time of one single-sample `predict`; MFLOPs: PyTorch's FLOP counter on one sample",
        "(deep models only); Params: torch parameters (deep) or fitted values (shallow: PCA/SVM",
        "arrays + tree nodes); Peak RSS: the row's process, data included.",
        "",
    ]
    devices = sorted({str(r.get("device")) for r in shown if r.get("device")})
    cpus = sorted({str(r["machine"].get("cpu")) for r in shown if isinstance(r.get("machine"), dict)})
    if devices:
        md += [f"Device: {'; '.join(devices)}" + (f"; CPU: {'; '.join(cpus)}" if cpus else "") + ".", ""]
    loads = [r["load_avg_1min"] for r in shown if r.get("load_avg_1min") is not None]
    if loads:
        md += [
            f"1-minute load average when the rows started: {min(loads):.1f} to {max(loads):.1f} "
            f"(timings from a machine busy with other jobs are slower than a quiet one's).",
            "",
        ]
    versions = next((r.get("versions") for r in reversed(shown) if r.get("versions")), None)
    if versions:
        md += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", ""]
    return md


def _task_sections(shown: Sequence[dict]) -> list[str]:
    """One section per task (registered tasks in their order, then unknown ones): its table,
    the validation table and the failed rows."""
    md = []
    known = [t for t in TASKS if any(r["task"] == t for r in shown)]
    for task_name in known + sorted({r["task"] for r in shown} - set(TASKS)):
        task = TASKS.get(task_name)
        title = f"## {task_name}" + (f" — {task.description}" if task and task.description else "")
        md += [title, ""]
        if task and task.paper:
            md += [f"As in {task.paper}.", ""]
        task_rows = [r for r in shown if r["task"] == task_name]
        n_ok = sum(r["status"] == "ok" for r in task_rows)
        shapes = sorted({str(r.get("input_shape")) for r in task_rows if r.get("input_shape")})
        md += [f"{n_ok} rows ok; input {', '.join(shapes) or '-'}.", ""]
        md += task_table(shown, task_name) + [""]
        failed = [r for r in task_rows if r["status"] != "ok"]
        if failed:
            md += ["Failed rows:", ""]
            md += [f"- {r['model']} seed {r['seed']}: `{str(r.get('error', ''))[:300]}`" for r in failed] + [""]
    return md


def _reference_sections(shown: Sequence[dict]) -> list[str]:
    """The paper's own figures for the tasks shown, in a section of their own."""
    ref_tasks = [t for t in PAPER_RESULTS if any(r["task"] == t for r in shown)]
    if not ref_tasks:
        return []
    md = [
        "## Reference: figures reported by the QuakeSet paper (not measured here)",
        "",
        "Rege Cambrin & Garza, ISCRAM 2024, Tables 2-5: the real file at 512 x 512, test split,",
        "one run; time for one sample and MFLOPs on an Intel i9-10980XE CPU.",
        "",
    ]
    for t in ref_tasks:
        md += [f"### {t}", ""] + reference_table(t) + [""]
    return md


def write_reports(
    out: str | os.PathLike,
    *,
    config_ids: set | None = None,
    plots: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> list[Path]:
    """Rebuild ``results.csv``, ``results.json``, ``results.md`` and the plots from
    ``results.jsonl`` in ``out``.

    CSV and JSON hold every row ever recorded there (latest per task/model/seed/config);
    the Markdown tables and plots show the rows of ``config_ids`` (default: the config of
    the most recent row of each task).

    Parameters
    ----------
    out : path
        The results folder (holding ``results.jsonl``).
    config_ids : set of str, optional
        The configs the Markdown tables and plots show.
    plots : bool, default=True
        Draw the plots (needs matplotlib).
    log : callable, default=print
        Called with notes (e.g. plots skipped).
    command : str, optional
        The command that rebuilt the tables, named in ``results.md``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out)
    rows, _ = read_rows(out / RESULTS_FILE)
    rows = latest_rows(rows)
    files = _write_tables(out, rows)

    if config_ids is None:
        config_ids = set()
        for t in {r["task"] for r in rows}:
            config_ids.add([r for r in rows if r["task"] == t][-1]["config_id"])
    shown = [r for r in rows if r["config_id"] in config_ids]
    other_configs = sorted({r["config_id"] for r in rows} - set(config_ids))

    md = _preamble(shown, config_ids, command) + _task_sections(shown)
    if other_configs:
        md += [
            f"{len(other_configs)} other config(s) in `{RESULTS_FILE}` / `results.csv` are not in these tables: "
            f"{', '.join(other_configs)}.",
            "",
        ]
    plot_files = []
    if plots:
        plot_files = draw_plots(out, shown, log)
        if plot_files:
            md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plot_files] + [""]
    md += _reference_sections(shown)
    write_text(out / "results.md", "\n".join(md) + "\n")
    files.append(out / "results.md")
    return files + plot_files
