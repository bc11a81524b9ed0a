"""``fit_model``: train a registered model on a QuakeSet file, score it on the test split, save it."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ..benchmark import TASKS
from ..datasets import MODES, open_quakeset
from ..metrics import compute_metrics, metric_probabilities
from ..models import create_model, get_model_spec, read_manifest, save_model
from ..uncertainty import ConformalRegressor
from ..utils import (
    Interval,
    InvalidParameterError,
    StrictInterval,
    StrOptions,
    validate_params,
)

__all__ = ["QUAKESET_TASKS", "fit_model", "split_half_width"]

# What ``y`` holds, where it is not named after the registry task.
_TARGETS = {"detection": "label", "change": "masks"}


class _QuakeSetTasks(Mapping):
    """The benchmark's tasks that read a QuakeSet file (``--data``), named ``<kind>-<mode>``: name ->
    (registry task, input mode, target). A live view of the task registry, so that a task
    registered after import (``skquake.benchmark.register_task``) can be trained too."""

    def _tasks(self) -> dict:
        out = {}
        for name, task in TASKS.items():
            mode = name.rsplit("-", 1)[-1]
            # damage reads another file (--damage-data); a task without an input mode in its name
            # cannot say how predict_file should read the images
            if task.data_option == "data" and mode in MODES:
                out[name] = (task.registry_task, mode, _TARGETS.get(task.registry_task, task.registry_task))
        return out

    def __getitem__(self, name):
        return self._tasks()[name]

    def __iter__(self):
        return iter(self._tasks())

    def __len__(self):
        return len(self._tasks())

    def __repr__(self):
        return f"QUAKESET_TASKS({self._tasks()!r})"


#: The QuakeSet tasks a model file can be trained for: name -> (registry task, input mode, target),
#: read from the benchmark's task registry (:data:`skquake.benchmark.TASKS`) on each use: the same
#: names, data and metrics as ``skquake benchmark --tasks``.
QUAKESET_TASKS = _QuakeSetTasks()
#: ``train_on`` -> the splits read for training.
TRAIN_SPLITS = {"train": ("train",), "train+val": ("train", "val")}
#: The fraction of the training events ``interval=`` sets aside to calibrate the intervals.
CALIBRATION_FRACTION = 0.25


def _seeded(estimator, seed, params):
    """Every ``random_state`` of ``estimator`` (also inside a pipeline) set to ``seed``, unless
    ``params`` fixes it; returns the parameters set."""
    names = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return {k: int(seed) for k in names if k not in params}


def _load(task, path, splits, *, pool, options):
    """``(X, y)`` of ``splits`` concatenated, read by the benchmark task's loader; ``y`` is None
    when a split has no truth (change masks of the real file)."""
    parts = [task.load(path, s, pool=pool, lazy=False, **options) for s in splits]
    X = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    ys = [p[1] for p in parts]
    y = None if any(v is None for v in ys) else ys[0] if len(ys) == 1 else np.concatenate(ys)
    return X, y


def _groups(path, splits):
    """The event id of every sample of ``splits``, in the loaders' order."""
    out = []
    for split in splits:
        with open_quakeset(path, split=split) as ds:  # an HDF5 file or a cache folder
            out.append(np.asarray(ds.groups))
    return np.concatenate(out)


def split_half_width(conformal, X, y) -> float:
    """The half-width ``q`` of a fitted split-conformal regressor's intervals.

    With absolute residuals as conformity scores (MAPIE's default) the split interval is
    ``prediction - q, prediction + q`` for every sample, ``q`` the conformal quantile of the
    calibration residuals: the ``ceil(level * (n + 1)) / n`` quantile with NumPy's
    ``method="lower"`` (MAPIE's finite-sample correction, computed here as MAPIE does so that
    ``predict(X) -/+ q`` reproduces ``predict_interval`` to the last bit; the tests check it).

    Parameters
    ----------
    conformal : ConformalRegressor
        Fitted with ``method="split"`` on ``X, y``.
    X, y
        The data it was fitted on (its ``splits_`` index them).

    Returns
    -------
    float
    """
    _, calibration = conformal.splits_[0]
    scores = np.abs(y[calibration] - conformal.estimator_.predict(X[calibration]))
    alpha = 1 - conformal.confidence_level
    level = math.ceil((1 - alpha) * (len(scores) + 1)) / len(scores)
    return float(np.nanquantile(scores, level, method="lower"))


