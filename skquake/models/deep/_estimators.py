"""timm backbones as scikit-learn estimators (through skorch), trained with the QuakeSet recipe.

- :class:`QuakeRegressor`: magnitude regression (``NeuralNetRegressor``), MSE or
  MSE + pairwise ranking (:class:`skquake.models.deep.RegressionRankingLoss`).
- :class:`QuakeClassifier`: detection (``NeuralNetClassifier``), cross-entropy or focal loss,
  ``predict_proba`` and ``classes_`` for scikit-learn's scorers.

Both take in-memory arrays ``(n, C, H, W)``, flattened arrays ``(n, C*H*W)`` with
``input_shape=(C, H, W)``, a lazy :class:`skquake.datasets.QuakeSet` (``y`` then comes from the
dataset), or a :class:`LazyImages` view of one (what ``GridSearchCV`` can split, see
:func:`lazy_xy`).

The training recipe of the papers is the default and lives in reusable pieces that other
estimators (the damage fusion classifier) can mix in: :class:`TrainingDefaultsMixin`
(AdamW with ``weight_decay``, seeded fits, batches that never end in one sample, one-cycle
schedule stepped per batch, optional bf16 autocast), :class:`WarmupOneCycle`,
:class:`NoSingletonBatchSampler`, :class:`FitCheckpoint`; the torch side is in
:mod:`skquake.models.deep`.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import tempfile

import numpy as np
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Checkpoint, EpochScoring, LRScheduler, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, column_or_1d
from skorch.utils import to_numpy
from torch.utils.data import DataLoader, Sampler

from ...datasets import LazyImages
from ...datasets._views import _is_quakeset
from .._registry import FloatRange, register_model
from ._losses import RegressionRankingLoss
from ._nets import SARNet

__all__ = [
    "QuakeRegressor",
    "QuakeClassifier",
    "TrainingDefaultsMixin",
    "WarmupOneCycle",
    "NoSingletonBatchSampler",
    "FitCheckpoint",
    "softmax",
]


class _ImageDataset(torch.utils.data.Dataset):
    """(image, target) pairs for the DataLoader, from a tensor or a :class:`LazyImages`."""

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        x = self.X[i]
        if not isinstance(x, torch.Tensor):
            x = torch.from_numpy(x)
        if self.y is None:
            # skorch unpacks (X, y) batches; prediction has no target.
            return x, torch.zeros((), dtype=torch.float32)
        return x, self.y[i]


# --------------------------------------------------------------------------- training pieces
class NoSingletonBatchSampler(Sampler):
    """Shuffled batches of ``batch_size`` where the last batch never holds a single sample.

    A trailing batch of one sample is merged into the previous batch (BatchNorm cannot
    normalise a batch of one in training mode, and the half-batch ranking pairing needs two
    samples); no sample is dropped.

    Parameters
    ----------
    n : int
        Number of samples (at least 2).
    batch_size : int
        At least 2.
    shuffle : bool, default=True
    generator : torch.Generator, optional
        Source of the permutations (seeded for reproducible fits).
    """

    def __init__(self, n, batch_size, shuffle=True, generator=None):
        if n < 2:
            raise ValueError(f"training needs at least 2 samples, got {n}")
        if batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 for training, got {batch_size}")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        n_batches = math.ceil(self.n / self.batch_size)
        if n_batches > 1 and self.n % self.batch_size == 1:
            n_batches -= 1
        return n_batches

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        order = order.tolist()
        batches = [order[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2].extend(batches.pop())
        yield from batches


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
    by :class:`TrainingDefaultsMixin`; else ``len(dataset_train) // batch_size``). Steps past
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
        if not 0.0 <= float(warmup) < 1.0:
            raise ValueError(f"warmup must be in [0, 1), got {warmup!r}")
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


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the class axis (module-level so that nets pickle)."""
    return torch.softmax(logits, dim=-1)


def _resolve_seed(random_state):
    if random_state is None:
        return None
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) % (2**31 - 1)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


