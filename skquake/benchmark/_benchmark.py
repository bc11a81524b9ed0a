"""``skquake benchmark``: every registered model on the QuakeSet tasks, as the papers report them.

One *row* is one (task, model, seed): fit on the file's train split, score on its validation
and test splits, and measure what the model costs (parameters, FLOPs per sample, fit time,
inference time, peak memory). Rows are appended to ``results.jsonl`` the moment they finish,
so a run stopped at any point and started again skips what is done; the tables, the CSV/JSON
and the plots are rebuilt from that file at the end of every run.

Tasks live in :data:`TASKS` (one :class:`BenchTask` each, see :func:`register_task`), models
in the model registry (:mod:`skquake.models`); profiles (:data:`PROFILES`) bundle the
settings that make a run quick or paper-faithful.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import fnmatch
import hashlib
import io
import json
import math
import os
import platform
import shlex
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..metrics import get_metric

__all__ = [
    "BenchTask",
    "default_data_file",
    "PAPER_RESULTS",
    "PROFILES",
    "Profile",
    "TASKS",
    "main",
    "read_rows",
    "register_task",
    "run_benchmark",
    "write_reports",
]


# --------------------------------------------------------------------------- tasks
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
        Metric names understood by :func:`skquake.metrics.get_scorer`; the first is the
        task's headline metric (plots, table order).
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


#: Task name -> :class:`BenchTask`, in table order. Add a task with :func:`register_task`.
TASKS: dict[str, BenchTask] = {}


def register_task(task: BenchTask) -> BenchTask:
    """Add ``task`` to :data:`TASKS` (a second task under one name is an error)."""
    if task.name in TASKS:
        raise ValueError(f"benchmark task {task.name!r} is already registered")
    if not task.metrics:
        raise ValueError(f"benchmark task {task.name!r} needs at least one metric")
    TASKS[task.name] = task
    return task


def _quakeset_loader(mode: str, target: str) -> Callable[..., tuple]:
    def load(path, split, *, pool=1, lazy=False):
        if lazy:
            from ..datasets import QuakeSet

            ds = QuakeSet(path, split=split, mode=mode)
            y = ds.labels if target == "label" else ds.magnitudes
            return ds, np.asarray(y)
        from ..datasets import load_quakeset

        X, y, _ = load_quakeset(path, split=split, mode=mode, target=target, pool=pool)
        return X, y

    load.__qualname__ = f"load_quakeset[{mode}, {target}]"
    return load


def _make_default_quakeset(path: Path) -> Path:
    from ..datasets.synthetic import make_quakeset

    return Path(make_quakeset(path, random_state=0))


_REGRESSION_METRICS = ("mae", "magnitude_accuracy", "spearman", "rmse")
_DETECTION_METRICS = ("accuracy", "f1")

for _name, _rtask, _mode, _paper in (
    ("detection-bitemporal", "detection", "bitemporal", "QuakeSet task 1 (Table 2)"),
    ("magnitude-bitemporal", "magnitude", "bitemporal", "QuakeSet task 2 (Table 3)"),
    ("detection-single", "detection", "single", "QuakeSet task 5 (Table 4)"),
    ("magnitude-single", "magnitude", "single", "QuakeSet task 6 (Table 5)"),
):
    register_task(
        BenchTask(
            name=_name,
            registry_task=_rtask,
            load=_quakeset_loader(_mode, "label" if _rtask == "detection" else "magnitude"),
            metrics=_DETECTION_METRICS if _rtask == "detection" else _REGRESSION_METRICS,
            description=f"{_rtask}, {_mode} input",
            make_synthetic=_make_default_quakeset,
            paper=_paper,
        )
    )

# --------------------------------------------------------------------------- profiles
@dataclass
class Profile:
    """The settings of a benchmark run that change its results.

    Parameters
    ----------
    name : str
        Profile name; also the default output folder ``benchmarks/results/<name>``.
    models : tuple of str
        Registry-name wildcards of the models to run (``("*",)``: all).
    tasks : tuple of str
        Task-name wildcards.
    seeds : tuple of int
        Seeds; each is passed as every ``random_state`` of the estimator and seeds numpy
        and torch.
    pool : int
        Average-pooling factor applied when loading images for deep models (1: full size).
    shallow_pool : int
        Same for shallow models (PCA on full 512 x 512 images does not fit in memory).
    lazy_deep : bool
        Give deep models the lazy :class:`~skquake.datasets.QuakeSet` (``pool`` must be 1)
        instead of arrays in memory.
    deep_overrides, shallow_overrides : dict
        Parameters set on every deep / shallow estimator that has them (``max_epochs``...).
    n_latency : int
        Single-sample predictions timed per row (the median is reported).
    synthetic : bool
        Without a data file, use (and create if absent) the built-in synthetic file.
    select_on_val : bool
        Deep (skorch) models: score the validation split after every epoch and keep the
        weights of the best epoch (by the task's headline metric). Shallow models are fitted
        once with their registered settings either way.
    threads : int, optional
        torch intra-op threads per row (``None``: torch's default, one per core).
    """

    name: str
    models: tuple = ("*",)
    tasks: tuple = ("*",)
    seeds: tuple = (0, 1)
    pool: int = 1
    shallow_pool: int = 1
    lazy_deep: bool = False
    deep_overrides: dict = field(default_factory=dict)
    shallow_overrides: dict = field(default_factory=dict)
    n_latency: int = 5
    synthetic: bool = False
    select_on_val: bool = True
    threads: int | None = None


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        # resnet10t, not the papers' mobilenetv2_100: from scratch on the default synthetic
        # file at 32 x 32, mobilenetv2_100 stays at chance even after 20-25 epochs, while
        # resnet10t learns in 8-10 (lr 1e-3, its registered default); see docs/deep.md.
        # The papers' pixel-PCA baselines, the location-invariant change-statistics forests
        # (not in the papers) and a small CNN with and without ranking.
        models=("svc-rbf", "rfc", "rfc-change", "svr-rbf", "rfr", "rfr-change", "resnet10t-*"),
        seeds=(0, 1),
        pool=2,
        shallow_pool=2,
        deep_overrides={"max_epochs": 8, "batch_size": 16},
        n_latency=5,
        synthetic=True,
        # 32 x 32 images gain little from a second thread, and on a machine busy with other
        # jobs two spinning threads run several times slower than one.
        threads=1,
    ),
    "full": Profile(
        name="full",
        models=("*",),
        seeds=(0, 1, 2),
        pool=1,
        shallow_pool=4,
        lazy_deep=True,
        deep_overrides={},  # the registered defaults are the papers' settings
        n_latency=20,
        synthetic=False,
    ),
}


# --------------------------------------------------------------------------- small helpers
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def default_cache_dir() -> Path:
    """Where default synthetic files live: ``$SKQUAKE_CACHE_DIR`` or ``~/.cache/skquake``."""
    env = os.environ.get("SKQUAKE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skquake"


def _file_fingerprint(path: Path) -> dict:
    """Name, size and a hash of the first and last MiB: cheap, and changes with the content."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha1()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return {"name": path.name, "size": size, "sha1_ends": h.hexdigest()[:16]}


def _config_id(config: Mapping) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:10]


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("skquake", "numpy", "scikit-learn", "torch", "timm", "skorch"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def _machine() -> dict:
    """Which computer measured a row: the CPU model, its cores and a hash of the host name
    (timings from another machine are not this machine's; the name itself is not stored)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    host = hashlib.sha1(platform.node().encode()).hexdigest()[:8]
    return {"cpu": cpu, "cores": _cpu_count(), "host": host}


def _load_avg() -> float | None:
    """1-minute load average when the row starts: a row timed on a busy machine says so."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return "cpu"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _device_description(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({_cpu_count()} cores, {_torch_threads()} torch threads)"


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return None


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _split_patterns(values: Sequence[str] | None) -> tuple | None:
    if values is None:
        return None
    out = []
    for v in values:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return tuple(out)


# --------------------------------------------------------------------------- one row
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


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _needs_proba(names: Sequence[str]) -> bool:
    """Whether any of these registered metrics reads ``predict_proba``."""
    return any(get_metric(name).needs_proba for name in names)


def _probabilities(estimator, X, names: Sequence[str]):
    """``(proba, classes)`` of a fitted classifier when a metric needs them, else ``(None, None)``."""
    if not _needs_proba(names) or not hasattr(estimator, "predict_proba"):
        return None, None
    return np.asarray(estimator.predict_proba(X)), np.asarray(estimator.classes_)


def _score(names: Sequence[str], y_true, y_pred, proba=None, classes=None) -> dict:
    """Metric name -> value from predictions already made; losses reported as losses. A
    probability metric of a model without ``proba`` is NaN."""
    return {name: get_metric(name).compute(y_true, y_pred, proba, classes) for name in names}


def _find_torch_module(estimator):
    """The fitted ``torch.nn.Module`` inside an estimator (skorch ``module_``), or None."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    seen = set()
    stack = [estimator]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            return obj
        module = getattr(obj, "module_", None)
        if isinstance(module, torch.nn.Module):
            return module
        steps = getattr(obj, "steps", None)
        if steps:
            stack.extend(step for _, step in reversed(steps) if step not in (None, "passthrough"))
        for attr in ("estimator_", "net_", "model_", "best_estimator_"):
            inner = getattr(obj, attr, None)
            if inner is not None:
                stack.append(inner)
    return None


def _count_fitted_values(estimator) -> int | None:
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


def _selection_callback(estimator, task: "BenchTask", X_val, y_val):
    """For skorch nets: a callback that scores the validation split after every epoch and
    restores, at the end of training, the weights of the epoch with the best headline metric.
    ``None`` for other estimators (they are fitted once, with their registered settings)."""
    try:
        from skorch import NeuralNet
        from skorch.callbacks import Callback
    except ImportError:  # pragma: no cover - skorch is a hard dependency
        return None
    if not isinstance(estimator, NeuralNet):
        return None
    metric = task.metrics[0]
    lower = not get_metric(metric).greater_is_better

    class SelectOnValidation(Callback):
        def initialize(self):
            self.best_score_, self.best_epoch_, self.best_state_ = None, None, None
            self.scores_, self.seconds_ = [], 0.0
            return self

        def on_epoch_end(self, net, **kwargs):
            t0 = time.perf_counter()
            score = _score([metric], y_val, net.predict(X_val))[metric]
            self.scores_.append(score)
            better = self.best_score_ is None or (score < self.best_score_ if lower else score > self.best_score_)
            if better:
                self.best_score_, self.best_epoch_ = score, len(self.scores_)
                self.best_state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            self.seconds_ += time.perf_counter() - t0

        def on_train_end(self, net, **kwargs):
            if self.best_state_ is not None:
                net.module_.load_state_dict(self.best_state_)
                self.best_state_ = None  # the weights live in the module now; free the copy

    return SelectOnValidation()


def _one_sample(X):
    """The first sample as a batch of one, in a form every registered model accepts."""
    if isinstance(X, np.ndarray):
        return X[:1]
    return np.asarray(X[0]["image"], dtype=np.float32)[None]


def _flops_per_sample(module, sample: np.ndarray) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.from_numpy(np.array(sample, dtype=np.float32)).to(device)  # a copy: the data may be read-only
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return float(counter.get_total_flops())


def _reset_peak_rss() -> str:
    """Start a fresh peak-RSS window for this process; return what the peak will mean."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: reset VmHWM to the current RSS
        return "row"
    except OSError:
        return "process"


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
    except ImportError:  # pragma: no cover - Windows
        return None


def _data_key(profile: Profile, family: str) -> tuple:
    """(lazy, pool) with which a model of ``family`` reads its data under ``profile``."""
    deep = family == "deep"
    return deep and profile.lazy_deep, profile.pool if deep else profile.shallow_pool


def _load_splits(task: BenchTask, path, pool: int, lazy: bool) -> dict:
    return {s: task.load(path, s, pool=pool, lazy=lazy) for s in ("train", "val", "test")}


class _SplitCache:
    """Arrays loaded once in the runner and shared with forked rows (copy-on-write), so the
    quick profile does not read the same file 28 times. Bounded: least recently used first out."""

    def __init__(self, max_bytes=2 * 2**30):
        self.max_bytes = max_bytes
        self._items: dict[tuple, dict] = {}

    @staticmethod
    def _nbytes(splits) -> int:
        return sum(getattr(X, "nbytes", 0) + getattr(y, "nbytes", 0) for X, y in splits.values())

    def get(self, task: BenchTask, path, pool: int, lazy: bool):
        if lazy:  # a lazy dataset reads per process; nothing to share
            return None
        key = (task.name, str(path), pool)
        if key in self._items:
            self._items[key] = self._items.pop(key)  # most recently used last
            return self._items[key]
        try:
            splits = _load_splits(task, path, pool, lazy)
        except Exception:  # the row loads again and records the error with its stage
            return None
        for X, y in splits.values():
            for a in (X, y):
                if isinstance(a, np.ndarray):
                    # shared by every row: a model that writes into its input must copy it
                    a.setflags(write=False)
        size = self._nbytes(splits)
        if size > self.max_bytes:
            return None
        while self._items and sum(map(self._nbytes, self._items.values())) + size > self.max_bytes:
            self._items.pop(next(iter(self._items)))
        self._items[key] = splits
        return splits


def run_row(job: Mapping[str, Any]) -> dict:
    """Fit, score and measure one (task, model, seed); never raises, returns the row.

    ``job`` holds ``task``, ``model``, ``seed``, ``data`` (path), ``profile`` (a
    :class:`Profile` as a dict), ``device`` and ``base`` (fields copied into the row).
    """
    from ..models import get_model_spec

    task = TASKS[job["task"]]
    profile = Profile(**job["profile"])
    seed = int(job["seed"])
    row = dict(job["base"])
    row.update(status="failed", error="", started_at=_now(), load_avg_1min=_load_avg())
    stage = "setup"
    previous_threads = None
    try:
        if job.get("torch_threads"):
            import torch

            previous_threads = torch.get_num_threads()
            torch.set_num_threads(int(job["torch_threads"]))
        _seed_everything(seed)
        spec = get_model_spec(job["model"])
        row.update(family=spec.family, paper_name=spec.paper_name or "")
        deep = spec.family == "deep"

        stage = "loading data"
        lazy, pool = _data_key(profile, spec.family)
        data = job.get("preloaded") or _load_splits(task, job["data"], pool, lazy)
        row.update({f"n_{s}": len(data[s][1]) for s in data})
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

        selector = None
        if profile.select_on_val:
            selector = _selection_callback(estimator, task, *data["val"])
        if selector is not None:
            extra = [c for c in (estimator.get_params().get("callbacks") or [])]
            estimator.set_params(callbacks=extra + [("select_on_val", selector)])
            row["selection"] = f"best epoch on val {task.metrics[0]}"
        else:
            row["selection"] = "none (registered settings)"

        stage = "fit"
        memory_scope = _reset_peak_rss()
        gpu = job["device"].startswith("cuda")
        if gpu:
            import torch

            torch.cuda.reset_peak_memory_stats()
        X_train, y_train = data["train"]
        t0 = time.perf_counter()
        estimator.fit(X_train, None if lazy else y_train)
        row["fit_s"] = time.perf_counter() - t0
        if selector is not None:
            row.update(
                best_epoch=selector.best_epoch_,
                val_curve=[round(v, 6) for v in selector.scores_],
                select_s=selector.seconds_,
            )

        stage = "validation"
        X_val, y_val = data["val"]
        val_scores = _score(task.metrics, y_val, estimator.predict(X_val), *_probabilities(estimator, X_val, task.metrics))
        row.update({f"val_{k}": v for k, v in val_scores.items()})

        stage = "test"
        X_test, y_test = data["test"]
        t0 = time.perf_counter()
        y_pred = estimator.predict(X_test)
        predict_s = time.perf_counter() - t0
        n_test = len(y_test)
        row.update(
            predict_s=predict_s,
            infer_ms_per_sample=1e3 * predict_s / max(n_test, 1),
            throughput_sps=n_test / predict_s if predict_s > 0 else None,
        )
        # Probabilities outside the timed predict: inference time is that of predict alone.
        test_scores = _score(task.metrics, y_test, y_pred, *_probabilities(estimator, X_test, task.metrics))
        row.update({f"test_{k}": v for k, v in test_scores.items()})

        stage = "latency"
        one = _one_sample(X_test)
        times = []
        for _ in range(max(profile.n_latency, 1)):
            t0 = time.perf_counter()
            estimator.predict(one)
            times.append(time.perf_counter() - t0)
        row["latency_ms"] = 1e3 * float(np.median(times))
        row["peak_rss_mb"] = _peak_rss_mb()
        row["peak_rss_scope"] = memory_scope
        if gpu:
            import torch

            row["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20

        stage = "size"
        module = _find_torch_module(estimator)
        if module is not None:
            row["n_params"] = int(sum(p.numel() for p in module.parameters()))
            row["params_kind"] = "torch parameters"
            try:
                row["mflops"] = _flops_per_sample(module, one) / 1e6
            except Exception as exc:  # a module whose forward takes more than an image
                row["mflops_error"] = f"{type(exc).__name__}: {exc}"
        else:
            row["n_params"] = _count_fitted_values(estimator)
            row["params_kind"] = "fitted values (PCA/SVM arrays, tree nodes)" if row["n_params"] else ""
        row["status"] = "ok"
    except Exception as exc:
        row["error"] = f"{stage}: {type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=8)
    row["device"] = _safe(_device_description, job["device"])
    row["finished_at"] = _now()
    if previous_threads is not None:  # in-process rows leave the caller's setting as it was
        import torch

        torch.set_num_threads(previous_threads)
    return row


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # pragma: no cover - informational column only
        return f"unknown ({type(exc).__name__})"


def _die_with_parent() -> None:
    """Ask Linux to stop this child when the runner dies, so a killed run leaves no orphan."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover
        pass


def _child(job, conn) -> None:
    _die_with_parent()
    # A forked row inherits the runner's lock on results.jsonl; dropping its copy keeps a
    # row process that outlives a killed runner from blocking the run that resumes it.
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    row = run_row(job)
    try:
        conn.send(row)
    finally:
        conn.close()


def _start_method(device: str) -> str:
    # fork shares the runner's imports, loaded arrays and registered models (fast, and what
    # the tests register); CUDA cannot be used in a forked child, so GPU rows use spawn.
    return "fork" if sys.platform.startswith("linux") and not device.startswith("cuda") else "spawn"


def _run_in_child(job: dict, timeout: float | None) -> dict:
    """Run one row in a fresh process: isolated peak memory, and a crash or a timeout
    becomes a failed row instead of the end of the run."""
    import multiprocessing as mp

    ctx = mp.get_context(_start_method(job["device"]))
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(job, send), name=f"skquake-bench-{job['model']}")
    proc.start()
    send.close()
    row = None
    timed_out = False
    try:
        timed_out = not recv.poll(timeout)
        if not timed_out:
            try:
                row = recv.recv()
            except EOFError:
                row = None
            proc.join(30)  # the row is in; give the child a moment to exit cleanly
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        recv.close()
    if row is None:
        row = dict(job["base"])
        row.update(status="failed", started_at=None, finished_at=_now())
        if timed_out:
            row["error"] = f"timeout: no result within {timeout} s (child stopped)"
        else:
            hint = " (killed: out of memory?)" if proc.exitcode == -9 else ""
            row["error"] = f"the row's process died with exit code {proc.exitcode}{hint}"
    return row


# --------------------------------------------------------------------------- results file
RESULTS_FILE = "results.jsonl"


def read_rows(path: Path) -> tuple[list[dict], int]:
    """Rows of a ``results.jsonl`` (oldest first) and the number of unreadable lines
    (a line cut short by a kill is skipped, never fatal)."""
    path = Path(path)
    rows, bad = [], 0
    if not path.exists():
        return rows, bad
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict) and {"task", "model", "seed", "config_id"} <= set(row):
                rows.append(row)
            else:
                bad += 1
    return rows, bad


def _append_row(path: Path, row: dict) -> None:
    line = json.dumps(row, sort_keys=True, default=str, allow_nan=True) + "\n"
    with open(path, "ab+") as f:
        # A kill mid-write leaves a line without its newline: start on a fresh line so
        # the new row is not glued to the broken one (which read_rows then skips).
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _row_key(row: Mapping) -> tuple:
    return (row["task"], row["model"], int(row["seed"]), row["config_id"])


def _latest_rows(rows: Sequence[dict]) -> list[dict]:
    """One row per (task, model, seed, config): the latest one (a retried failure wins)."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        latest[_row_key(row)] = row
    return list(latest.values())


_HELD_LOCKS: set = set()  # file descriptors of the locks this process holds


@contextlib.contextmanager
def _lock(out: Path):
    """One run per output folder at a time: two would interleave and repeat rows.

    The lock is taken on ``results.jsonl`` itself (advisory ``flock``), so no lock file is
    left in the results folder."""
    lock_path = out / RESULTS_FILE
    f = open(lock_path, "a")
    try:
        try:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: no locking
            pass
        except OSError:
            raise RuntimeError(
                f"another 'skquake benchmark' is writing to {out} (it holds a lock on {lock_path}); "
                "wait for it or choose another --out"
            ) from None
        _HELD_LOCKS.add(f.fileno())
        yield
    finally:
        _HELD_LOCKS.discard(f.fileno())
        f.close()


# --------------------------------------------------------------------------- the run
def _plan(profile: Profile, tasks: Sequence[str] | None, models: Sequence[str] | None) -> list[tuple]:
    """(task name, model name) pairs to run, model-major (one progress bar per model)."""
    from ..models import get_model_spec, list_models

    task_patterns = tuple(tasks) if tasks else profile.tasks
    model_patterns = tuple(models) if models else profile.models
    task_names = [t for t in TASKS if _matches(t, task_patterns)]
    if not task_names:
        raise ValueError(f"no benchmark task matches {list(task_patterns)}; tasks are {list(TASKS)}")
    for p in task_patterns:
        if not any(fnmatch.fnmatchcase(t, p) for t in TASKS):
            raise ValueError(f"no benchmark task matches {p!r}; tasks are {list(TASKS)}")
    registered = list_models()
    for p in model_patterns:
        if not any(fnmatch.fnmatchcase(m, p) for m in registered):
            raise ValueError(
                f"no registered model matches {p!r}; 'skquake models' lists the {len(registered)} registered models"
            )
    model_names = [m for m in registered if _matches(m, model_patterns)]
    pairs = []
    for m in model_names:
        rtask = get_model_spec(m).task
        pairs += [(t, m) for t in task_names if TASKS[t].registry_task == rtask]
    if not pairs:
        raise ValueError(f"none of the models {model_names} takes any of the tasks {task_names}")
    return pairs


def default_data_file(task: str = "magnitude-bitemporal", cache_dir=None, log=None) -> Path:
    """The built-in synthetic data file of ``task``, written to the cache on first use.

    The quick profile and the scripts under ``benchmarks/`` share it, so "the default
    synthetic file" is one file (``$SKQUAKE_CACHE_DIR`` or ``~/.cache/skquake``).
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


def _data_paths(task_names: Sequence[str], profile: Profile, data: Mapping[str, Any], cache_dir: Path, log) -> dict:
    """The data file of each task: the user's, or the profile's default synthetic file."""
    paths = {}
    for name in task_names:
        task = TASKS[name]
        given = data.get(task.data_option)
        if given is not None:
            path = Path(given).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"--{task.data_option.replace('_', '-')} {path}: no such file")
        elif profile.synthetic and task.make_synthetic is not None:
            path = default_data_file(name, cache_dir, log)
        else:
            raise ValueError(
                f"task {name!r} needs a data file: pass --{task.data_option.replace('_', '-')} PATH "
                f"(profile {profile.name!r} uses no synthetic default)"
            )
        paths[name] = path.resolve()
    return paths


def run_benchmark(
    profile: Profile | str = "quick",
    *,
    out: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    damage_data: str | os.PathLike | None = None,
    models: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
    timeout: float | None = None,
    retry_failed: bool = False,
    isolate: bool = True,
    threads: int | None = None,
    progress: bool = True,
    plots: bool = True,
    cache_dir: str | os.PathLike | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run (or resume) a benchmark and write its reports.

    Parameters
    ----------
    profile : Profile or str
        A :class:`Profile` or the name of one in :data:`PROFILES`.
    out : path, optional
        Output folder (default ``benchmarks/results/<profile name>``).
    data, damage_data : path, optional
        The QuakeSet file (e.g. the real ``earthquakes.h5``) and the damage file. Without
        them a profile with ``synthetic=True`` uses its default synthetic files.
    models, tasks : sequence of str, optional
        Wildcards overriding the profile's selection.
    seeds : sequence of int, optional
        Overrides the profile's seeds.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    timeout : float, optional
        Seconds one row may take before it is stopped and recorded as failed (needs
        ``isolate``).
    retry_failed : bool
        Run again the rows recorded as failed (by default a failed row counts as done).
    isolate : bool
        Run each row in its own process (peak memory per row, crash isolation).
    threads : int, optional
        torch intra-op threads per row, overriding the profile's.
    progress, plots : bool
        Show tqdm progress bars; draw the plots.
    command : str, optional
        The command line to print at the top of ``results.md``.

    Returns
    -------
    dict
        ``out`` (folder), ``ran``, ``skipped``, ``failed`` (counts), ``wall_s`` and ``files``.
    """
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")
        profile = PROFILES[profile]
    if seeds is not None:
        profile = replace(profile, seeds=tuple(int(s) for s in seeds))
    if profile.lazy_deep and profile.pool != 1:
        raise ValueError("lazy_deep=True reads full-size images; it needs pool=1")
    if timeout is not None and not isolate:
        raise ValueError("a per-row timeout needs isolate=True (rows in their own process)")
    t_start = time.perf_counter()
    out = Path(out) if out is not None else Path("benchmarks") / "results" / profile.name
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    device = _resolve_device(device)
    if threads is not None:
        profile = replace(profile, threads=int(threads))
    if profile.threads is not None and profile.threads < 1:
        raise ValueError(f"threads must be >= 1, got {profile.threads!r}")
    threads = profile.threads or _torch_threads()

    pairs = _plan(profile, tasks, models)
    task_names = list(dict.fromkeys(t for t, _ in pairs))
    paths = _data_paths(task_names, profile, {"data": data, "damage_data": damage_data}, cache_dir, log)

    # What changes a row's figures. The model/task/seed selection is not part of it: runs
    # with different selections but the same settings fill one table.
    settings = {
        k: v
        for k, v in asdict(profile).items()
        if k not in ("name", "models", "tasks", "seeds", "synthetic", "threads")
    }
    configs = {}
    machine = _machine()
    for t in task_names:
        configs[t] = {
            "profile": profile.name,
            "settings": settings,
            "data": _file_fingerprint(paths[t]),
            "device": device,
            "torch_threads": threads,
            "machine": machine,
        }
    config_ids = {t: _config_id(c) for t, c in configs.items()}

    results_path = out / RESULTS_FILE
    out.mkdir(parents=True, exist_ok=True)  # only now: a rejected command leaves no folder
    with _lock(out):
        _record_configs(out, configs, config_ids)
        rows, bad = read_rows(results_path)
        if bad:
            log(f"note: {bad} unreadable line(s) in {results_path} skipped (a run killed mid-write)")
        done = {}
        for row in _latest_rows(rows):
            done[_row_key(row)] = row["status"]
        versions = _versions()
        jobs = []
        skipped = 0
        for task_name, model in pairs:
            for seed in profile.seeds:
                key = (task_name, model, int(seed), config_ids[task_name])
                status = done.get(key)
                if status == "ok" or (status is not None and not retry_failed):
                    skipped += 1
                    continue
                jobs.append(
                    {
                        "task": task_name,
                        "model": model,
                        "seed": int(seed),
                        "data": str(paths[task_name]),
                        "profile": asdict(profile),
                        "device": device,
                        "torch_threads": threads,
                        "base": {
                            "task": task_name,
                            "model": model,
                            "seed": int(seed),
                            "config_id": config_ids[task_name],
                            "profile": profile.name,
                            "registry_task": TASKS[task_name].registry_task,
                            "data": str(paths[task_name]),
                            "versions": versions,
                            "machine": machine,
                            "command": command or "",
                        },
                    }
                )
        n_total = len(jobs) + skipped
        log(
            f"skquake benchmark ({profile.name}): {n_total} rows, {skipped} already done, "
            f"{len(jobs)} to run; device {device}; results in {out}"
        )
        n_failed = _run_jobs(jobs, results_path, timeout, isolate, progress, log)
        wall = time.perf_counter() - t_start
        files = write_reports(out, config_ids=set(config_ids.values()), plots=plots, log=log, command=command)
    log(f"done in {wall:.1f} s: {len(jobs)} rows run ({n_failed} failed), {skipped} skipped")
    return {"out": out, "ran": len(jobs), "skipped": skipped, "failed": n_failed, "wall_s": wall, "files": files}


def _record_configs(out: Path, configs: Mapping[str, dict], config_ids: Mapping[str, str]) -> None:
    """Keep ``configs.json``: config id -> the settings it stands for (only ever added to)."""
    path = out / "configs.json"
    known = {}
    if path.exists():
        try:
            known = json.loads(path.read_text())
        except json.JSONDecodeError:
            known = {}
    changed = False
    for task, cid in config_ids.items():
        if cid not in known:
            known[cid] = configs[task]
            changed = True
    if changed:
        _write_text(path, json.dumps(known, indent=2, sort_keys=True, default=str))


def _run_jobs(jobs, results_path, timeout, isolate, progress, log) -> int:
    from tqdm.auto import tqdm

    from ..models import get_model_spec

    cache = _SplitCache()
    failed = 0
    by_model: dict[str, list] = {}
    for job in jobs:
        by_model.setdefault(job["model"], []).append(job)
    overall = tqdm(total=len(jobs), desc="benchmark", unit="row", disable=not progress, position=0)
    try:
        for model, model_jobs in by_model.items():
            bar = tqdm(total=len(model_jobs), desc=f"  {model}", unit="row", leave=False, disable=not progress, position=1)
            try:
                for job in model_jobs:
                    desc = f"{job['task']} seed {job['seed']}"
                    bar.set_postfix_str(desc)
                    if not isolate or _start_method(job["device"]) == "fork":
                        lazy, pool = _data_key(Profile(**job["profile"]), get_model_spec(model).family)
                        job = {**job, "preloaded": cache.get(TASKS[job["task"]], job["data"], pool, lazy)}
                    row = _run_in_child(job, timeout) if isolate else run_row(job)
                    _append_row(results_path, row)
                    if row["status"] != "ok":
                        failed += 1
                        tqdm.write(f"FAILED {model} on {desc}: {row['error']}")
                    bar.update()
                    overall.update()
            finally:
                bar.close()
    finally:
        overall.close()
    return failed


# --------------------------------------------------------------------------- reports
#: Figures reported by the QuakeSet paper (Rege Cambrin & Garza, ISCRAM 2024, Tables 2-5:
#: test set; time in seconds for one sample and MFLOPs on an Intel i9-10980XE CPU). Shown
#: only in the separate reference table; never mixed into measured rows.
PAPER_RESULTS = {
    "detection-bitemporal": {
        "metrics": ("accuracy",),
        "rows": [
            ("SVC (RBF kernel)", "-", (0.6341,), 0.3640, 1.0486),
            ("SVC (Poly kernel)", "-", (0.5440,), 0.3138, 1.0486),
            ("RFC", "-", (0.7241,), 0.3130, 1.0508),
            ("MobileNetV2 (CNN)", "2.2M", (0.9472,), 0.1109, 207.5949),
            ("MiT-B0 (ViT)", "3.4M", (0.8865,), 0.0909, 430.7062),
            ("ConvNextV2 (CNN)", "3.7M", (0.9374,), 0.1003, 373.7727),
            ("MobileViTV2 (ViT)", "4.9M", (0.6536,), 0.1746, 964.5956),
        ],
    },
    "magnitude-bitemporal": {
        "metrics": ("mae", "magnitude_accuracy"),
        "rows": [
            ("SVR (RBF kernel)", "-", (2.2368, 0.5519), 0.3640, 1.0486),
            ("SVR (Poly kernel)", "-", (2.6015, 0.5440), 0.3138, 1.0486),
            ("RFR", "-", (1.9930, 0.5440), 0.3130, 1.0508),
            ("MobileNetV2 (CNN)", "2.2M", (0.5456, 0.9374), 0.1109, 207.5949),
            ("MiT-B0 (ViT)", "3.4M", (0.8496, 0.9276), 0.0909, 430.7062),
            ("ConvNextV2 (CNN)", "3.7M", (0.6494, 0.9315), 0.1003, 373.7727),
            ("MobileViTV2 (ViT)", "4.9M", (1.7612, 0.7378), 0.1746, 964.5956),
        ],
    },
    "detection-single": {
        "metrics": ("accuracy",),
        "rows": [
            ("SVC (RBF kernel)", "-", (0.6047,), 0.1488, 0.524288),
            ("SVC (Poly kernel)", "-", (0.5440,), 0.1472, 0.524288),
            ("RFC", "-", (0.5186,), 0.1655, 0.526554),
            ("MobileNetV2 (CNN)", "2.2M", (0.7104,), 0.0862, 203.3172),
            ("MiT-B0 (ViT)", "3.4M", (0.5440,), 0.0710, 424.8801),
            ("ConvNextV2 (CNN)", "3.7M", (0.6419,), 0.0609, 370.8897),
            ("MobileViTV2 (ViT)", "4.9M", (0.5988,), 0.1171, 960.3690),
        ],
    },
    "magnitude-single": {
        "metrics": ("mae", "magnitude_accuracy"),
        "rows": [
            ("SVR (RBF kernel)", "-", (2.4088, 0.5519), 0.1488, 0.524288),
            ("SVR (Poly kernel)", "-", (2.5960, 0.5440), 0.1472, 0.524288),
            ("RFR", "-", (2.6204, 0.5440), 0.1655, 0.526554),
            ("MobileNetV2 (CNN)", "2.2M", (2.1595, 0.5734), 0.0862, 203.3172),
            ("MiT-B0 (ViT)", "3.4M", (2.1821, 0.5832), 0.0710, 424.8801),
            ("ConvNextV2 (CNN)", "3.7M", (2.2353, 0.5851), 0.0609, 370.8897),
            ("MobileViTV2 (ViT)", "4.9M", (2.4645, 0.5440), 0.1171, 960.3690),
        ],
    },
}

_CSV_FRONT = [
    "task", "model", "seed", "status", "error", "family", "paper_name", "config_id", "profile", "device",
    "n_train", "n_val", "n_test", "input_shape",
]
_CSV_COST = [
    "n_params", "params_kind", "mflops", "fit_s", "predict_s", "infer_ms_per_sample", "throughput_sps",
    "latency_ms", "peak_rss_mb", "peak_rss_scope", "gpu_peak_mb", "load_avg_1min",
]
_CSV_BACK = ["overrides", "data", "machine", "versions", "command", "started_at", "finished_at"]


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` all at once, so a kill never leaves half a report behind."""
    from ..utils import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)


def _csv_value(value):
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if value is None:
        return ""
    return value


def _fmt_count(n) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    n = float(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}"


def _fmt_num(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}" if abs(x) >= 1e4 else f"{x:.{digits}f}"


def _fmt_cost(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _mean_std(values) -> tuple:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None, 0
    mean = float(np.mean(vals))
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return mean, std, len(vals)


def _pm(values, digits=4) -> str:
    mean, std, n = _mean_std(values)
    if mean is None:
        return "-"
    return _fmt_num(mean, digits) if std is None else f"{_fmt_num(mean, digits)} ± {_fmt_num(std, digits)}"


def summarize(rows: Sequence[dict], task_name: str) -> list[dict]:
    """Per model: mean and std over seeds of every measured column (rows with status ok)."""
    from ..models import list_models

    order = {m: i for i, m in enumerate(list_models())}
    task = TASKS.get(task_name)
    metric_names = task.metrics if task else ()
    groups: dict[str, list] = {}
    for row in rows:
        if row["task"] == task_name and row.get("status") == "ok":
            groups.setdefault(row["model"], []).append(row)
    out = []
    for model, rs in groups.items():
        entry = {"model": model, "family": rs[0].get("family", ""), "n_seeds": len(rs), "rows": rs}
        for col in [f"test_{m}" for m in metric_names] + [f"val_{m}" for m in metric_names] + [
            "fit_s", "latency_ms", "infer_ms_per_sample", "throughput_sps", "mflops", "n_params", "peak_rss_mb",
        ]:
            entry[col] = _mean_std([r.get(col) for r in rs])
        entry["device"] = ", ".join(sorted({str(r.get("device", "")) for r in rs}))
        out.append(entry)
    out.sort(key=lambda e: (e["family"] != "shallow", order.get(e["model"], len(order)), e["model"]))
    return out


def _task_table(rows: Sequence[dict], task_name: str) -> list[str]:
    task = TASKS.get(task_name)
    metrics = task.metrics if task else ()
    summary = summarize(rows, task_name)
    head = ["Model", "Params"]
    for m in metrics:
        arrow = "↑" if get_metric(m).greater_is_better else "↓"
        head.append(f"{get_metric(m).label} {arrow}")
    head += ["Time (ms/sample) ↓", "MFLOPs ↓", "Fit (s)", "Throughput (samples/s)", "Peak RSS (MiB)", "Seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["model"], _fmt_count(e["n_params"][0])]
        cells += [_pm([r.get(f"test_{m}") for r in e["rows"]]) for m in metrics]
        cells += [
            _pm([r.get("latency_ms") for r in e["rows"]], 3),
            _fmt_cost(e["mflops"][0]),
            _pm([r.get("fit_s") for r in e["rows"]], 3),
            _fmt_cost(e["throughput_sps"][0]),
            _fmt_cost(max((r.get("peak_rss_mb") or 0 for r in e["rows"]), default=None)),
            str(e["n_seeds"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    val_lines = []
    if summary:
        val_lines = ["", "Validation split (same rows):", ""]
        vhead = ["Model"] + [f"val {get_metric(m).label}" for m in metrics]
        val_lines += ["| " + " | ".join(vhead) + " |", "|" + "---|" * len(vhead)]
        for e in summary:
            val_lines.append(
                "| " + " | ".join([e["model"]] + [_pm([r.get(f"val_{m}") for r in e["rows"]]) for m in metrics]) + " |"
            )
    return lines + val_lines


def _reference_table(task_name: str) -> list[str]:
    ref = PAPER_RESULTS.get(task_name)
    if not ref:
        return []
    head = ["Model (paper)", "Params"] + [get_metric(m).label for m in ref["metrics"]] + ["Time (s)", "MFLOPs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, params, values, secs, mflops in ref["rows"]:
        lines.append("| " + " | ".join([name, params, *(f"{v:.4f}" for v in values), f"{secs:.4f}", f"{mflops:g}"]) + " |")
    return lines


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
    """
    out = Path(out)
    rows, _ = read_rows(out / RESULTS_FILE)
    rows = _latest_rows(rows)
    files = []

    # CSV / JSON: all rows, atomically replaced so a kill never leaves half a file.
    extra = sorted({k for r in rows for k in r} - set(_CSV_FRONT) - set(_CSV_COST) - set(_CSV_BACK) - {"traceback"})
    metric_cols = [k for k in extra if k.startswith(("test_", "val_"))]
    other = [k for k in extra if k not in metric_cols]
    columns = _CSV_FRONT + metric_cols + _CSV_COST + other + _CSV_BACK
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_value(r.get(k)) for k in columns})
    _write_text(out / "results.csv", buffer.getvalue())
    _write_text(out / "results.json", json.dumps(rows, indent=1, sort_keys=True, default=str))
    files += [out / "results.csv", out / "results.json"]

    if config_ids is None:
        config_ids = set()
        for t in {r["task"] for r in rows}:
            config_ids.add([r for r in rows if r["task"] == t][-1]["config_id"])
    shown = [r for r in rows if r["config_id"] in config_ids]
    other_configs = sorted({r["config_id"] for r in rows} - set(config_ids))

    md = ["# skquake benchmark results", ""]
    commands = list(dict.fromkeys(r["command"] for r in shown if r.get("command")))
    if commands:
        md += ["Rows produced by:", "", "```bash", *commands, "```", ""]
    if command and command not in commands:
        md += [f"Tables rebuilt by `{command}`.", ""]
    md += [
        f"Written {_now()} from `{RESULTS_FILE}` in this folder (configs: "
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
    for task_name in [t for t in TASKS if any(r["task"] == t for r in shown)] + sorted(
        {r["task"] for r in shown} - set(TASKS)
    ):
        task = TASKS.get(task_name)
        title = f"## {task_name}" + (f" — {task.description}" if task and task.description else "")
        md += [title, ""]
        if task and task.paper:
            md += [f"As in {task.paper}.", ""]
        task_rows = [r for r in shown if r["task"] == task_name]
        n_ok = sum(r["status"] == "ok" for r in task_rows)
        shapes = sorted({str(r.get("input_shape")) for r in task_rows if r.get("input_shape")})
        md += [f"{n_ok} rows ok; input {', '.join(shapes) or '-'}.", ""]
        md += _task_table(shown, task_name) + [""]
        failed = [r for r in task_rows if r["status"] != "ok"]
        if failed:
            md += ["Failed rows:", ""]
            md += [f"- {r['model']} seed {r['seed']}: `{str(r.get('error', ''))[:300]}`" for r in failed] + [""]
    if other_configs:
        md += [
            f"{len(other_configs)} other config(s) in `{RESULTS_FILE}` / `results.csv` are not in these tables: "
            f"{', '.join(other_configs)}.",
            "",
        ]
    plot_files = []
    if plots:
        plot_files = _plots(out, shown, log)
        if plot_files:
            md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plot_files] + [""]
    ref_tasks = [t for t in PAPER_RESULTS if any(r["task"] == t for r in shown)]
    if ref_tasks:
        md += [
            "## Reference: figures reported by the QuakeSet paper (not measured here)",
            "",
            "Rege Cambrin & Garza, ISCRAM 2024, Tables 2-5: the real file at 512 x 512, test split,",
            "one run; time for one sample and MFLOPs on an Intel i9-10980XE CPU.",
            "",
        ]
        for t in ref_tasks:
            md += [f"### {t}", ""] + _reference_table(t) + [""]
    _write_text(out / "results.md", "\n".join(md) + "\n")
    files.append(out / "results.md")
    return files + plot_files


def _plots(out: Path, rows: Sequence[dict], log) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: plots skipped (pip install 'skquake[plot]')")
        return []
    plot_dir = out / "plots"
    plot_dir.mkdir(exist_ok=True)
    files = []
    for task_name in [t for t in TASKS if any(r["task"] == t for r in rows)]:
        task = TASKS[task_name]
        metric = task.metrics[0]
        summary = [e for e in summarize(rows, task_name) if e[f"test_{metric}"][0] is not None]
        if not summary:
            continue
        colors = {e["model"]: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(summary)}
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, cost, label in (
            (axes[0], "latency_ms", "inference time, one sample (ms, log)"),
            (axes[1], "mflops", "MFLOPs per sample (log; deep models)"),
        ):
            any_point = False
            for e in summary:
                x = e[cost][0]
                if x is None or x <= 0:
                    continue
                y, yerr, _ = e[f"test_{metric}"]
                marker = "o" if e["family"] == "deep" else "s"
                ax.errorbar([x], [y], yerr=[yerr or 0.0], fmt=marker, capsize=3, color=colors[e["model"]])
                ax.annotate(e["model"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
                any_point = True
            if any_point:
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(f"test {get_metric(metric).label}" + (" (lower is better)" if not get_metric(metric).greater_is_better else ""))
            ax.grid(alpha=0.3)
        fig.suptitle(f"{task_name}: quality against cost (squares: shallow, circles: deep; bars: std over seeds)")
        fig.tight_layout()
        path = plot_dir / f"{task_name}_{metric}_vs_cost.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    ranking = _ranking_plot(plot_dir, rows, plt)
    if ranking is not None:
        files.append(ranking)
    elif any(TASKS[r["task"]].registry_task == "magnitude" for r in rows if r.get("task") in TASKS):
        # Only worth saying where a magnitude task ran (a damage-only run has nothing to pair).
        log("no '<backbone>-mse' / '<backbone>-rank' pair with results: ranking plot skipped")
    return files


def _ranking_plot(plot_dir: Path, rows: Sequence[dict], plt) -> Path | None:
    """Ranking against plain regression: MAE of ``<b>-mse`` and ``<b>-rank`` per backbone."""
    panels = []
    for task_name in [t for t in TASKS if TASKS[t].registry_task == "magnitude"]:
        summary = {e["model"]: e for e in summarize(rows, task_name)}
        pairs = []
        for name in summary:
            if name.endswith("-mse") and name[: -len("-mse")] + "-rank" in summary:
                b = name[: -len("-mse")]
                pairs.append((b, summary[name]["test_mae"], summary[b + "-rank"]["test_mae"]))
        if pairs:
            panels.append((task_name, pairs))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (task_name, pairs) in zip(axes[0], panels):
        idx = np.arange(len(pairs))
        width = 0.38
        for offset, which, label in ((-width / 2, 1, "MSE only"), (width / 2, 2, "MSE + ranking")):
            means = [p[which][0] for p in pairs]
            errs = [p[which][1] or 0.0 for p in pairs]
            ax.bar(idx + offset, means, width, yerr=errs, capsize=3, label=label)
        ax.set_xticks(idx)
        ax.set_xticklabels([p[0] for p in pairs], rotation=20)
        ax.set_ylabel("test MAE (lower is better)")
        ax.set_title(task_name)
        ax.legend()
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Ranking loss against plain regression, per backbone (bars: std over seeds)")
    fig.tight_layout()
    path = plot_dir / "ranking_vs_mse.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skquake benchmark",
        description="Benchmark registered models on the QuakeSet tasks (train on train, "
        "score on val and test). Resumable: rerun the same command to finish a stopped run.",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="settings bundle (default: quick)")
    p.add_argument("--data", help="QuakeSet HDF5 file, e.g. the real earthquakes.h5 (quick: synthetic default)")
    p.add_argument("--damage-data", help="data file of the damage task")
    p.add_argument("--models", nargs="+", help="registry names or wildcards (comma-separated ok)")
    p.add_argument("--tasks", nargs="+", help=f"task names or wildcards; tasks: {', '.join(TASKS)}")
    p.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the profile's)")
    p.add_argument("--out", help="output folder (default: benchmarks/results/PROFILE)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--max-epochs", type=int, help="override the deep models' epochs")
    p.add_argument("--pool", type=int, help="override the pooling factor of the images (deep and shallow)")
    p.add_argument("--threads", type=int, help="torch threads per row (default: quick 1, full one per core)")
    p.add_argument("--timeout", type=float, help="seconds one row may take before it is recorded as failed")
    p.add_argument("--retry-failed", action="store_true", help="run again rows recorded as failed")
    p.add_argument("--in-process", action="store_true", help="run rows in this process (no isolation, no timeout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plots", action="store_true", help="do not draw plots")
    p.add_argument("--report-only", action="store_true", help="only rebuild tables and plots from results.jsonl")
    p.add_argument("--dry-run", action="store_true", help="list the (task, model) pairs and exit")
    p.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    # Quoted as a shell needs it (wildcards too), so the recorded command can be pasted back.
    command = shlex.join(["skquake", "benchmark", *argv])
    if args.list_tasks:
        for t in TASKS.values():
            print(f"{t.name:<24} {t.registry_task:<10} {', '.join(t.metrics):<40} {t.paper or ''}")
        return 0
    profile = PROFILES[args.profile]
    if args.max_epochs is not None:
        profile = replace(profile, deep_overrides={**profile.deep_overrides, "max_epochs": args.max_epochs})
    if args.pool is not None:
        profile = replace(profile, pool=args.pool, shallow_pool=args.pool, lazy_deep=profile.lazy_deep and args.pool == 1)
    try:
        if args.dry_run:
            for task, model in _plan(profile, _split_patterns(args.tasks), _split_patterns(args.models)):
                print(f"{task:<24} {model}")
            return 0
        if args.report_only:
            out = Path(args.out or Path("benchmarks") / "results" / profile.name)
            if not (out / RESULTS_FILE).exists():
                print(f"skquake benchmark: no {RESULTS_FILE} in {out}", file=sys.stderr)
                return 2
            for f in write_reports(out, plots=not args.no_plots, command=command):
                print(f)
            return 0
        result = run_benchmark(
            profile,
            out=args.out,
            data=args.data,
            damage_data=args.damage_data,
            models=_split_patterns(args.models),
            tasks=_split_patterns(args.tasks),
            seeds=args.seeds,
            device=args.device,
            timeout=args.timeout,
            retry_failed=args.retry_failed,
            isolate=not args.in_process,
            threads=args.threads,
            progress=not args.no_progress,
            plots=not args.no_plots,
            command=command,
        )
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as exc:
        print(f"skquake benchmark: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nskquake benchmark: interrupted; the finished rows are saved, run the same command to resume",
              file=sys.stderr)
        return 130
    for f in result["files"]:
        print(f)
    return 1 if result["failed"] else 0


# --------------------------------------------------------------------------- damage task
# Building damage (skquake.models.damage). The damage models take the 2-D layout
# [flattened chip | metadata]; chips are small (32 x 32 by default), so the loader ignores
# `pool` and `lazy` and always returns that array. Macro AUC comes from predict_proba.
def _damage_load(path, split, *, pool=1, lazy=False):
    from ..datasets import load_damage

    X, y, _ = load_damage(path, split=split)
    return X, y


def _make_default_damage(path: Path) -> Path:
    from ..datasets.synthetic import make_damage_dataset

    return Path(make_damage_dataset(path, random_state=0))


def _damage_layout(path) -> dict:
    from ..datasets import read_damage_layout

    return read_damage_layout(path)


register_task(
    BenchTask(
        name="damage",
        registry_task="damage",
        load=_damage_load,
        metrics=("f1_macro", "roc_auc_macro", "accuracy", "precision_macro", "recall_macro"),
        description="building damage, 4 ordered classes, image chip + metadata",
        data_option="damage_data",
        make_synthetic=_make_default_damage,
        synthetic_name="damage-synthetic.h5",
        paper="QuakeMetaFormer (Table 8)",
        model_kwargs=_damage_layout,
    )
)