def _test_metrics(estimator, task, path, *, pool, options, half_width=None) -> dict:
    """The benchmark task's metrics on the file's test split, computed as the benchmark does
    (empty when it has no sample; NaN where a metric needs a truth the file lacks); with
    ``half_width``, also the coverage and mean width of the intervals ``prediction -/+ it``."""
    X, y = _load(task, path, ("test",), pool=pool, options=options)
    if len(X) == 0:
        return {}
    y_pred = estimator.predict(X)
    metrics = compute_metrics(task.metrics, y, y_pred, *metric_probabilities(estimator, X, task.metrics))
    if half_width is not None:
        intervals = np.column_stack([y_pred - half_width, y_pred + half_width])
        metrics.update(compute_metrics(("coverage", "interval_width"), y, y_interval=intervals))
    return metrics


def _task_options(task, data, **given) -> dict:
    """The keyword options of ``task``'s loader (``{"epicentres": table}``), checked: an option the
    task does not take is refused, and so is a file the task cannot run on (its ``check`` note)."""
    for name, value in given.items():
        if value is not None and name not in task.options:
            takers = sorted(t for t in QUAKESET_TASKS if name in TASKS[t].options)
            raise ValueError(f"{name}={str(value)!r} is read by the tasks {', '.join(takers)}; task {task.name!r} "
                             f"takes no {name} (leave it out)")
    options = {name: given.get(name) for name in task.options}
    note = task.check(Path(data), options) if task.check is not None else None
    if note is not None:
        # A note that asks for a runner option (--epicentres TABLE) asks for our keyword of that name
        hints = [f"{name}=TABLE" for name in task.options if options[name] is None and f"--{name}" in note]
        raise ValueError(f"task {task.name!r} cannot be trained on {data}: {note}"
                         + (f"; pass {', '.join(hints)}" if hints else ""))
    return options


def _fit_interval(estimator, X, y, groups, *, level, seed):
    """Split-conformal calibration by event: ``(fitted inner regressor, interval record)``."""
    conformal = ConformalRegressor(estimator, method="split", confidence_level=level, cv=CALIBRATION_FRACTION,
                                   random_state=seed)
    try:
        conformal.fit(X, y, groups=groups)
    except ValueError as exc:
        if "finite interval" not in str(exc):  # the model's own errors pass as they are
            raise
        raise ValueError(f"interval={level} cannot be calibrated on this training set: {exc}") from None
    train, calibration = conformal.splits_[0]
    record = {
        "method": "split", "confidence_level": float(level), "conformity_score": "absolute",
        "half_width": split_half_width(conformal, X, y), "calibration_fraction": CALIBRATION_FRACTION,
        "n_fit": int(len(train)), "n_calibration": int(len(calibration)),
        "calibration_events": int(np.unique(groups[calibration]).size), "random_state": seed,
    }
    return conformal.estimator_, record


