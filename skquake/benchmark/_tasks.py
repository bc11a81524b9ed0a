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

import h5py

from ..datasets import (
    QuakeSetFormatError,
    check_hdf5_source,
    epicentre_targets,
    load_change,
    load_damage,
    load_epicentre,
    load_quakeset,
    open_quakeset,
    read_change_masks,
    read_damage_layout,
    read_epicentres,
)
from ..datasets.synthetic import GENERATOR_VERSION, make_damage_dataset, make_quakeset
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
        ``make_synthetic(path, **options) -> path``: writes the default synthetic file a profile
        uses when no data file is given (``options``: the profile's generator arguments, e.g.
        ``n_events``). ``None``: the task needs a real file.
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
    unsupervised : bool
        The models are fitted without targets (``fit(X)``): change detection, where training
        sees no masks. ``y`` is still returned by ``load`` for scoring (``None`` where the file
        has no truth: the truth-based metrics are then NaN).
    options : tuple of str
        Runner options the loader takes as keywords (``("epicentres",)``: the epicentre table
        of ``--epicentres``); a value that is not given is passed as ``None``.
    check : callable, optional
        ``check(path, options) -> str or None``: why the task cannot run on this data file
        (the runner then skips it with that note), or ``None``.
    n_examples : int
        Test samples whose inputs, truth and predictions a row keeps for the report's figures
        (``<out>/examples``); 0: none.
    synthetic_current : callable, optional
        ``synthetic_current(path) -> bool``: whether a default synthetic file in the cache was
        written by the current generator (an outdated one is written again).
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
    unsupervised: bool = False
    options: tuple = ()
    check: Callable[[Path, dict], str | None] | None = None
    n_examples: int = 0
    synthetic_current: Callable[[Path], bool] | None = None


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
    unsupervised: bool = False,
    options: Sequence[str] = (),
    check: Callable[[Path, dict], str | None] | None = None,
    n_examples: int = 0,
    synthetic_current: Callable[[Path], bool] | None = None,
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
    description, data_option, make_synthetic, synthetic_name, paper, model_kwargs
        See :class:`BenchTask`.
    select_on_val, unsupervised, options, check, n_examples, synthetic_current
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
    if get_metric(metrics[0]).greater_is_better is None:
        raise ValueError(f"the headline metric of benchmark task {name!r} must have a better direction; "
                         f"{metrics[0]!r} is a statistic")
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
            unsupervised=bool(unsupervised), options=tuple(options), check=check, n_examples=int(n_examples),
            synthetic_current=synthetic_current,
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


