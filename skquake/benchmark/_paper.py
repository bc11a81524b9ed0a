"""The QuakeSet paper's own figures, read from ``paper_results.json`` (package data).

They appear only in the labelled reference section of ``results.md``, never mixed into
measured rows. The file says where each figure comes from; correcting one is an edit of the
data file, not of code.
"""
from __future__ import annotations

import json
from importlib import resources

from ..metrics import get_metric

__all__ = ["PAPER_RESULTS", "reference_table"]

_FILE = "paper_results.json"


def _load() -> dict:
    doc = json.loads(resources.files(__package__).joinpath(_FILE).read_text(encoding="utf-8"))
    return {
        task: {
            "metrics": tuple(entry["metrics"]),
            "rows": [(r["model"], r["params"], tuple(r["values"]), r["time_s"], r["mflops"]) for r in entry["rows"]],
        }
        for task, entry in doc["tasks"].items()
    }


#: Task name -> ``{"metrics": (name, ...), "rows": [(model, params, values, time_s, mflops), ...]}``:
#: the figures of the QuakeSet paper (Rege Cambrin & Garza, ISCRAM 2024, Tables 2-5: test set;
#: time in seconds for one sample and MFLOPs on an Intel i9-10980XE CPU).
PAPER_RESULTS = _load()


def reference_table(task_name: str) -> list[str]:
    """Markdown lines of the paper's table for ``task_name`` (none for a task it lacks)."""
    ref = PAPER_RESULTS.get(task_name)
    if not ref:
        return []
    head = ["Model (paper)", "Params"] + [get_metric(m).label for m in ref["metrics"]] + ["Time (s)", "MFLOPs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, params, values, secs, mflops in ref["rows"]:
        lines.append("| " + " | ".join([name, params, *(f"{v:.4f}" for v in values), f"{secs:.4f}", f"{mflops:g}"]) + " |")
    return lines
