"""The benchmark runner: every (task, model, seed) trained, timed and reported as the papers do."""
from ._benchmark import (
    PAPER_RESULTS,
    PROFILES,
    TASKS,
    BenchTask,
    Profile,
    default_data_file,
    main,
    read_rows,
    register_task,
    run_benchmark,
    write_reports,
)

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