@contextlib.contextmanager
def _seeded_torch(seed, device):
    """Seed torch inside the block and restore its global generators afterwards."""
    if seed is None:
        yield
        return
    devices = []
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _check_int(name, value, minimum):
    if not isinstance(value, (numbers.Integral, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class TrainingDefaultsMixin:
    """The paper's training recipe as skorch hooks, for any skorch net in skquake.

    Mix it in before a skorch net class (``class Net(TrainingDefaultsMixin, NeuralNetClassifier)``)
    whose ``__init__`` stores ``weight_decay``, ``warmup``, ``amp``, ``random_state``. It adds:

    - ``weight_decay`` routed to the optimizer (AdamW by default in the estimators), unless
      ``optimizer__weight_decay`` is given;
    - a :class:`WarmupOneCycle` callback named ``"lr_schedule"`` (disable with
      ``callbacks__lr_schedule=None``), and a ``ProgressBar`` when ``verbose >= 2``;
    - training batches from a :class:`NoSingletonBatchSampler`, shuffled with a generator seeded
      from ``random_state``;
    - :meth:`seeded` (a context manager the estimators' ``fit`` runs in): torch's global RNG is
      seeded from ``random_state`` for the fit (weight init, flips) and restored afterwards;
    - ``amp=True``: forward passes under ``torch.autocast`` in bfloat16 (no gradient scaler is
      needed in bfloat16), the loss computed in float32.
    """

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_"; its private bookkeeping
        # (_params_to_validate, ...) is not a parameter and must not reach clone / set_params.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        callbacks.insert(-1, ("lr_schedule", WarmupOneCycle()))
        if getattr(self, "verbose", 0) and self.verbose >= 2:
            callbacks.insert(-1, ("progress_bar", ProgressBar()))
        return callbacks

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer" and self.weight_decay is not None:
            kwargs.setdefault("weight_decay", self.weight_decay)
        return args, kwargs

    @contextlib.contextmanager
    def seeded(self):
        seed = _resolve_seed(self.random_state)
        self.seed_ = seed
        with _seeded_torch(seed, self.device):
            yield

    def get_iterator(self, dataset, training=False):
        if not training:
            kwargs = self.get_params_for("iterator_valid")
            batch_size = kwargs.pop("batch_size", self.batch_size)
            if batch_size == -1:
                batch_size = len(dataset)
            # A DataLoader without its own generator draws a worker seed from torch's global
            # generator on every pass; an unseeded private one leaves the global state alone.
            kwargs.setdefault("generator", torch.Generator())
            return self.iterator_valid(dataset, batch_size=batch_size, **kwargs)
        kwargs = self.get_params_for("iterator_train")
        if any(k in kwargs for k in ("sampler", "batch_sampler", "drop_last")):
            # The user took control of batching: honour it as skorch would.
            loader = super().get_iterator(dataset, training=True)
            self.train_batches_per_epoch_ = len(loader)
            return loader
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        shuffle = kwargs.pop("shuffle", True)
        seed = getattr(self, "seed_", None)
        generator = None
        if seed is not None:
            # A fresh generator per fit gives the same batch order for the same random_state.
            generator = torch.Generator().manual_seed(seed)
            kwargs.setdefault("generator", torch.Generator().manual_seed(seed + 1))
        sampler = NoSingletonBatchSampler(len(dataset), batch_size, shuffle=shuffle, generator=generator)
        self.train_batches_per_epoch_ = len(sampler)
        return self.iterator_train(dataset, batch_sampler=sampler, **kwargs)

    def infer(self, x, **fit_params):
        if not self.amp:
            return super().infer(x, **fit_params)
        device_type = torch.device(self.device if self.device is not None else "cpu").type
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            out = super().infer(x, **fit_params)
        return out.float() if isinstance(out, torch.Tensor) else out


class _QuakeNetBase(TrainingDefaultsMixin):
    """Data handling shared by the two QuakeSet estimators (input checks, shape, lazy data)."""

    _target = "magnitude"  # what y is read from a QuakeSet passed without y

    # ----------------------------------------------------------------- parameter checks
    def _check_params(self):
        if not isinstance(self.backbone, str) or not self.backbone:
            raise ValueError(f"backbone must be a timm model name, got {self.backbone!r}")
        _check_int("max_epochs", self.max_epochs, 1)
        if self.batch_size != -1:
            _check_int("batch_size", self.batch_size, 2)
        if not (isinstance(self.lr, numbers.Real) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.weight_decay is not None and not (isinstance(self.weight_decay, numbers.Real) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a non-negative number or None, got {self.weight_decay!r}")
        if not (isinstance(self.warmup, numbers.Real) and 0 <= self.warmup < 1):
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup!r}")
        dev = torch.device(self.device) if self.device is not None else None
        if dev is not None and dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not available")

    def _check_input_shape_param(self):
        if self.input_shape is None:
            return None
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(isinstance(s, (numbers.Integral, np.integer)) and s > 0 for s in shape):
            raise ValueError(f"input_shape must be (C, H, W) of positive ints, got {self.input_shape!r}")
        return tuple(int(s) for s in shape)

    # ----------------------------------------------------------------- inputs
    def _as_images(self, X, fitted):
        """Turn X into a (n, C, H, W) float32 tensor or a LazyImages; check shape and values."""
        declared = self._check_input_shape_param()
        expected = self.input_shape_ if fitted else declared
        if _is_quakeset(X) and not isinstance(X, LazyImages):
            X = LazyImages(X)
        if isinstance(X, LazyImages):
            shape = X.shape[1:]
            if expected is not None and tuple(shape) != tuple(expected):
                raise ValueError(
                    f"the dataset's images have shape {shape} but the estimator "
                    f"{'was fitted on' if fitted else 'declares input_shape'} {tuple(expected)}"
                )
            if len(X):
                # One sample read up front fails early on NaN pixels or an unreadable file.
                first = X[0]
                if self.decibels and first.size and np.count_nonzero(first < 0) > first.size // 2:
                    raise ValueError(
                        "the dataset's images are mostly negative but decibels=True expects linear "
                        "backscatter: drop QuakeSet(transform=to_decibels) or pass decibels=False"
                    )
            return X, shape
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        # check_array gives scikit-learn's messages for sparse, 1-D, empty, object and NaN input.
        X = check_array(
            X, allow_nd=True, dtype=np.float32, order="C", ensure_min_samples=2 if not fitted else 1,
            ensure_all_finite=True, input_name="X", estimator=self,
        )
        if X.ndim == 4:
            shape = X.shape[1:]
            if expected is not None and tuple(shape) != tuple(expected):
                raise ValueError(
                    f"X has images of shape {shape} but the estimator "
                    f"{'was fitted on' if fitted else 'declares input_shape'} {tuple(expected)}"
                )
        elif X.ndim == 2:
            if expected is None:
                # The skquake convention for 2-D input without a declared shape: F channels of a
                # 1 x 1 image (what scikit-learn's estimator checks feed).
                expected = (X.shape[1], 1, 1)
            if X.shape[1] != int(np.prod(expected)):
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{int(np.prod(expected))} features as input (input_shape {tuple(expected)})"
                )
            shape = tuple(expected)
            X = X.reshape((X.shape[0],) + shape)
        else:
            raise ValueError(
                f"X must be 4-D (n, C, H, W) or 2-D (n, C*H*W) with input_shape, got shape {X.shape}"
            )
        if self.decibels and X.size and np.count_nonzero(X < 0) > X.size // 2:
            # A few negative sigma0 values (thermal-noise removal) are clipped to 0 by the
            # network; mostly negative input is decibels or standardised data.
            raise ValueError(
                "X is mostly negative but decibels=True expects linear backscatter (>= 0): "
                "pass decibels=False for inputs that are already in decibels or standardised"
            )
        if not X.flags.writeable:
            X = X.copy()
        return torch.from_numpy(X), tuple(int(s) for s in shape)

    def _prepare_fit(self, X, y, fitted=False, reinit=True):
        # reinit: the module will be (re)built from scratch by this call, so statistics taken
        # from y (the regressor's target standardisation) are (re)computed.
        self._check_params()
        if y is None:
            if not (_is_quakeset(X) or isinstance(X, LazyImages)):
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None "
                    "(y may be omitted only when X is a QuakeSet or LazyImages)"
                )
            view = X if isinstance(X, LazyImages) else LazyImages(X)
            y = view.targets(self._target)
        X, shape = self._as_images(X, fitted=fitted)
        n = len(X)
        if n < 2:
            raise ValueError(f"training needs at least 2 samples, got {n} sample(s)")
        y = self._check_targets(y, n, fitted=fitted)
        if reinit:
            self._fit_target_stats(y)
        self.input_shape_ = shape
        self.n_features_in_ = int(np.prod(shape))
        return X, y

    def get_dataset(self, X, y=None):
        if isinstance(X, (torch.Tensor, LazyImages)):
            return _ImageDataset(X, y)
        return super().get_dataset(X, y)

    def forward_iter(self, X, training=False, device="cpu"):
        self.check_is_fitted()
        if not isinstance(X, (torch.utils.data.Dataset, SkorchDataset)) or _is_quakeset(X):
            X, _ = self._as_images(X, fitted=True)
        return super().forward_iter(X, training=training, device=device)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if "_routing_method" not in fit_params:
            # A direct partial_fit call: check the data as fit does (fit has done it already).
            # Once initialised, the data must keep the shape the module was built for.
            X, y = self._prepare_fit(X, y, fitted=self.initialized_ and hasattr(self, "input_shape_"),
                                     reinit=not self.initialized_)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def initialize_module(self):
        shape = getattr(self, "input_shape_", None) or self._check_input_shape_param()
        if shape is None:
            raise ValueError("the input shape is unknown: call fit, or pass input_shape=(C, H, W)")
        # Also set when initialize() is called directly (e.g. before load_params).
        self.input_shape_ = tuple(shape)
        self.n_features_in_ = int(np.prod(shape))
        kwargs = self.get_params_for("module")
        c, h, w = shape
        try:
            self.module_ = self.module(
                backbone=self.backbone, in_chans=c, num_outputs=self._n_outputs(), input_size=(h, w),
                pretrained=self.pretrained, decibels=self.decibels, flips=self.flips,
                clamp=self._clamp(), channels_last=self.channels_last, **self._output_affine(),
                **kwargs,
            )
        except ValueError as exc:
            if (h, w) == (1, 1) and self.input_shape is None:
                raise ValueError(
                    f"{exc} (2-D X without input_shape is read as {c} channels of a 1 x 1 image: "
                    "pass input_shape=(C, H, W) for flattened images)"
                ) from exc
            raise
        return self

    def save_weights(self, path):
        """Write the module's state dict, input shape (and classes) with ``torch.save``.

        Load them into an estimator built with the same arguments with :meth:`load_weights`,
        which uses ``torch.load(weights_only=True)`` (no pickled code is run).
        """
        self.check_is_fitted()
        state = {"state_dict": self.module_.state_dict(), "input_shape": list(self.input_shape_)}
        extra = self._extra_state()
        state.update(extra)
        torch.save(state, os.fspath(path))

    def load_weights(self, path):
        """Initialise from weights written by :meth:`save_weights` (``weights_only=True``)."""
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        self.input_shape_ = tuple(int(s) for s in state["input_shape"])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self._restore_extra_state(state)
        self.initialize()
        self.module_.load_state_dict(state["state_dict"])
        return self

    def _extra_state(self):
        return {}

    def _restore_extra_state(self, state):
        pass

    def _fit_target_stats(self, y):
        pass

    def _output_affine(self):
        return {}


_SKORCH_DOC = """
    Parameters
    ----------
    backbone : str, default="mobilenetv2_100"
        Any timm model name. Built at fit time with ``in_chans`` from the data.
    pretrained : bool, default=False
        timm pretrained weights (never downloaded by skquake; they must be cached locally).
    input_shape : tuple (C, H, W), optional
        Needed for flattened 2-D input; checked against 4-D input. Otherwise read from the data.
    max_epochs : int, default={max_epochs}
    lr : float, default={lr}
        Peak learning rate of the one-cycle schedule.
    batch_size : int, default=16
        Training and prediction batch size (>= 2: a training batch never holds one sample).
    weight_decay : float, default=0.01
        Passed to the optimizer (AdamW).
    warmup : float, default=0.1
        Warm-up fraction of the one-cycle schedule (per batch).
    criterion : torch loss class, default={criterion}
        Its arguments are routed with ``criterion__*`` (tunable in searches).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Its arguments are routed with ``optimizer__*``.
    decibels : bool, default=True
        Convert linear backscatter to ``10 log10(max(x, 0) + 1e-9)`` inside the network (so
        predict takes the same linear input; a few negative values from thermal-noise removal
        become -90 dB). Mostly negative input is rejected at fit: pass ``False`` for inputs
        already in decibels or standardised.
    flips : bool, default=True
        Random horizontal and vertical flips of training batches (never at prediction).
    {extra}amp : bool, default=False
        bfloat16 autocast for forward passes.
    channels_last : bool, default=False
        Channels-last memory format for the backbone.
    device : str, default="cpu"
        ``"cuda"`` to train on a GPU (module, batches and targets are moved by skorch).
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, batch order and flips for the fit (torch's global RNG is
        restored afterwards). Two fits on CPU with the same int give identical predictions.
    verbose : int, default=0
        1: skorch's per-epoch table; 2: also a progress bar over batches.
    train_split : callable or None, default=None
        skorch's internal validation split (None: train on all of X; the recipe's default).
        Needed for ``EarlyStopping`` / ``FitCheckpoint`` monitoring ``valid_loss``; e.g.
        ``skorch.dataset.ValidSplit(5)`` or ``predefined_split``. It does not know events:
        prefer an outer ``GroupKFold`` for honest validation.
    callbacks : list, optional
        Extra skorch callbacks (``EarlyStopping``, :class:`FitCheckpoint`, ...). The defaults
        include ``"lr_schedule"`` (:class:`WarmupOneCycle`; ``callbacks__lr_schedule=None``
        disables it).
    module : torch module class, default=:class:`skquake.models.deep.SARNet`
        Called with ``backbone``, ``in_chans``, ``num_outputs``, ``input_size``, ``pretrained``,
        ``decibels``, ``flips``, ``clamp``, ``channels_last``, (regressor with
        ``standardize_target=True``) ``output_shift`` and ``output_scale``, and ``module__*``
        (``module__drop_rate=0.1`` reaches ``timm.create_model``).
    iterator_train, iterator_valid, dataset, predict_nonlinearity, warm_start, compile,
    use_caching, torch_load_kwargs, **kwargs
        As in skorch (``iterator_train__num_workers=2``, ``criterion__margin=0.05``, ...).
"""


class QuakeRegressor(_QuakeNetBase, NeuralNetRegressor):
    __doc__ = (
        """Earthquake magnitude regression with a timm backbone (skorch ``NeuralNetRegressor``).

    Defaults follow the QuakeSet / ranking papers: AdamW (weight decay 0.01), one-cycle schedule
    with 10% warm-up stepped per batch, batch 16, decibel input, random flips on training
    batches, predictions clamped to ``clamp``. Use
    ``criterion=skquake.models.deep.RegressionRankingLoss`` for MSE + pairwise ranking.
    ``predict`` returns a 1-D array.
"""
        + _SKORCH_DOC.format(
            max_epochs=6, lr=1e-4, criterion="torch.nn.MSELoss",
            extra="clamp : tuple (low, high) or None, default=(0.0, 10.0)\n"
                  "        Prediction range (applied at inference only).\n"
                  "    standardize_target : bool, default=True\n"
                  "        Learn ``(y - mean) / std`` (statistics of the training y, kept as\n"
                  "        ``target_mean_`` / ``target_scale_``): the module's output is mapped back\n"
                  "        by ``SARNet(output_shift=mean, output_scale=std)``, so the criterion\n"
                  "        (MSE, the ranking margin) and ``predict`` stay in magnitude units. A fresh\n"
                  "        head outputs ~0, far from magnitudes of 0 and ~5.6; False trains on y as is.\n    ",
        )
    )

    _target = "magnitude"

    def __init__(
        self, backbone="mobilenetv2_100", *, pretrained=False, input_shape=None, max_epochs=6,
        lr=1e-4, batch_size=16, weight_decay=0.01, warmup=0.1, criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW, decibels=True, flips=True, clamp=(0.0, 10.0),
        standardize_target=True, amp=False,
        channels_last=False, device="cpu", random_state=None, verbose=0, train_split=None,
        callbacks=None, module=SARNet, iterator_train=DataLoader, iterator_valid=DataLoader,
        dataset=SkorchDataset, predict_nonlinearity="auto", warm_start=False, compile=False,
        use_caching="auto", torch_load_kwargs=None, **kwargs,
    ):
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, iterator_train=iterator_train, iterator_valid=iterator_valid,
            dataset=dataset, train_split=train_split, callbacks=callbacks,
            predict_nonlinearity=predict_nonlinearity, warm_start=warm_start, verbose=verbose,
            device=device, compile=compile, use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs, **kwargs,
        )
        self.backbone = backbone
        self.pretrained = pretrained
        self.input_shape = input_shape
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.decibels = decibels
        self.flips = flips
        self.clamp = clamp
        self.standardize_target = standardize_target
        self.amp = amp
        self.channels_last = channels_last
        self.random_state = random_state

    def _n_outputs(self):
        return 1

    def _check_params(self):
        super()._check_params()
        if not isinstance(self.standardize_target, (bool, np.bool_)):
            raise ValueError(f"standardize_target must be True or False, got {self.standardize_target!r}")

    def _fit_target_stats(self, y):
        # The network predicts (y - mean) / std and SARNet maps it back (output_shift/scale),
        # so the loss, its ranking margin and the predictions stay in magnitude units.
        if self.standardize_target:
            y = np.asarray(y, dtype=np.float64)
            std = float(y.std())
            self.target_mean_ = float(y.mean())
            self.target_scale_ = std if std > 1e-12 else 1.0
        else:
            self.target_mean_, self.target_scale_ = 0.0, 1.0

    def _output_affine(self):
        if not self.standardize_target:
            return {}
        # Before a fit (initialize() then load_weights / load_params) the buffers are
        # placeholders that the loaded state dict overwrites.
        return {"output_shift": getattr(self, "target_mean_", 0.0),
                "output_scale": getattr(self, "target_scale_", 1.0)}

    def _clamp(self):
        if self.clamp is None:
            return None
        low, high = self.clamp
        if not low < high:
            raise ValueError(f"clamp must be (low, high) with low < high, got {self.clamp!r}")
        return (float(low), float(high))

    def _check_targets(self, y, n, fitted=False):
        y = np.asarray(y)
        if y.dtype == object:
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError("Unknown label type: y must hold numeric magnitudes") from None
        if not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"Unknown label type: y must hold numeric magnitudes, got dtype {y.dtype}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n,) magnitudes, got shape {y.shape}")
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)}")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
        return y.astype(np.float32).reshape(-1, 1)

    def fit(self, X, y=None, **fit_params):
        """Train on ``X`` (array, flattened array + ``input_shape``, QuakeSet or LazyImages).

        ``y``: magnitudes (0 for negatives); optional when X is a QuakeSet / LazyImages.
        """
        X, y = self._prepare_fit(X, y, reinit=not (self.warm_start and self.initialized_))
        with self.seeded():
            return super().fit(X, y, **fit_params)

    def predict(self, X):
        """Predicted magnitudes, shape (n,), clamped to ``clamp``."""
        nonlin = self._get_predict_nonlinearity()
        outputs = []
        for yp in self.forward_iter(X, training=False):
            yp = yp[0] if isinstance(yp, tuple) else yp
            outputs.append(to_numpy(nonlin(yp)))
        return np.concatenate(outputs, 0).reshape(-1)

    @available_if(lambda self: False)
    def predict_proba(self, X):
        """Not available: a regressor has no class probabilities (use ``predict``)."""
        raise AttributeError("QuakeRegressor has no predict_proba")