@validate_params(
    {
        "model": [str],
        "data": [str, os.PathLike],
        "out": [str, os.PathLike],
        "task": [str],
        "params": [dict, None],
        "train_on": [StrOptions(set(TRAIN_SPLITS))],
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
        "seed": [Integral, None],
        "interval": [Interval(Real, 0, 1, closed="neither"), None],
        "epicentres": [str, os.PathLike, None],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fit_model(model, data, out, *, task, params=None, train_on="train", pool=1, seed=None,
              interval=None, epicentres=None, overwrite=False) -> dict:
    """Train ``model`` on a QuakeSet file's training split, score it on its test split, save it.

    Parameters
    ----------
    model : str
        Registry name (``skquake.list_models()``) of a model of the task's kind.
    data : path-like
        A QuakeSet HDF5 file.
    out : path-like
        The model file to write (``.skq``, see :func:`skquake.models.save_model`); an existing
        one is replaced only with ``overwrite=True`` (checked before training).
    task : str
        What to predict, from which input: a QuakeSet task of the benchmark
        (:data:`QUAKESET_TASKS`: ``"detection-bitemporal"``, ``"magnitude-bitemporal"``,
        ``"detection-single"``, ``"magnitude-single"``, ``"change-bitemporal"``,
        ``"epicentre-bitemporal"``, ``"epicentre-single"``), read and scored as
        ``skquake benchmark`` reads and scores it. ``change-bitemporal`` is unsupervised: the
        model is fitted on the images alone (``fit(X)``), the change masks, where the file has
        them, only score it. The building-damage task reads another file: its models are
        trained from Python or by the benchmark.
    params : dict, optional
        Overrides for the model's factory (``{"max_epochs": 3}``).
    train_on : {"train", "train+val"}, default="train"
        The splits it trains on.
    pool : int, default=1
        Average-pooling factor of the images (recorded: ``predict`` pools the same way).
    seed : int, optional
        Sets every ``random_state`` of the model that ``params`` does not fix.
    interval : float in (0, 1), optional
        Magnitude tasks: the confidence level of split-conformal prediction intervals
        (:class:`skquake.uncertainty.ConformalRegressor`, ``method="split"``, the `uncertainty`
        extra). The model is fitted on 75% of the training events and the interval's
        half-width calibrated on the other 25% (``seed`` draws them); the manifest's
        ``interval`` records it, its ``metrics`` the test ``coverage`` and ``interval_width``,
        and :func:`predict_file` writes ``lower`` and ``upper``.
    epicentres : path-like, optional
        Epicentre tasks: a CSV or Parquet table (``event_id``, ``longitude``, ``latitude``,
        ``depth_km``; :func:`skquake.datasets.read_epicentres`) of the epicentres of a file
        without epicentre attributes (the real one). Refused for the other tasks.
    overwrite : bool, default=False
        Replace an existing ``out`` (all or nothing: the new file is renamed into place).

    Returns
    -------
    dict
        The manifest of the written file (its ``metrics`` are the test metrics; ``null`` where
        a metric is undefined, e.g. the change metrics that need masks on a file without).

    Examples
    --------
    >>> from skquake.datasets import make_quakeset
    >>> from skquake.inference import fit_model
    >>> tmp = getfixture("tmp_path")
    >>> path = make_quakeset(tmp / "q.h5", n_events=8, patch_size=16)
    >>> manifest = fit_model("change-logratio-otsu", path, tmp / "c.skq", task="change-bitemporal")
    >>> manifest["task"], 0 < manifest["metrics"]["changed_fraction"] < 1
    ('change-bitemporal', True)
    """
    if task not in QUAKESET_TASKS:
        raise InvalidParameterError(f"The 'task' parameter of fit_model must be a str among "
                                    f"{sorted(QUAKESET_TASKS)}. Got {task!r} instead.")
    bench = TASKS[task]
    registry_task, mode, _ = QUAKESET_TASKS[task]
    spec = get_model_spec(model)
    if spec.task != registry_task:
        raise ValueError(f"model {model!r} is a {spec.task} model; task {task!r} takes {registry_task} models "
                         f"(skquake models --task {registry_task})")
    if interval is not None and registry_task != "magnitude":
        raise ValueError(f"interval={interval} gives magnitude intervals; task {task!r} is a {registry_task} task "
                         "(pass it with a magnitude-* task)")
    options = _task_options(bench, data, epicentres=epicentres)
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True to replace it")
    params = dict(params or {})
    if seed is not None:
        params.update(_seeded(create_model(model, **params), seed, params))
    estimator = create_model(model, **params)
    splits = TRAIN_SPLITS[train_on]
    X, y = _load(bench, data, splits, pool=pool, options=options)
    record = None
    if bench.unsupervised:  # change detection: training sees no masks
        estimator.fit(X)
    elif interval is None:
        estimator.fit(X, y)
    else:
        groups = _groups(data, splits)
        if len(groups) != len(y):  # a loader that does not read one sample per QuakeSet sample
            raise ValueError(f"interval={interval} needs the event id of every training sample; {data} has "
                             f"{len(groups)} samples in {'+'.join(splits)}, task {task!r} loaded {len(y)}")
        estimator, record = _fit_interval(estimator, X, y, groups, level=interval, seed=seed)
    del X, y
    metrics = _test_metrics(estimator, bench, data, pool=pool, options=options,
                            half_width=None if record is None else record["half_width"])
    save_model(estimator, out, model=model, task=task, params=params, data=data,
               splits=TRAIN_SPLITS[train_on], mode=mode, pool=pool, metrics=metrics, interval=record,
               epicentres=options.get("epicentres"), overwrite=overwrite)
    return read_manifest(out)
