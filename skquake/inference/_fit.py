"""``fit_model``: train a registered model on a QuakeSet file, score it on the test split, save it."""
from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

import numpy as np

from ..datasets import load_quakeset
from ..metrics import get_metric, list_metrics
from ..models import create_model, get_model_spec, read_manifest, save_model
from ..utils import StrictInterval, StrOptions, validate_params

__all__ = ["QUAKESET_TASKS", "fit_model"]

#: The QuakeSet tasks a model file can be trained for: name -> (registry task, input mode, target).
#: The same names as the benchmark's tasks (``skquake benchmark --tasks``).
QUAKESET_TASKS = {
    f"{task}-{mode}": (task, mode, target)
    for task, target in (("detection", "label"), ("magnitude", "magnitude"))
    for mode in ("bitemporal", "single")
}
#: ``train_on`` -> the splits read for training.
TRAIN_SPLITS = {"train": ("train",), "train+val": ("train", "val")}


def _seeded(estimator, seed, params):
    """Every ``random_state`` of ``estimator`` (also inside a pipeline) set to ``seed``, unless
    ``params`` fixes it; returns the parameters set."""
    names = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return {k: int(seed) for k in names if k not in params}


def _load(path, splits, *, mode, target, pool):
    parts = [load_quakeset(path, split=s, mode=mode, target=target, pool=pool)[:2] for s in splits]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _test_metrics(estimator, path, *, registry_task, mode, target, pool) -> dict:
    """The task's registered metrics on the file's test split (empty when it has no sample)."""
    X, y = _load(path, ("test",), mode=mode, target=target, pool=pool)
    if len(y) == 0:
        return {}
    y_pred = estimator.predict(X)
    proba = estimator.predict_proba(X) if hasattr(estimator, "predict_proba") else None
    classes = getattr(estimator, "classes_", None)
    return {name: get_metric(name).compute(y, y_pred=y_pred, y_proba=proba, classes=classes)
            for name in list_metrics(task=registry_task)}


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
    },
    prefer_skip_nested_validation=True,
)
def fit_model(model, data, out, *, task, params=None, train_on="train", pool=1, seed=None) -> dict:
    """Train ``model`` on a QuakeSet file's training split, score it on its test split, save it.

    Parameters
    ----------
    model : str
        Registry name (``skquake.list_models()``) of a model of the task's kind.
    data : path-like
        A QuakeSet HDF5 file.
    out : path-like
        The model file to write (``.skq``, see :func:`skquake.models.save_model`); never
        replaced.
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
    if Path(out).exists():
        raise FileExistsError(f"{out} already exists; refusing to overwrite it, choose a new file")
    params = dict(params or {})
    if seed is not None:
        params.update(_seeded(create_model(model, **params), seed, params))
    estimator = create_model(model, **params)
    X, y = _load(data, TRAIN_SPLITS[train_on], mode=mode, target=target, pool=pool)
    estimator.fit(X, y)
    del X
    metrics = _test_metrics(estimator, data, registry_task=registry_task, mode=mode, target=target, pool=pool)
    save_model(estimator, out, model=model, task=task, params=params, data=data,
               splits=TRAIN_SPLITS[train_on], mode=mode, pool=pool, metrics=metrics)
    return read_manifest(out)