class QuakeClassifier(_QuakeNetBase, NeuralNetClassifier):
    __doc__ = (
        """Earthquake detection (or any image classification) with a timm backbone.

    skorch ``NeuralNetClassifier`` with the QuakeSet recipe as defaults (see
    :class:`QuakeRegressor`); the head has one output per class, trained with cross-entropy
    (or ``criterion=skquake.models.deep.FocalLoss``). ``predict_proba`` returns softmax
    probabilities whatever the criterion; ``predict`` returns labels from ``classes_``.
"""
        + _SKORCH_DOC.format(
            max_epochs=6, lr=1e-4, criterion="torch.nn.CrossEntropyLoss",
            extra="classes : array-like, optional\n"
                  "        The class labels (default: the sorted unique values of y).\n    ",
        )
    )

    _target = "label"

    def __init__(
        self, backbone="mobilenetv2_100", *, pretrained=False, input_shape=None, max_epochs=6,
        lr=1e-4, batch_size=16, weight_decay=0.01, warmup=0.1, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW, decibels=True, flips=True, classes=None, amp=False,
        channels_last=False, device="cpu", random_state=None, verbose=0, train_split=None,
        callbacks=None, module=SARNet, iterator_train=DataLoader, iterator_valid=DataLoader,
        dataset=SkorchDataset, predict_nonlinearity="auto", warm_start=False, compile=False,
        use_caching="auto", torch_load_kwargs=None, **kwargs,
    ):
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, iterator_train=iterator_train, iterator_valid=iterator_valid,
            dataset=dataset, train_split=train_split, callbacks=callbacks, classes=classes,
            predict_nonlinearity=predict_nonlinearity, warm_start=warm_start, verbose=verbose,
            device=device, compile=compile, use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs, **kwargs,
        )
        self.backbone = backbone
        self.pretrained = pretrained
        self.input_shape = input_shape
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.decibels = decibels
        self.flips = flips
        self.amp = amp
        self.channels_last = channels_last
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        # skorch's valid_acc scores predict() against y; the net trains on class indices while
        # predict() returns labels, so score the indices instead, and only with a split.
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "valid_acc":
                if self.train_split is None:
                    continue
                cb = EpochScoring(_index_accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append((name, cb))
        return callbacks

    def check_data(self, X, y):
        super().check_data(X, y)
        if getattr(self, "fit_classes_", None) is not None:
            # skorch inferred the classes from the encoded y; expose the user's labels.
            self.classes_inferred_ = self.fit_classes_

    def _n_outputs(self):
        classes = getattr(self, "fit_classes_", None)
        if classes is None and self.classes is not None:
            classes = np.asarray(self.classes)
        if classes is None:
            raise ValueError("the classes are unknown: call fit, or pass classes=[...]")
        return len(classes)

    def _clamp(self):
        return None

    def _check_targets(self, y, n, fitted=False):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n,) labels, got shape {y.shape}")
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)}")
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: y must hold class labels (binary or multiclass), got {kind!r}")
        if self.classes is not None:
            classes = np.asarray(self.classes)
        elif fitted and getattr(self, "fit_classes_", None) is not None:
            classes = self.fit_classes_  # partial_fit: the module's outputs are fixed
        else:
            classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y has a single class ({classes[0]!r}); a classifier needs at least 2 classes")
        unknown = np.setdiff1d(np.unique(y), classes)
        if len(unknown):
            raise ValueError(f"y has labels {unknown.tolist()} that are not in classes={classes.tolist()}")
        self.fit_classes_ = classes
        sorter = np.argsort(classes)
        return sorter[np.searchsorted(classes, y, sorter=sorter)].astype(np.int64)

    def fit(self, X, y=None, **fit_params):
        """Train on ``X`` (array, flattened array + ``input_shape``, QuakeSet or LazyImages).

        ``y``: class labels; optional when X is a QuakeSet / LazyImages (then its labels).
        """
        X, y = self._prepare_fit(X, y, reinit=not (self.warm_start and self.initialized_))
        with self.seeded():
            return super().fit(X, y, **fit_params)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            self.check_is_fitted()
            return softmax
        return super()._get_predict_nonlinearity()

    def predict(self, X):
        """Predicted class labels (values of ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def _extra_state(self):
        return {"classes": list(np.asarray(self.classes_).tolist())}

    def _restore_extra_state(self, state):
        self.fit_classes_ = np.asarray(state["classes"])
        self.classes_inferred_ = self.fit_classes_


# --------------------------------------------------------------------------- registry
# The QuakeSet paper's deep baselines (CNN: 6 epochs, lr 1e-4; ViT: 10 epochs, lr 1e-3) and the
# ranking paper's regression + ranking variant of each.
_PAPER_BACKBONES = (
    # (registry prefix, timm name, paper row name, kind)
    ("mobilenetv2", "mobilenetv2_100", "MobileNetV2", "cnn"),
    ("convnextv2-atto", "convnextv2_atto", "ConvNextV2-Atto", "cnn"),
    ("mobilevitv2", "mobilevitv2_100", "MobileViTV2-1.0", "vit"),
    ("pvt-v2-b0", "pvt_v2_b0", "MiT-B0 (pvt_v2_b0)", "vit"),
)
# Not a paper model: a small CNN that learns from scratch within a CPU budget (the quick
# benchmark profile). On the default synthetic file (32 x 32, 10 epochs, lr 1e-3) resnet10t
# reaches a test detection accuracy of ~0.7 where mobilenetv2_100 and resnet18, whose stems
# downsample at once, stay at chance (docs/deep.md, "Why the deep models learned nothing").
_SMALL_BACKBONES = (
    ("resnet10t", "resnet10t", None, "small"),
)
_RECIPE = {"cnn": {"max_epochs": 6, "lr": 1e-4}, "vit": {"max_epochs": 10, "lr": 1e-3},
           "small": {"max_epochs": 10, "lr": 1e-3}}


def _space(kind, ranking):
    lr = _RECIPE[kind]["lr"]
    space = {
        "lr": FloatRange(lr / 10, lr * 10, log=True, grid_values=(lr / 3, lr, lr * 3)),
        "weight_decay": FloatRange(1e-4, 1e-1, log=True, grid_values=(0.01, 0.05)),
    }
    if ranking:
        space["criterion__ranking_weight"] = FloatRange(0.1, 3.0, log=True, grid_values=(0.5, 1.0, 2.0))
        space["criterion__margin"] = FloatRange(0.0, 0.5, grid_values=(0.02, 0.1))
    return space


def _make_factory(estimator_cls, defaults):
    def factory(**overrides):
        params = dict(defaults)
        params.update(overrides)
        return estimator_cls(**params)

    return factory


def _register_builtins():
    for prefix, timm_name, paper_name, kind in _PAPER_BACKBONES + _SMALL_BACKBONES:
        recipe = dict(_RECIPE[kind], backbone=timm_name)
        source = "QuakeSet paper recipe" if kind != "small" else "small CNN, not a paper model"
        tags = ("paper",) if kind != "small" else ("small",)
        register_model(
            f"{prefix}-mse", task="magnitude", family="deep",
            description=f"{timm_name} regressor, MSE loss ({source})",
            paper_name=paper_name, search_space=_space(kind, False), tags=tags,
        )(_make_factory(QuakeRegressor, recipe))
        register_model(
            f"{prefix}-rank", task="magnitude", family="deep",
            description=f"{timm_name} regressor, MSE + half-batch margin ranking loss 1:1 (ranking paper's loss)",
            paper_name=paper_name and f"{paper_name} + ranking", search_space=_space(kind, True),
            tags=tags + ("ranking",),
        )(_make_factory(QuakeRegressor, dict(recipe, criterion=RegressionRankingLoss)))
        register_model(
            f"{prefix}-det", task="detection", family="deep",
            description=f"{timm_name} detection classifier, cross-entropy ({source})",
            paper_name=paper_name, search_space=_space(kind, False), tags=tags,
        )(_make_factory(QuakeClassifier, recipe))


_register_builtins()
