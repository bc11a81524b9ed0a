"""The benchmark's task list: what each task reads, which models it takes, how it is scored.

A task is one decorated loader function::

    @register_task("magnitude-bitemporal", registry_task="magnitude",
                   metrics=("mae", "magnitude_accuracy", "spearman", "rmse"))
    def load_magnitude_bitemporal(path, split, *, pool=1, lazy=False):
        ...
        return X, y

The runner, the reports and the plots read :data:`TASKS` and nothing else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..datasets import QuakeSet, load_damage, load_quakeset, read_damage_layout
from ..datasets.synthetic import make_damage_dataset, make_quakeset
from ..metrics import get_metric

__all__ = ["TASKS", "BenchTask", "default_cache_dir", "default_data_file", "register_task"]


@dataclass(frozen=True)
class BenchTask:
    """One benchmark task: which data it reads, which models it takes, how it is scored.

    Parameters
    ----------
    name : str
        Task name used by ``--tasks`` and in every output (``"magnitude-bitemporal"``).
    registry_task : str
        The registry task of the models it takes (``"detection"``, ``"magnitude"``,
        ``"damage"``): a model runs on this task when ``spec.task == registry_task``.
    load : callable
        ``load(path, split, *, pool=1, lazy=False) -> (X, y)`` for ``split`` in
        ``{"train", "val", "test"}``. ``X`` is a 4-D array (or, with ``lazy=True``, a dataset
        the estimators accept, with ``y`` still the target array); ``y`` the target the
        metrics compare predictions with.
    metrics : tuple of str
        Names of the metric registry (:func:`skquake.metrics.get_metric`); the first is the
        task's headline metric (selection on validation, plots, table order).
    description : str
        One line for the tables.
    data_option : str
        Which option gives its data file: ``"data"`` (``--data``) or ``"damage_data"``
        (``--damage-data``).
    make_synthetic : callable, optional
        ``make_synthetic(path) -> path``: writes the default synthetic file a profile uses
        when no data file is given. ``None``: the task needs a real file.
    synthetic_name : str
        File name of that default file in the cache directory.
    paper : str, optional
        Where the task comes from (e.g. ``"QuakeSet task 1, Table 2"``).
    model_kwargs : callable, optional
        ``model_kwargs(path) -> dict`` of keyword arguments for the model factories of this
        task that depend on the data file (e.g. the damage file's column layout).
    select_on_val : bool
        Whether its deep (skorch) models keep the weights of their best epoch on the
        validation split when the profile selects on validation; ``False``: they train for
        exactly ``max_epochs`` and keep the last weights.
    """

    name: str
    registry_task: str
    load: Callable[..., tuple]
    metrics: tuple
    description: str = ""
    data_option: str = "data"
    make_synthetic: Callable[[Path], Path] | None = None
    synthetic_name: str = "quakeset-synthetic.h5"
    paper: str | None = None
    model_kwargs: Callable[[Path], dict] | None = None
    select_on_val: bool = True


#: Task name -> :class:`BenchTask`, in table order. Add a task with :func:`register_task`.
TASKS: dict[str, BenchTask] = {}

_DATA_OPTIONS = ("data", "damage_data")


def register_task(
    name: str,
    *,
    registry_task: str,
    metrics: Sequence[str],
    description: str = "",
    data_option: str = "data",
    make_synthetic: Callable[[Path], Path] | None = None,
    synthetic_name: str = "quakeset-synthetic.h5",
    paper: str | None = None,
    model_kwargs: Callable[[Path], dict] | None = None,
    select_on_val: bool = True,
):
    """Decorator that registers a loader function as the benchmark task ``name``.

    The decorated function is the task's ``load(path, split, *, pool=1, lazy=False) -> (X, y)``
    and is returned unchanged; the other arguments are the fields of :class:`BenchTask`.

    Parameters
    ----------
    name : str
        Task name; a second task under one name is an error.
    registry_task : str
        Models registered with ``task=registry_task`` run on it.
    metrics : sequence of str
        Registered metric names, headline first (at least one).
    description, data_option, make_synthetic, synthetic_name, paper, model_kwargs, select_on_val
        See :class:`BenchTask`.

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> @register_task("my-task", registry_task="magnitude", metrics=("mae",))  # doctest: +SKIP
    ... def load_my_task(path, split, *, pool=1, lazy=False):
    ...     return X, y
    """
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError(f"benchmark task {name!r} needs at least one metric")
    for metric in metrics:
        get_metric(metric)  # a KeyError naming the close matches, now rather than after a run
    if data_option not in _DATA_OPTIONS:
        raise ValueError(f"data_option of benchmark task {name!r} must be one of {_DATA_OPTIONS}, "
                         f"got {data_option!r}")

    def decorator(load):
        if name in TASKS:
            raise ValueError(f"benchmark task {name!r} is already registered")
        TASKS[name] = BenchTask(
            name=name, registry_task=registry_task, load=load, metrics=metrics, description=description,
            data_option=data_option, make_synthetic=make_synthetic, synthetic_name=synthetic_name,
            paper=paper, model_kwargs=model_kwargs, select_on_val=bool(select_on_val),
        )
        return load

    return decorator


def default_cache_dir() -> Path:
    """Where default synthetic files live: ``$SKQUAKE_CACHE_DIR`` or ``~/.cache/skquake``."""
    env = os.environ.get("SKQUAKE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skquake"


def default_data_file(task: str = "magnitude-bitemporal", cache_dir=None, log=None) -> Path:
    """The built-in synthetic data file of ``task``, written to the cache on first use.

    The quick profile and the scripts under ``benchmarks/`` share it, so "the default
    synthetic file" is one file (``$SKQUAKE_CACHE_DIR`` or ``~/.cache/skquake``).

    Parameters
    ----------
    task : str, default="magnitude-bitemporal"
        A task of :data:`TASKS` with a ``make_synthetic``.
    cache_dir : path, optional
        Folder of the file (default :func:`default_cache_dir`).
    log : callable, optional
        Called with one line when the file is written.

    Returns
    -------
    pathlib.Path
    """
    spec = TASKS[task]
    if spec.make_synthetic is None:
        raise ValueError(f"task {task!r} has no built-in synthetic data file")
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / spec.synthetic_name
    if not path.exists():
        if log is not None:
            log(f"writing the default synthetic file for {task}: {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path = Path(spec.make_synthetic(path))
    return path


# --------------------------------------------------------------------------- QuakeSet tasks
def _load_quakeset(path, split, *, mode, target, pool, lazy):
    if lazy:
        ds = QuakeSet(path, split=split, mode=mode)
        return ds, np.asarray(ds.labels if target == "label" else ds.magnitudes)
    X, y, _ = load_quakeset(path, split=split, mode=mode, target=target, pool=pool)
    return X, y


def _make_default_quakeset(path: Path) -> Path:
    return Path(make_quakeset(path, random_state=0))


_DETECTION_METRICS = ("accuracy", "f1")
_MAGNITUDE_METRICS = ("mae", "magnitude_accuracy", "spearman", "rmse")


@register_task("detection-bitemporal", registry_task="detection", metrics=_DETECTION_METRICS,
               description="detection, bitemporal input", make_synthetic=_make_default_quakeset,
               paper="QuakeSet task 1 (Table 2)")
def load_detection_bitemporal(path, split, *, pool=1, lazy=False):
    """Pre- and post-event images (4 channels), label 0/1."""
    return _load_quakeset(path, split, mode="bitemporal", target="label", pool=pool, lazy=lazy)


@register_task("magnitude-bitemporal", registry_task="magnitude", metrics=_MAGNITUDE_METRICS,
               description="magnitude, bitemporal input", make_synthetic=_make_default_quakeset,
               paper="QuakeSet task 2 (Table 3)")
def load_magnitude_bitemporal(path, split, *, pool=1, lazy=False):
    """Pre- and post-event images (4 channels), magnitude (0 for negatives)."""
    return _load_quakeset(path, split, mode="bitemporal", target="magnitude", pool=pool, lazy=lazy)


@register_task("detection-single", registry_task="detection", metrics=_DETECTION_METRICS,
               description="detection, single input", make_synthetic=_make_default_quakeset,
               paper="QuakeSet task 5 (Table 4)")
def load_detection_single(path, split, *, pool=1, lazy=False):
    """Post-event image only (2 channels), label 0/1."""
    return _load_quakeset(path, split, mode="single", target="label", pool=pool, lazy=lazy)


@register_task("magnitude-single", registry_task="magnitude", metrics=_MAGNITUDE_METRICS,
               description="magnitude, single input", make_synthetic=_make_default_quakeset,
               paper="QuakeSet task 6 (Table 5)")
def load_magnitude_single(path, split, *, pool=1, lazy=False):
    """Post-event image only (2 channels), magnitude (0 for negatives)."""
    return _load_quakeset(path, split, mode="single", target="magnitude", pool=pool, lazy=lazy)


# --------------------------------------------------------------------------- damage task
# select_on_val=False: the damage rows have always kept the last epoch of the fusion models
# (they were not skorch nets when the task was added), and their published figures
# (benchmarks/results/quick-damage) are of that setting.
def _make_default_damage(path: Path) -> Path:
    return Path(make_damage_dataset(path, random_state=0))


@register_task("damage", registry_task="damage",
               metrics=("f1_macro", "roc_auc_macro", "accuracy", "precision_macro", "recall_macro"),
               description="building damage, 4 ordered classes, image chip + metadata",
               data_option="damage_data", make_synthetic=_make_default_damage,
               synthetic_name="damage-synthetic.h5", paper="QuakeMetaFormer (Table 8)",
               model_kwargs=read_damage_layout, select_on_val=False)
def load_damage_task(path, split, *, pool=1, lazy=False):
    """The 2-D layout ``[flattened chip | metadata]`` the damage models take, 4 ordered classes.

    Chips are small (32 x 32 by default), so ``pool`` and ``lazy`` are ignored. Macro AUC
    comes from ``predict_proba``.
    """
    X, y, _ = load_damage(path, split=split)
    return X, y
