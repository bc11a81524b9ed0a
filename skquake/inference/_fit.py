"""``fit_model``: train a registered model on a QuakeSet file, score it on the test split, save it."""
from __future__ import annotations

import os
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ..datasets import load_quakeset
from ..metrics import get_metric, list_metrics
from ..models import create_model, get_model_spec, read_manifest, save_model
from ..uncertainty import ConformalRegressor
from ..utils import Interval, StrictInterval, StrOptions, validate_params

__all__ = ["QUAKESET_TASKS", "fit_model", "split_half_width"]

#: The QuakeSet tasks a model file can be trained for: name -> (registry task, input mode, target).
#: The same names as the benchmark's tasks (``skquake benchmark --tasks``).
QUAKESET_TASKS = {
    f"{task}-{mode}": (task, mode, target)
    for task, target in (("detection", "label"), ("magnitude", "magnitude"))
    for mode in ("bitemporal", "single")
}
#: ``train_on`` -> the splits read for training.
TRAIN_SPLITS = {"train": ("train",), "train+val": ("train", "val")}
#: The fraction of the training events ``interval=`` sets aside to calibrate the intervals.
CALIBRATION_FRACTION = 0.25


def _seeded(estimator, seed, params):
    """Every ``random_state`` of ``estimator`` (also inside a pipeline) set to ``seed``, unless
    ``params`` fixes it; returns the parameters set."""
    names = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return {k: int(seed) for k in names if k not in params}


def _load(path, splits, *, mode, target, pool, groups=False):
    """``(X, y)`` of ``splits`` concatenated, and the event ids when ``groups``."""
    parts = [load_quakeset(path, split=s, mode=mode, target=target, pool=pool) for s in splits]
    out = tuple(p[0] if len(parts) == 1 else np.concatenate(p) for p in zip(*parts))
    return out if groups else out[:2]


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


def _test_metrics(estimator, path, *, registry_task, mode, target, pool, half_width=None) -> dict:
    """The task's registered metrics on the file's test split (empty when it has no sample);
    with ``half_width``, also the coverage and mean width of the intervals ``prediction -/+ it``."""
    X, y = _load(path, ("test",), mode=mode, target=target, pool=pool)
    if len(y) == 0:
        return {}
    y_pred = estimator.predict(X)
    proba = estimator.predict_proba(X) if hasattr(estimator, "predict_proba") else None
    classes = getattr(estimator, "classes_", None)
    metrics = {name: get_metric(name).compute(y, y_pred=y_pred, y_proba=proba, classes=classes)
               for name in list_metrics(task=registry_task)}
    if half_width is not None:
        intervals = np.column_stack([y_pred - half_width, y_pred + half_width])
        metrics.update({name: get_metric(name).compute(y, y_interval=intervals)
                        for name in ("coverage", "interval_width")})
    return metrics


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
        "task": [StrOptions(set(QUAKESET_TASKS))],
        "params": [dict, None],
        "train_on": [StrOptions(set(TRAIN_SPLITS))],
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
        "seed": [Integral, None],
        "interval": [Interval(Real, 0, 1, closed="neither"), None],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fit_model(model, data, out, *, task, params=None, train_on="train", pool=1, seed=None,
              interval=None, overwrite=False) -> dict:
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
    task : {"detection-bitemporal", "magnitude-bitemporal", "detection-single", "magnitude-single"}
        What to predict, from which input (the benchmark's task names).
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
    overwrite : bool, default=False
        Replace an existing ``out`` (all or nothing: the new file is renamed into place).

    Returns
    -------
    dict
        The manifest of the written file (its ``metrics`` are the test metrics).
    """
    registry_task, mode, target = QUAKESET_TASKS[task]
    spec = get_model_spec(model)
    if spec.task != registry_task:
        raise ValueError(f"model {model!r} is a {spec.task} model; task {task!r} takes {registry_task} models "
                         f"(skquake models --task {registry_task})")
    if interval is not None and registry_task != "magnitude":
        raise ValueError(f"interval={interval} gives magnitude intervals; task {task!r} is a {registry_task} task "
                         "(pass it with a magnitude-* task)")
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True to replace it")
    params = dict(params or {})
    if seed is not None:
        params.update(_seeded(create_model(model, **params), seed, params))
    estimator = create_model(model, **params)
    X, y, groups = _load(data, TRAIN_SPLITS[train_on], mode=mode, target=target, pool=pool, groups=True)
    record = None
    if interval is None:
        estimator.fit(X, y)
    else:
        estimator, record = _fit_interval(estimator, X, y, groups, level=interval, seed=seed)
    del X
    metrics = _test_metrics(estimator, data, registry_task=registry_task, mode=mode, target=target, pool=pool,
                            half_width=None if record is None else record["half_width"])
    save_model(estimator, out, model=model, task=task, params=params, data=data,
               splits=TRAIN_SPLITS[train_on], mode=mode, pool=pool, metrics=metrics, interval=record,
               overwrite=overwrite)
    return read_manifest(out)
