"""The torch side of a row: device, threads, seeds, size and FLOPs, selection on validation.

This module imports torch and skorch; the rest of :mod:`skquake.benchmark` imports it only
when a run starts, so that ``import skquake.benchmark``, ``skquake benchmark --help`` and
``--report-only`` stay torch-free.
"""
from __future__ import annotations

import math
import random
import time

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, EpochScoring
from torch.utils.flop_counter import FlopCounterMode

from ..metrics import get_metric
from ._host import cpu_count

__all__ = [
    "ScoreHeldOut",
    "device_description",
    "find_torch_module",
    "flops_per_sample",
    "gpu_peak_mb",
    "reset_gpu_peak",
    "resolve_device",
    "seed_everything",
    "selection_callbacks",
    "selection_record",
    "set_torch_threads",
    "torch_threads",
]


# --------------------------------------------------------------------------- device and threads
def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when CUDA is available, else ``"cpu"``; other values as given."""
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_threads() -> int:
    """torch's intra-op threads in this process."""
    return torch.get_num_threads()


def set_torch_threads(n: int) -> int:
    """Set torch's intra-op threads to ``n``; return the previous number."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    return previous


def device_description(device: str) -> str:
    """``"cuda (NVIDIA ...)"`` or ``"cpu (2 cores, 1 torch threads)"``: a CPU row is never
    read as a GPU row."""
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({cpu_count()} cores, {torch_threads()} torch threads)"


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global seeds."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def reset_gpu_peak() -> None:
    """Start a fresh window for :func:`gpu_peak_mb`."""
    torch.cuda.reset_peak_memory_stats()


def gpu_peak_mb() -> float:
    """``torch.cuda.max_memory_allocated`` in MiB since :func:`reset_gpu_peak`."""
    return torch.cuda.max_memory_allocated() / 2**20


# --------------------------------------------------------------------------- size and FLOPs
def find_torch_module(estimator):
    """The fitted ``torch.nn.Module`` inside an estimator (skorch ``module_``), or None."""
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


def flops_per_sample(module, sample: np.ndarray) -> float:
    """FLOPs of one forward pass of ``module`` on ``sample`` (a batch of one), by PyTorch's
    ``FlopCounterMode`` (a multiply-add counts 2), in eval mode and without gradients."""
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


# --------------------------------------------------------------------------- selection on val
class ScoreHeldOut(EpochScoring):
    """skorch's ``EpochScoring`` on a validation split that the net does not hold.

    ``EpochScoring(on_train=False)`` scores the split the net's ``train_split`` carves out; the
    benchmark's validation split is the file's own (by event) and the registered nets train
    with ``train_split=None``. Giving them ``predefined_split(val)`` instead would make skorch
    compute a validation loss on targets in the net's internal encoding (float32 columns,
    class indices) and would need the estimators' private input checks for the images. So this
    subclass only changes where the test data comes from (:meth:`get_test_data`, skorch's
    documented hook): after every epoch it calls ``scoring(net, X, y)`` on the held-out
    ``(X, y)`` -- one ``predict`` over the split, as the hand-written callback it replaces did,
    without caching (there is no cached validation pass to reuse) -- and records the score in
    ``net.history`` under ``name``. It also adds up the seconds those passes take
    (``seconds_``). The net's ``use_caching`` must be ``"auto"`` (the registered nets' default)
    or ``False``: with ``True`` skorch would feed it cached predictions of a validation pass
    that does not happen.

    Parameters
    ----------
    scoring : callable
        ``scoring(net, X, y) -> float``.
    X, y
        The held-out split.
    lower_is_better : bool, default=True
    name : str, optional
        History key of the score.
    """

    def __init__(self, scoring, X, y, lower_is_better=True, name=None):
        super().__init__(scoring, lower_is_better=lower_is_better, name=name, use_caching=False)
        self.X = X
        self.y = y

    def _get_param_names(self):
        # The constructor's parameters, not every attribute (skorch's default): so that
        # sklearn's clone rebuilds it, as ConformalRegressor does with the net (--interval).
        return ["scoring", "X", "y", "lower_is_better", "name"]

    def initialize(self):
        self.seconds_ = 0.0
        return super().initialize()

    def get_test_data(self, dataset_train, dataset_valid, use_caching):
        return self.X, self.y, []

    def on_epoch_end(self, net, **kwargs):
        t0 = time.perf_counter()
        super().on_epoch_end(net, **kwargs)
        self.seconds_ += time.perf_counter() - t0


def selection_callbacks(estimator, metric: str, X_val, y_val) -> list | None:
    """Callbacks that keep the weights of a skorch net's best epoch on a validation split.

    :class:`ScoreHeldOut` scores the registered ``metric`` (its direction from the metric
    registry) after every epoch; skorch's ``EarlyStopping(load_best=True)`` with an infinite
    patience never stops the training but copies the module's state dict at every strict
    improvement (``threshold=0``, absolute: a tie keeps the earlier epoch) and restores the
    best one when training ends. Nothing is written to disk. On the same data and seed this
    chooses the same epoch and leaves the same weights as the hand-written callback it
    replaced (one ``predict`` of the split per epoch either way, at the same point of the
    epoch, so the random streams of training are untouched). The one case that would differ,
    a NaN score, never counts as an improvement here; the registered headline metrics cannot
    be NaN (MAE refuses NaN predictions, accuracy and F1 are always defined).

    Parameters
    ----------
    estimator : estimator
        The model of the row.
    metric : str
        A registered metric name (the task's headline metric).
    X_val, y_val
        The validation split.

    Returns
    -------
    list of (name, callback) or None
        ``[("select_on_val_score", ScoreHeldOut), ("select_on_val_best", EarlyStopping)]``
        for a skorch ``NeuralNet``; ``None`` for other estimators (they are fitted once, with
        their registered settings).
    """
    if not isinstance(estimator, NeuralNet):
        return None
    spec = get_metric(metric)
    lower = not spec.greater_is_better
    name = f"val_{metric}"
    return [
        ("select_on_val_score", ScoreHeldOut(spec.from_estimator, X_val, y_val, lower_is_better=lower, name=name)),
        ("select_on_val_best", EarlyStopping(monitor=name, lower_is_better=lower, patience=math.inf,
                                             threshold=0.0, threshold_mode="abs", load_best=True)),
    ]


def selection_record(estimator, callbacks) -> dict:
    """The row's ``best_epoch``, ``val_curve`` and ``select_s`` after a fit with
    :func:`selection_callbacks`."""
    (_, scoring), (_, best) = callbacks
    curve = estimator.history[:, scoring.name]
    return {"best_epoch": best.best_epoch_, "val_curve": [round(v, 6) for v in curve],
            "select_s": scoring.seconds_}
