"""skorch callbacks of the deep estimators: the per-batch one-cycle schedule and per-fit checkpoints."""
from __future__ import annotations

import math
import os
import tempfile
from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_scalar
from skorch.callbacks import Checkpoint, LRScheduler
from skorch.utils import to_numpy

__all__ = ["WarmupOneCycle", "FitCheckpoint"]


class _OneCycleFactor:
    """Learning-rate factor of step ``t`` for :class:`WarmupOneCycle` (picklable for LambdaLR)."""

    def __init__(self, total_steps, warmup, div_factor, final_div_factor):
        self.total_steps = int(total_steps)
        self.warmup_steps = int(round(float(warmup) * self.total_steps))
        self.start = 1.0 / float(div_factor)
        self.end = self.start / float(final_div_factor)

    def __call__(self, step):
        w = self.warmup_steps
        if step < w:
            p = step / w
            return self.start + (1.0 - self.start) * (1.0 - math.cos(math.pi * p)) / 2.0
        p = min(1.0, (step - w) / max(1, self.total_steps - w - 1))
        return self.end + (1.0 - self.end) * (1.0 + math.cos(math.pi * p)) / 2.0


class WarmupOneCycle(LRScheduler):
    """One-cycle learning rate stepped every batch: cosine warm-up, then cosine decay.

    The factor on the optimizer's learning rate (the net's ``lr``) rises from
    ``1 / div_factor`` to 1 over the first ``round(warmup * total_steps)`` batches, then decays
    to ``1 / (div_factor * final_div_factor)`` at the last batch: the shape of
    ``torch.optim.lr_scheduler.OneCycleLR`` (same defaults), written as a ``LambdaLR`` because
    ``OneCycleLR`` divides by zero when ``warmup * total_steps`` is exactly 1.

    The total number of steps (``max_epochs`` x batches per epoch) is only known once the
    training data is split, so the scheduler is built at the start of the first epoch, from
    the number of batches of the net's training iterator (``net.train_batches_per_epoch_``, set
    by :class:`QuakeNetBase`; else ``len(dataset_train) // batch_size``). Steps past
    the end (``partial_fit``) keep the final learning rate.

    Parameters
    ----------
    warmup : float or None, default=None
        Fraction of the steps spent warming up; ``None`` reads the net's ``warmup``.
    div_factor : float, default=25.0
    final_div_factor : float, default=1e4
    event_name : str, default="event_lr"
        Batch history key where the learning rate of each batch is recorded.
    """

    def __init__(self, warmup=None, div_factor=25.0, final_div_factor=1e4, event_name="event_lr"):
        super().__init__(policy=torch.optim.lr_scheduler.LambdaLR, step_every="batch",
                         event_name=event_name)
        self.warmup = warmup
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    @property
    def kwargs(self):
        return {}

    def __getstate__(self):
        # The scheduler holds the optimizer (and so its state and the weights): pickling it
        # stored them a second time. It is rebuilt at the start of every fit anyway.
        state = self.__dict__.copy()
        state["lr_scheduler_"] = None
        return state

    def on_train_begin(self, net, **kwargs):
        self.lr_scheduler_ = None
        self.total_steps_ = None
        self.batch_idx_ = 0

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.lr_scheduler_ is not None:
            return
        per_epoch = getattr(net, "train_batches_per_epoch_", None)
        if per_epoch is None:
            per_epoch = max(1, len(dataset_train) // max(2, int(net.batch_size)))
        self.total_steps_ = max(1, int(per_epoch) * int(net.max_epochs))
        warmup = net.warmup if self.warmup is None else self.warmup
        check_scalar(warmup, "warmup", Real, min_val=0.0, max_val=1.0, include_boundaries="left")
        for group in net.optimizer_.param_groups:
            # A warm-started fit restarts the cycle from the configured peak, not the last lr.
            group["lr"] = group.setdefault("initial_lr", group["lr"])
        factor = _OneCycleFactor(self.total_steps_, warmup, self.div_factor, self.final_div_factor)
        self.lr_scheduler_ = torch.optim.lr_scheduler.LambdaLR(net.optimizer_, factor)

    def on_batch_end(self, net, training, **kwargs):
        if not training or self.lr_scheduler_ is None:
            return
        self._record_last_lr(net, kind="batch")
        if self.batch_idx_ + 1 < self.total_steps_:
            self._step(net, self.lr_scheduler_)
        self.batch_idx_ += 1

    def on_epoch_end(self, net, **kwargs):
        pass


class FitCheckpoint(Checkpoint):
    """A skorch ``Checkpoint`` that writes into a fresh directory for every fit.

    ``root`` is a parent directory; each fit creates its own ``<prefix>-XXXXXXXX``
    subdirectory under it (``tempfile.mkdtemp``) and points skorch's ``dirname`` at it, so
    parallel fits of a search (``n_jobs=2``) and repeated fits never overwrite each other's
    files. The other arguments are skorch's (``monitor="valid_loss_best"`` needs a
    ``train_split``; ``load_best=True`` restores the best weights at the end of training;
    ``use_safetensors=True`` writes safetensors instead of pickles).
    """

    def __init__(self, root="checkpoints", prefix="fit", dirname="", **kwargs):
        # dirname is skorch's; it is replaced by a fresh directory under root at every fit.
        super().__init__(dirname=dirname, **kwargs)
        self.root = root
        self.prefix = prefix

    def initialize(self):
        root = os.fspath(self.root)
        os.makedirs(root, exist_ok=True)
        self.dirname = tempfile.mkdtemp(prefix=f"{self.prefix}-", dir=root)
        return super().initialize()


def _index_accuracy(net, X, y):
    """Accuracy of argmax class indices against encoded targets (valid_acc during training)."""
    y = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == y))
