"""One row of the benchmark: fit one model on one task with one seed, score and measure it."""
from __future__ import annotations

import json
import time
import traceback
from typing import Any, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..datasets import open_quakeset
from ..metrics import compute_metrics, metric_probabilities
from ..models import get_model_spec
from ..uncertainty import ConformalRegressor
from ._host import load_avg, now, peak_rss_mb, reset_peak_rss
from ._profiles import Profile
from ._examples import save_examples
from ._tasks import TASKS, BenchTask

__all__ = ["INTERVAL_METRICS", "count_fitted_values", "data_key", "load_splits", "run_row"]

_SPLITS = ("train", "val", "test")
#: The metrics of the intervals, reported for magnitude tasks when the profile sets ``interval``.
INTERVAL_METRICS = ("coverage", "interval_width")


# --------------------------------------------------------------------------- data
def data_key(profile: Profile, family: str) -> tuple:
    """(lazy, pool) with which a model of ``family`` reads its data under ``profile``."""
    deep = family == "deep"
    return deep and profile.lazy_deep, profile.pool if deep else profile.shallow_pool


def load_splits(task: BenchTask, path, pool: int, lazy: bool, options: Mapping[str, Any] | None = None) -> dict:
    """``{"train": (X, y), "val": (X, y), "test": (X, y)}`` of ``task`` in the file ``path``.

    ``options``: the runner's options (``{"epicentres": table}``); the loader gets those it
    names in ``task.options``.
    """
    kwargs = {name: (options or {}).get(name) for name in task.options}
    return {s: task.load(path, s, pool=pool, lazy=lazy, **kwargs) for s in _SPLITS}


def _one_sample(X):
    """The first sample as a batch of one, in a form every registered model accepts."""
    if isinstance(X, np.ndarray):
        return X[:1]
    first = X[0]
    return np.asarray(first["image"] if isinstance(first, Mapping) else first, dtype=np.float32)[None]


def _fit_target(task: BenchTask, X, y):
    """What ``fit`` gets as ``y``: nothing for an unsupervised task or a dataset that carries its
    own targets (a QuakeSet gives labels and magnitudes), else the loaded targets."""
    if task.unsupervised or (hasattr(X, "labels") and hasattr(X, "magnitudes")):
        return None
    return y


# --------------------------------------------------------------------------- scores
def _interval_scores(conformal, X, y) -> dict:
    """Coverage and mean width of ``conformal``'s intervals on ``(X, y)``."""
    intervals = conformal.predict_interval(X)
    return compute_metrics(INTERVAL_METRICS, y, y_interval=intervals)


# --------------------------------------------------------------------------- the model
def _fit_conformal(estimator, X, y, *, path, level, seed, row):
    """Fit ``estimator`` in split-conformal calibration by event on the train split of ``path``.

    Returns the fitted :class:`ConformalRegressor`; the row records the calibration set.
    """
    with open_quakeset(path, split="train") as ds:  # an HDF5 file or a cache folder
        groups = np.asarray(ds.groups)
    if len(groups) != len(y):  # the task's loader and the file disagree: not a QuakeSet task
        raise ValueError(f"interval={level} needs the event ids of the train split; {path} has {len(groups)} "
                         f"train samples, the task loaded {len(y)}")
    conformal = ConformalRegressor(estimator, method="split", confidence_level=level, random_state=seed)
    conformal.fit(X, y, groups=groups)
    _, calibration = conformal.splits_[0]
    row.update(interval_level=level, interval_method="split conformal, calibration by event",
               n_calibration=int(len(calibration)), calibration_events=int(np.unique(groups[calibration]).size))
    return conformal


# --------------------------------------------------------------------------- the model
def _set_existing_params(estimator, params: Mapping[str, Any]) -> dict:
    """Set the ``params`` the estimator has; return those it took (others do not apply)."""
    available = estimator.get_params(deep=True)
    applied = {k: v for k, v in params.items() if k in available}
    if applied:
        estimator.set_params(**applied)
    return applied


