"""The benchmark runner: every (task, model, seed) trained, timed and reported as the papers do.

``skquake benchmark`` compares registered models on the QuakeSet tasks. One *row* is one
(task, model, seed): fit on the file's train split, score on its validation and test splits,
and measure what the model costs (parameters, FLOPs per sample, fit time, inference time, peak
memory). Rows are appended to ``results.jsonl`` the moment they finish, so a run stopped at any
point and started again skips what is done; the tables, the CSV/JSON and the plots are rebuilt
from that file at the end of every run.

Tasks live in :data:`TASKS` (one decorated loader each, see :func:`register_task`), models in
the model registry (:mod:`skquake.models`), metrics in the metric registry
(:mod:`skquake.metrics`); profiles (:data:`PROFILES`) bundle the settings that make a run quick
or paper-faithful.

The private modules, one concern each: ``_tasks`` (task list), ``_profiles``, ``_host`` (what is
recorded about the computer), ``_deep`` (the torch side of a row: device, FLOPs, selection on
validation; imported only when a run starts, so that this package imports without torch),
``_row`` (one row), ``_isolation`` (a process per row), ``_store`` (``results.jsonl`` and its
lock), ``_runner`` (the run), ``_tables``, ``_plots``, ``_paper`` (the paper's figures, from
``paper_results.json``), ``_reports`` and ``_cli``.
"""
from ._cli import main
from ._paper import PAPER_RESULTS
from ._profiles import PROFILES, Profile
from ._reports import write_reports
from ._runner import run_benchmark
from ._store import read_rows
from ._tasks import TASKS, BenchTask, default_data_file, register_task

__all__ = [
    "PAPER_RESULTS",
    "PROFILES",
    "TASKS",
    "BenchTask",
    "Profile",
    "default_data_file",
    "main",
    "read_rows",
    "register_task",
    "run_benchmark",
    "write_reports",
]