def default_data_file(task: str = "magnitude-bitemporal", cache_dir=None, log=None, options=None) -> Path:
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
    options : dict, optional
        Keyword arguments for the task's generator (``{"n_events": 1000}``: a larger file, as
        the medium profile uses); the file name then says them, so that files of different
        sizes live side by side (``quakeset-synthetic-n_events1000.h5``).

    Returns
    -------
    pathlib.Path
    """
    spec = TASKS[task]
    if spec.make_synthetic is None:
        raise ValueError(f"task {task!r} has no built-in synthetic data file")
    options = dict(options or {})
    name = spec.synthetic_name
    if options:
        stem, suffix = os.path.splitext(name)
        name = stem + "".join(f"-{k}{v}" for k, v in sorted(options.items())) + suffix
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
    if path.exists() and spec.synthetic_current is not None and not spec.synthetic_current(path):
        # Written by an older generator (e.g. without masks or epicentres): the file is ours, in
        # our cache, and its results would not be those of today's generator.
        if log is not None:
            log(f"the default synthetic file {path} was written by an older generator: writing it again")
        path.unlink()
    if not path.exists():
        if log is not None:
            log(f"writing the default synthetic file for {task}: {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path = Path(spec.make_synthetic(path, **options))
    return path


# --------------------------------------------------------------------------- QuakeSet tasks
def _load_quakeset(path, split, *, mode, target, pool, lazy):
    if lazy:
        ds = open_quakeset(path, split=split, mode=mode)  # an HDF5 file or a cache folder
        return ds, np.asarray(ds.labels if target == "label" else ds.magnitudes)
    X, y, _ = load_quakeset(path, split=split, mode=mode, target=target, pool=pool)
    return X, y


def _make_default_quakeset(path: Path, **options) -> Path:
    return Path(make_quakeset(path, **{"random_state": 0, **options}))


def _current_quakeset(path: Path) -> bool:
    with h5py.File(path, "r") as f:
        return int(f.attrs.get("generator_version", 1)) == GENERATOR_VERSION


_DETECTION_METRICS = ("accuracy", "f1")
_MAGNITUDE_METRICS = ("mae", "magnitude_accuracy", "spearman", "rmse")


@register_task("detection-bitemporal", registry_task="detection", metrics=_DETECTION_METRICS,
               description="detection, bitemporal input", make_synthetic=_make_default_quakeset,
               synthetic_current=_current_quakeset,
               paper="QuakeSet task 1 (Table 2)")
def load_detection_bitemporal(path, split, *, pool=1, lazy=False):
    """Pre- and post-event images (4 channels), label 0/1."""
    return _load_quakeset(path, split, mode="bitemporal", target="label", pool=pool, lazy=lazy)


@register_task("magnitude-bitemporal", registry_task="magnitude", metrics=_MAGNITUDE_METRICS,
               description="magnitude, bitemporal input", make_synthetic=_make_default_quakeset,
               synthetic_current=_current_quakeset,
               paper="QuakeSet task 2 (Table 3)")
def load_magnitude_bitemporal(path, split, *, pool=1, lazy=False):
    """Pre- and post-event images (4 channels), magnitude (0 for negatives)."""
    return _load_quakeset(path, split, mode="bitemporal", target="magnitude", pool=pool, lazy=lazy)


@register_task("detection-single", registry_task="detection", metrics=_DETECTION_METRICS,
               description="detection, single input", make_synthetic=_make_default_quakeset,
               synthetic_current=_current_quakeset,
               paper="QuakeSet task 5 (Table 4)")
def load_detection_single(path, split, *, pool=1, lazy=False):
    """Post-event image only (2 channels), label 0/1."""
    return _load_quakeset(path, split, mode="single", target="label", pool=pool, lazy=lazy)


@register_task("magnitude-single", registry_task="magnitude", metrics=_MAGNITUDE_METRICS,
               description="magnitude, single input", make_synthetic=_make_default_quakeset,
               synthetic_current=_current_quakeset,
               paper="QuakeSet task 6 (Table 5)")
def load_magnitude_single(path, split, *, pool=1, lazy=False):
    """Post-event image only (2 channels), magnitude (0 for negatives)."""
    return _load_quakeset(path, split, mode="single", target="magnitude", pool=pool, lazy=lazy)


# --------------------------------------------------------------------------- change detection
def _needs_hdf5(path: Path, what: str) -> str | None:
    """Why a cache folder cannot serve a task that reads ``what`` from the HDF5 file, or None."""
    try:
        check_hdf5_source(path, what)
    except ValueError as exc:
        return f"{exc} as --data"
    return None


def _check_change(path, options):
    return _needs_hdf5(path, "the change masks")


_CHANGE_METRICS = ("change_iou_quake", "change_f1_quake", "change_kappa_quake", "change_oa_quake",
                   "change_false_alarm_quake", "change_missed_quake", "change_iou_any", "change_f1_any",
                   "changed_fraction")


# select_on_val=False: training sees no masks, so no epoch may be chosen by scoring masks either.
@register_task("change-bitemporal", registry_task="change", metrics=_CHANGE_METRICS,
               description="unsupervised per-pixel change detection, bitemporal input",
               make_synthetic=_make_default_quakeset, synthetic_current=_current_quakeset,
               paper="QuakeSet task 4 (proposed, no published results)", select_on_val=False,
               unsupervised=True, check=_check_change, n_examples=4)
def load_change_bitemporal(path, split, *, pool=1, lazy=False):
    """Every bitemporal pair (positives and negatives) and its masks ``(n, 2, H, W)``
    (earthquake, any change), or ``None`` for a file without masks (the real one): the
    models are then scored on the statistics that need no truth only."""
    if lazy:  # full-size pairs streamed by the models; masks are 1 byte a pixel
        ds = open_quakeset(path, split=split, mode="bitemporal")
        return ds, read_change_masks(ds)
    X, masks, _ = load_change(path, split=split, pool=pool)
    return X, masks


# --------------------------------------------------------------------------- epicentre tasks
def _check_epicentre(path, options):
    reason = _needs_hdf5(path, "the footprints and epicentres")
    if reason is not None:
        return reason
    table = options.get("epicentres")
    try:
        read_epicentres(path, table=table)
    except QuakeSetFormatError as exc:
        if table is not None:  # a bad table is an error, not a reason to skip
            raise
        # the real file: no epicentre attributes, and no table to take them from
        return f"{exc} (--epicentres TABLE: event_id, longitude, latitude, depth_km; docs/epicentre.md)"
    return None


def _load_epicentre(path, split, *, mode, pool, lazy, epicentres):
    if lazy:
        from ..datasets import LazyImages  # skorch's SliceDataset imports torch: only where used

        ds = open_quakeset(path, split=split, mode=mode)
        # A view without the QuakeSet's own targets (label, magnitude), which are not this task's
        return LazyImages(ds), epicentre_targets(ds, table=epicentres)
    X, y, _ = load_epicentre(path, split=split, mode=mode, pool=pool, table=epicentres)
    return X, y


_EPICENTRE_METRICS = ("epicentre_error_km", "epicentre_accuracy", "epicentre_f1", "depth_mae_km")


@register_task("epicentre-bitemporal", registry_task="epicentre", metrics=_EPICENTRE_METRICS,
               description="epicentre in the patch? where, how deep; bitemporal input",
               make_synthetic=_make_default_quakeset, synthetic_current=_current_quakeset,
               paper="QuakeSet task 3 (proposed, no published results)", options=("epicentres",),
               check=_check_epicentre)
def load_epicentre_bitemporal(path, split, *, pool=1, lazy=False, epicentres=None):
    """Pre- and post-event images (4 channels); ``y`` (n, 4): contains, east km, north km, depth km."""
    return _load_epicentre(path, split, mode="bitemporal", pool=pool, lazy=lazy, epicentres=epicentres)


@register_task("epicentre-single", registry_task="epicentre", metrics=_EPICENTRE_METRICS,
               description="epicentre in the patch? where, how deep; single input",
               make_synthetic=_make_default_quakeset, synthetic_current=_current_quakeset,
               paper="QuakeSet task 7 (proposed, no published results)", options=("epicentres",),
               check=_check_epicentre)
def load_epicentre_single(path, split, *, pool=1, lazy=False, epicentres=None):
    """Post-event image only (2 channels); ``y`` as for ``epicentre-bitemporal``."""
    return _load_epicentre(path, split, mode="single", pool=pool, lazy=lazy, epicentres=epicentres)


# --------------------------------------------------------------------------- damage task
# select_on_val=False: the damage rows have always kept the last epoch of the fusion models
# (they were not skorch nets when the task was added), and their published figures
# (benchmarks/results/quick-damage) are of that setting.
def _make_default_damage(path: Path, **options) -> Path:
    return Path(make_damage_dataset(path, **{"random_state": 0, **options}))


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