def _seed_params(estimator, seed: int) -> dict:
    """Every ``random_state`` / ``*__random_state`` parameter set to ``seed``."""
    keys = [k for k in estimator.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    return {k: seed for k in keys}


def count_fitted_values(estimator) -> int | None:
    """Size of a shallow model: numbers a prediction reads (PCA, SVM) plus tree nodes.

    PCA: ``components_``; SVMs: ``support_vectors_`` and ``dual_coef_``; linear models:
    ``coef_``; tree ensembles: total node count. ``None`` when nothing here is recognised.
    """
    total, found = 0, False
    steps = [s for _, s in getattr(estimator, "steps", [("", estimator)]) if s not in (None, "passthrough")]
    for step in steps:
        for attr in ("components_", "support_vectors_", "dual_coef_", "coef_"):
            value = getattr(step, attr, None)
            if value is not None and hasattr(value, "size"):
                total += int(value.size)
                found = True
        trees = getattr(step, "estimators_", None)
        if trees is not None:
            for tree in np.ravel(np.asarray(trees, dtype=object)):
                node_count = getattr(getattr(tree, "tree_", None), "node_count", None)
                if node_count is not None:
                    total += int(node_count)
                    found = True
    return total if found else None


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # pragma: no cover - informational column only
        return f"unknown ({type(exc).__name__})"


# --------------------------------------------------------------------------- one row
def run_row(job: Mapping[str, Any]) -> dict:
    """Fit, score and measure one (task, model, seed); never raises, returns the row.

    Parameters
    ----------
    job : dict
        ``task``, ``model``, ``seed``, ``data`` (path), ``profile`` (a :class:`Profile` as a
        dict), ``device``, ``base`` (fields copied into the row), and optionally
        ``torch_threads`` and ``preloaded`` (the splits, already loaded).

    Returns
    -------
    dict
        The row: ``status`` ``"ok"`` or ``"failed"`` (then ``error`` names the stage).
    """
    task = TASKS[job["task"]]
    profile = Profile(**job["profile"])
    seed = int(job["seed"])
    row = dict(job["base"])
    row.update(status="failed", error="", started_at=now(), load_avg_1min=load_avg())
    stage = "setup"
    previous_threads = None
    native_limits = None
    deep_side = None
    try:
        from . import _deep as deep_side  # keeps torch out of the torch-free import path

        if job.get("torch_threads"):
            previous_threads = deep_side.set_torch_threads(job["torch_threads"])
            # The BLAS / OpenMP pools of the shallow models too: on a busy 2-core machine, two
            # spinning BLAS threads made a PCA + SVC fit 40x slower than one thread.
            native_limits = threadpool_limits(limits=int(job["torch_threads"]))
        deep_side.seed_everything(seed)
        spec = get_model_spec(job["model"])
        row.update(family=spec.family, paper_name=spec.paper_name or "")
        deep = spec.family == "deep"

        stage = "loading data"
        lazy, pool = data_key(profile, spec.family)
        data = job.get("preloaded") or load_splits(task, job["data"], pool, lazy, job.get("task_options"))
        row.update({f"n_{s}": len(data[s][0]) for s in data})
        sample = _one_sample(data["train"][0])
        row["input_shape"] = "x".join(map(str, sample.shape[1:]))

        stage = "building the model"
        estimator = spec.create(**(task.model_kwargs(job["data"]) if task.model_kwargs else {}))
        overrides = dict(profile.deep_overrides if deep else profile.shallow_overrides)
        if deep:
            overrides.update(device=job["device"], verbose=0)
        overrides.update(_seed_params(estimator, seed))
        applied = _set_existing_params(estimator, overrides)
        row["overrides"] = json.dumps(applied, sort_keys=True, default=str)

        selection = None
        if profile.select_on_val and task.select_on_val:
            selection = deep_side.selection_callbacks(estimator, task.metrics[0], *data["val"])
        if selection is not None:
            extra = list(estimator.get_params().get("callbacks") or [])
            estimator.set_params(callbacks=extra + selection)
            row["selection"] = f"best epoch on val {task.metrics[0]}"
        else:
            row["selection"] = "none (registered settings)"

        stage = "fit"
        memory_scope = reset_peak_rss()
        gpu = job["device"].startswith("cuda")
        if gpu:
            deep_side.reset_gpu_peak()
        X_train, y_train = data["train"]
        level = profile.interval if task.registry_task == "magnitude" else None
        conformal = None
        t0 = time.perf_counter()
        if level is None:
            estimator.fit(X_train, _fit_target(task, X_train, y_train))
        else:
            conformal = _fit_conformal(estimator, X_train, y_train, path=job["data"], level=level, seed=seed, row=row)
            estimator = conformal.estimator_  # the fitted model: predictions, latency and size are its own
            if selection is not None:  # the clone's callbacks, fitted
                names = {name for name, _ in selection}
                selection = [(name, cb) for name, cb in estimator.callbacks_ if name in names]
        row["fit_s"] = time.perf_counter() - t0
        if selection is not None:
            row.update(deep_side.selection_record(estimator, selection))

        stage = "validation"
        X_val, y_val = data["val"]
        val_scores = compute_metrics(task.metrics, y_val, estimator.predict(X_val),
                                     *metric_probabilities(estimator, X_val, task.metrics))
        if conformal is not None:
            val_scores.update(_interval_scores(conformal, X_val, y_val))
        row.update({f"val_{k}": v for k, v in val_scores.items()})

        stage = "test"
        X_test, y_test = data["test"]
        t0 = time.perf_counter()
        y_pred = estimator.predict(X_test)
        predict_s = time.perf_counter() - t0
        n_test = len(X_test)
        row.update(
            predict_s=predict_s,
            infer_ms_per_sample=1e3 * predict_s / max(n_test, 1),
            throughput_sps=n_test / predict_s if predict_s > 0 else None,
        )
        # Probabilities outside the timed predict: inference time is that of predict alone.
        test_scores = compute_metrics(task.metrics, y_test, y_pred,
                                      *metric_probabilities(estimator, X_test, task.metrics))
        if conformal is not None:
            test_scores.update(_interval_scores(conformal, X_test, y_test))
        row.update({f"test_{k}": v for k, v in test_scores.items()})
        if task.n_examples and job.get("out"):
            row["examples_file"] = save_examples(job["out"], row, X_test, y_test, y_pred, task.n_examples)

        stage = "latency"
        one = _one_sample(X_test)
        times = []
        for _ in range(max(profile.n_latency, 1)):
            t0 = time.perf_counter()
            estimator.predict(one)
            times.append(time.perf_counter() - t0)
        row["latency_ms"] = 1e3 * float(np.median(times))
        row["peak_rss_mb"] = peak_rss_mb()
        row["peak_rss_scope"] = memory_scope
        if gpu:
            row["gpu_peak_mb"] = deep_side.gpu_peak_mb()

        stage = "size"
        module = deep_side.find_torch_module(estimator)
        if module is not None:
            row["n_params"] = int(sum(p.numel() for p in module.parameters()))
            row["params_kind"] = "torch parameters"
            try:
                row["mflops"] = deep_side.flops_per_sample(module, one) / 1e6
            except Exception as exc:  # a module whose forward takes more than an image
                row["mflops_error"] = f"{type(exc).__name__}: {exc}"
        else:
            row["n_params"] = count_fitted_values(estimator)
            row["params_kind"] = "fitted values (PCA/SVM arrays, tree nodes)" if row["n_params"] else ""
        row["status"] = "ok"
    except Exception as exc:
        row["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=8)
    row["device"] = _safe(deep_side.device_description, job["device"]) if deep_side else "unknown"
    row["finished_at"] = now()
    if previous_threads is not None:  # in-process rows leave the caller's setting as it was
        deep_side.set_torch_threads(previous_threads)
    if native_limits is not None:
        native_limits.restore_original_limits()
    return row
