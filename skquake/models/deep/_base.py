"""The base of every skquake deep estimator: a skorch net with the papers' training recipe.

:class:`QuakeNetBase` is mixed in before a skorch net class
(``class QuakeRegressor(QuakeNetBase, NeuralNetRegressor)``), and :class:`ClassifierNetMixin`
before it for classifiers. They hold what the deep estimators share, so that each estimator
only says how its input becomes tensors and which torch module it builds:

- declarative validation: ``_parameter_constraints``, checked with scikit-learn's machinery at
  ``fit`` (together with skorch's own check of its prefixed arguments);
- seeding from ``random_state`` (torch's global generator is restored after the fit);
- the training recipe: AdamW ``weight_decay``, a warm-up one-cycle schedule stepped per batch
  (:class:`~skquake.models.deep.WarmupOneCycle`), training batches that never hold a single
  sample (:class:`~skquake.models.deep.NoSingletonBatchSampler`), optional bfloat16 autocast;
- per-sample weights: ``fit(X, y, sample_weight=...)`` weights the loss
  (:func:`~skquake.models.deep.weighted_loss`);
- batches of a decoded cache read whole (one indexed read per batch, float16 decibels decoded
  on the device by :meth:`~QuakeNetBase.decode_batch`; :mod:`skquake.models.deep._data`);
- persistence: :meth:`~QuakeNetBase.save_weights` / :meth:`~QuakeNetBase.load_weights`;
  pickling is skorch's, without the optimizer's state unless ``keep_training_state=True``.

Everything goes through skorch's hooks (``get_iterator``, ``infer``, ``get_params_for_optimizer``,
the default callbacks; the estimators add ``initialize_module`` and ``get_dataset``): ``fit``
validates and converts the data, then runs skorch's own ``fit`` in the seeded context.
"""
from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight, column_or_1d
from skorch import NeuralNet
from skorch.callbacks import EpochScoring, ProgressBar
from skorch.dataset import get_len
from skorch.utils import to_tensor

from ...utils import Options, StrictInterval, StrOptions, check_image_shape
from ._callbacks import WarmupOneCycle, _index_accuracy
from ._data import (
    _DECIBELS,
    NoSingletonBatchSampler,
    _WeightedDataset,
    decode_decibels,
    split_weights,
    with_batch_collate,
)
from ._device import AUTO, resolve_auto
from ._losses import weighted_loss

__all__ = ["QuakeNetBase", "ClassifierNetMixin", "softmax", "target_vector"]


#: Docstring entries of the parameters every deep estimator shares, formatted with the
#: estimator's defaults; the estimators' docstrings end with it.
RECIPE_PARAMETERS_DOC = """\
    weight_decay : float or None, default={weight_decay}
        Passed to the optimizer (AdamW), unless ``optimizer__weight_decay`` is given.
    warmup : float in [0, 1), default=0.1
        Warm-up fraction of the one-cycle learning-rate schedule (stepped per batch).
    amp : bool or "auto", default="auto"
        bfloat16 autocast for the backbone's forward pass; its head, the output transforms
        and the loss run in float32, so predictions keep float32 resolution. ``"auto"``: on
        when ``device`` is a CUDA GPU that computes in bfloat16, off on a CPU.
    channels_last : bool or "auto", default="auto"
        Channels-last memory format for the backbone and its input. ``"auto"``: on when
        ``device`` is a CUDA GPU, off on a CPU.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, batch order and random augmentation for the fit (torch's
        global generator is restored afterwards). Two fits on CPU with the same int give
        identical predictions.
    criterion : torch loss class, default={criterion}
        Its arguments are routed with ``criterion__*`` (tunable in searches).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Its arguments are routed with ``optimizer__*``.
    lr : float, default={lr}
        Peak learning rate of the one-cycle schedule.
    max_epochs : int, default={max_epochs}
    batch_size : int, default={batch_size}
        Training batch size, at least 2 (a training batch never holds one sample), or -1
        (all samples); also the prediction batch size unless ``iterator_valid__batch_size``
        is given.
    train_split : callable or None, default=None
        skorch's internal validation split (None: train on all of X; the recipe's default).
        Needed for ``EarlyStopping`` / ``FitCheckpoint`` monitoring ``valid_loss``; e.g.
        ``skorch.dataset.ValidSplit(5)`` or ``predefined_split``. It does not know events or
        regions: prefer an outer group-aware split for honest validation.
    verbose : int, default=0
        1: skorch's per-epoch table; 2: also a progress bar over batches.
    keep_training_state : bool, default=False
        Whether ``pickle`` / ``joblib.dump`` keep the optimizer's state (AdamW: two moment
        tensors per weight, twice the size of the weights). By default a fitted estimator
        pickles to about the size of its weights and predicts identically once loaded;
        ``partial_fit`` / ``warm_start`` after loading go on training with a fresh optimizer.
        True keeps the state, for resuming exactly where training stopped.
    **kwargs
        skorch's other arguments, with skorch's defaults, recorded by skorch (``get_params``,
        ``set_params`` and ``clone`` see them): ``device="cpu"`` (``"cuda"`` trains on a GPU;
        asking for CUDA where there is none fails at ``fit``), ``callbacks`` (extra callbacks:
        ``EarlyStopping``, :class:`FitCheckpoint`, ...; the defaults include ``"lr_schedule"``,
        a :class:`WarmupOneCycle` that ``callbacks__lr_schedule=None`` disables), ``classes``
        (classifiers: the labels, in order; default: the sorted labels of ``y``),
        ``iterator_train``, ``iterator_valid``, ``dataset``, ``predict_nonlinearity``,
        ``warm_start``, ``compile`` (True: skorch wraps the module in ``torch.compile``, whose
        arguments are routed with ``compile__*``), ``use_caching``, ``torch_load_kwargs``; and arguments
        routed to a part by their prefix: ``module__*``, ``criterion__*``, ``optimizer__*``,
        ``iterator_train__*`` (``iterator_train__num_workers=2``), ``iterator_valid__*``,
        ``callbacks__*``.
"""


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the class axis (module-level so that nets pickle)."""
    return torch.softmax(logits, dim=-1)


def target_vector(y, n, what):
    """``y`` as a 1-D array of ``n`` targets (a single column is accepted, with scikit-learn's
    warning); ``what`` names them in the error (``"labels"``, ``"magnitudes"``)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n,) {what}, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"X has {n} samples but y has {len(y)}")
    return y


def _resolve_seed(random_state):
    if random_state is None:
        return None
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
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


def _skorch_arguments(cls):
    """The ``__init__`` arguments of the skorch classes among ``cls``'s bases, in order."""
    names = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, NeuralNet) and klass.__module__.startswith("skorch") and "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                    names[p.name] = None
    return list(names)


class QuakeNetBase:
    """The shared base of skquake's deep estimators (mix in before a skorch net class).

    A subclass's ``__init__`` lists every hyperparameter explicitly and passes them here: the
    shared ones (``backbone``, ..., ``random_state``) are stored unchanged, skorch's
    (``module``, ``criterion``, ``lr``, ..., and ``**kwargs``) go to skorch's ``__init__``,
    which records them; ``get_params`` / ``set_params`` / ``clone`` then see them all. The
    subclass stores its own. It provides:

    - ``_parameter_constraints`` for the shared parameters, checked by ``_validate_params``
      first thing in ``fit`` (scikit-learn's check of the values, then what a constraint cannot
      say: the contents of ``input_shape``, whether the requested CUDA device exists); skorch's
      own arguments are listed with ``"no_validation"``, read from skorch's signatures, so that
      the dict names every parameter (skorch checks the names of prefixed arguments at the end
      of ``initialize``);
    - ``weight_decay`` routed to the optimizer (AdamW in the estimators), unless
      ``optimizer__weight_decay`` is given;
    - a :class:`WarmupOneCycle` callback named ``"lr_schedule"`` (disable with
      ``callbacks__lr_schedule=None``), and a ``ProgressBar`` when ``verbose >= 2``;
    - training batches from a :class:`NoSingletonBatchSampler`, shuffled with a generator seeded
      from ``random_state`` (``iterator_train__sampler``, ``__batch_sampler`` or ``__drop_last``
      hand batching back to skorch);
    - :meth:`seeded`, the context ``fit`` runs skorch's ``fit`` in: torch's global generator
      is seeded from ``random_state`` (weight init, flips) and restored afterwards;
    - ``amp`` / ``channels_last`` of ``"auto"`` resolved for the device by :meth:`_amp_enabled`
      / :meth:`_channels_last_enabled` (on for CUDA, off on a CPU);
    - ``amp=True``: forward passes under ``torch.autocast`` in bfloat16 (no gradient scaler is
      needed in bfloat16), the loss computed in float32;
    - every DataLoader with :class:`~skquake.models.deep._data.BatchCollate` as its
      ``collate_fn`` (around the user's ``iterator_*__collate_fn``): a dataset with batch reads
      (a cache) is read a batch at a time, and :meth:`decode_batch` decodes its float16
      decibels on the device before the module; other input is collated as before;
    - :meth:`save_weights` / :meth:`load_weights`.

    A subclass implements ``_check_X(X, fitted)`` (validated input for skorch and the image
    shape ``(C, H, W)``), ``_check_targets(y, n, fitted)`` and ``initialize_module``, and may
    override ``_targets_from(X)`` (y when ``fit`` gets none), ``_fit_statistics(X, y)`` (what
    the module is built with, taken from the training data) and ``_n_features(shape)``.
    """

    _parameter_constraints: dict = {
        "backbone": [str],
        # True, False or the path of a weights file (checked when the backbone is built)
        "pretrained": ["boolean", str, os.PathLike],
        # the contents of the tuple are checked by check_image_shape
        "input_shape": [None, "array-like"],
        "decibels": ["boolean"],
        "flips": ["boolean"],
        "weight_decay": [StrictInterval(Real, 0, None, closed="left"), None],
        "warmup": [StrictInterval(Real, 0, 1, closed="left")],
        "amp": ["boolean", StrOptions({AUTO})],
        "channels_last": ["boolean", StrOptions({AUTO})],
        "random_state": ["random_state"],
        "lr": [StrictInterval(Real, 0, None, closed="neither")],
        "max_epochs": [StrictInterval(Integral, 1, None, closed="left")],
        # -1 is skorch's "the whole data set in one batch"
        "batch_size": [StrictInterval(Integral, 2, None, closed="left"), Options(Integral, {-1})],
        "device": [str, torch.device, None],
        "keep_training_state": ["boolean"],
    }

    #: scikit-learn estimator checks that a skorch net cannot pass, with the reason (read by
    #: the common tests; a subclass adds its own).
    _expected_failed_checks = {
        "check_no_attributes_set_in_init": (
            "skorch's NeuralNet.__init__ sets history_, initialized_, virtual_params_ and stores "
            "prefixed arguments (module__*, iterator_valid__*) as attributes"
        ),
        "check_do_not_raise_errors_in_init_or_set_params": (
            "skorch's set_params(callbacks=...) rebuilds the callbacks at once, so a non-list value fails there"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "minibatch training: an integer weight k weighs a sample's loss in its batch, while k copies "
            "of the sample change the batches themselves (their number, composition and BatchNorm "
            "statistics), so the two fits differ"
        ),
    }

    #: Said after the message of a module that cannot take a 1 x 1 image.
    _input_shape_hint = ""

    def __init__(self, module, *, backbone, pretrained, input_shape, decibels, flips, weight_decay, warmup,
                 amp, channels_last, random_state, keep_training_state, **kwargs):
        # skorch records its own arguments (criterion, lr, ..., and prefixed ones in kwargs).
        super().__init__(module, **kwargs)
        self.backbone = backbone
        self.pretrained = pretrained
        self.input_shape = input_shape
        self.decibels = decibels
        self.flips = flips
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.amp = amp
        self.channels_last = channels_last
        self.random_state = random_state
        self.keep_training_state = keep_training_state

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # skorch checks its own arguments (their names at initialize, their values where it
        # uses them); listing them unconstrained, from skorch's signatures rather than a copy,
        # keeps _parameter_constraints naming every parameter of an estimator.
        skorch_names = [n for n in _skorch_arguments(cls) if n not in cls._parameter_constraints]
        cls._parameter_constraints = {**dict.fromkeys(skorch_names, "no_validation"),
                                      **cls._parameter_constraints}

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_"; its private bookkeeping
        # (_params_to_validate, ...) is not a parameter and must not reach clone / set_params.
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    # ----------------------------------------------------------------- validation
    def _validate_params(self):
        # The name is both scikit-learn's (the values, against _parameter_constraints; run first
        # thing in fit) and skorch's (misspelt or unknown prefixed arguments). skorch's check
        # knows module__* / criterion__* / optimizer__* only once initialize has registered
        # those parts, and initialize runs it again at its end: until then it waits.
        BaseEstimator._validate_params(self)
        self._input_shape_param()
        dev = torch.device(self.device) if self.device is not None else None
        if dev is not None and dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not available")
        if {"module", "criterion", "optimizer"} <= set(self.prefixes_):
            super()._validate_params()

    def _input_shape_param(self):
        return check_image_shape(self.input_shape, owner=type(self).__name__)

    def _n_features(self, shape):
        """Width of the 2-D input of a model built for images of ``shape``."""
        return int(np.prod(shape))

    def _module_input_shape(self):
        """The image shape the module is built for: the fitted one, else ``input_shape``."""
        shape = getattr(self, "input_shape_", None)
        if shape is None:
            shape = self._input_shape_param()
            if shape is None:
                raise ValueError("the input shape is unknown: call fit, or pass input_shape=(C, H, W)")
            # initialize() called directly (e.g. before load_params): the declared shape is the model's.
            self.input_shape_ = shape
            self.n_features_in_ = self._n_features(shape)
        return tuple(shape)

    def _build_module(self, shape, **kwargs):
        """``self.module(**kwargs)``, explaining the 1 x 1 images of 2-D input without a shape."""
        try:
            return self.module(**kwargs)
        except ValueError as exc:
            if tuple(shape[1:]) == (1, 1) and self.input_shape is None:
                raise ValueError(
                    f"{exc} (a 2-D X without input_shape is read as {shape[0]} channels of a 1 x 1 image: "
                    f"pass input_shape=(C, H, W){self._input_shape_hint})"
                ) from exc
            raise

    def _targets_from(self, X):
        raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")

    def _fit_statistics(self, X, y):
        pass

    def _prepare_fit(self, X, y, fitted=False, reinit=True):
        # reinit: the module will be (re)built from scratch by this call, so what it is built
        # from the training data (_fit_statistics) is (re)computed.
        if y is None:
            y = self._targets_from(X)
        X, shape = self._check_X(X, fitted=fitted)
        n = get_len(X)
        if n < 2:
            raise ValueError(f"training needs at least 2 samples, got {n} sample(s)")
        y = self._check_targets(y, n, fitted=fitted)
        if reinit:
            self._fit_statistics(X, y)
        self.input_shape_ = tuple(shape)
        return X, y

    def _with_weights(self, X, y, sample_weight):
        """X, or a dataset of X's samples carrying their weights (see ``get_loss``)."""
        if sample_weight is None:
            return X
        # scikit-learn's checks and messages: one finite, non-negative weight per sample, not all 0
        w = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
        if np.all(w == w[0]):
            return X  # equal weights: the weighted mean is the plain mean
        return _WeightedDataset(self.get_dataset(X, y), w)

    # ----------------------------------------------------------------- fit / predict
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Validate the parameters and the data, then train (see the class for the inputs).

        Parameters
        ----------
        X : array-like or dataset
            The inputs the estimator takes (see the class docstring).
        y : array-like of shape (n_samples,), optional
            Targets; optional only where the class says so (a QuakeSet carries its own).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each sample in the loss: a batch's loss is the weighted
            mean ``sum(w_i l_i) / sum(w_i)`` (for class-weighted losses the denominator also
            holds the class weights, as torch's mean does); ranking pairs weigh ``w_i w_j``.
            Equal weights train exactly as no weights. See
            :func:`skquake.models.deep.weighted_loss` for the criteria it supports.
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = self._prepare_fit(X, y, reinit=not (self.warm_start and self.initialized_))
        X = self._with_weights(X, y, sample_weight)
        with self.seeded():
            return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        if "_routing_method" not in fit_params:
            # A direct partial_fit call: check the data as fit does (fit has done it already).
            # Once initialised, the data must keep the shape the module was built for.
            self._validate_params()
            X, y = self._prepare_fit(X, y, fitted=self.initialized_ and hasattr(self, "input_shape_"),
                                     reinit=not self.initialized_)
            X = self._with_weights(X, y, sample_weight)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def forward_iter(self, X, training=False, device="cpu"):
        self.check_is_fitted()
        if not isinstance(X, torch.utils.data.Dataset):
            # skorch's own calls (validation scores) pass datasets; user input is checked here.
            X, _ = self._check_X(X, fitted=True)
        return super().forward_iter(X, training=training, device=device)

    # ----------------------------------------------------------------- the recipe
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

    def _fit_seed(self):
        """The torch seed of a fit (None: torch's global generator, unseeded)."""
        return _resolve_seed(self.random_state)

    @contextlib.contextmanager
    def seeded(self):
        """Context of a fit: torch seeded from ``random_state``, its generators restored after."""
        seed = self._fit_seed()
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
            return self.iterator_valid(dataset, batch_size=batch_size, **with_batch_collate(kwargs, batch_size))
        kwargs = self.get_params_for("iterator_train")
        if any(k in kwargs for k in ("sampler", "batch_sampler", "drop_last")):
            # The user took control of batching: honour it as skorch's get_iterator would.
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            loader = self.iterator_train(dataset, **with_batch_collate(kwargs, kwargs["batch_size"]))
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
        return self.iterator_train(dataset, batch_sampler=sampler, **with_batch_collate(kwargs, batch_size))

    def _amp_enabled(self) -> bool:
        """``amp`` for this estimator's device (``"auto"``: a CUDA GPU computing in bfloat16)."""
        return resolve_auto(self.amp, self.device, bfloat16=True)

    def _channels_last_enabled(self) -> bool:
        """``channels_last`` for this estimator's device (``"auto"``: a CUDA device)."""
        return resolve_auto(self.channels_last, self.device)

    def decode_batch(self, x):
        """A batch's input as the module takes it: float16 decibels read whole from a cache
        (:mod:`skquake.models.deep._data`) moved to the device as they are (half the bytes) and
        decoded there to float32 linear; any other input unchanged (skorch's ``infer`` moves it)."""
        if isinstance(x, Mapping) and _DECIBELS in x:
            return decode_decibels(to_tensor(x[_DECIBELS], device=self.device))
        return x

    def infer(self, x, **fit_params):
        x, _ = split_weights(x)  # the module never sees the sample weights
        x = self.decode_batch(x)
        if not self._amp_enabled():
            return super().infer(x, **fit_params)
        device_type = torch.device(self.device if self.device is not None else "cpu").type
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            out = super().infer(x, **fit_params)
        return out.float() if isinstance(out, torch.Tensor) else out

    def get_loss(self, y_pred, y_true, X=None, training=False):
        _, weight = split_weights(X)
        if weight is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        return weighted_loss(self.criterion_, y_pred, to_tensor(y_true, device=self.device), weight)

    # ----------------------------------------------------------------- persistence
    def __getstate__(self):
        # skorch pickles the optimizer with the module; its state (AdamW: two moments per
        # weight) only serves further training, so it stays out unless asked for.
        if getattr(self, "keep_training_state", False) or not getattr(self, "initialized_", False):
            return super().__getstate__()
        dropped = {name + "_" for name in self._optimizers}
        light = object.__new__(type(self))  # self's attributes without the optimizers, self untouched
        light.__dict__.update({k: v for k, v in self.__dict__.items() if k not in dropped})
        return super(QuakeNetBase, light).__getstate__()

    def __setstate__(self, state):
        super().__setstate__(state)
        if self.initialized_ and any(not hasattr(self, name + "_") for name in self._optimizers):
            # Pickled without its training state: a fresh optimizer lets partial_fit and
            # warm_start go on training (from reset moments).
            self.initialize_optimizer()

    def save_weights(self, path):
        """Write the module's state dict, input shape (and classes) with ``torch.save``.

        Load them into an estimator built with the same arguments with :meth:`load_weights`,
        which uses ``torch.load(weights_only=True)`` (no pickled code is run).
        """
        self.check_is_fitted()
        state = {"state_dict": self.module_.state_dict(), "input_shape": list(self.input_shape_)}
        state.update(self._extra_state())
        torch.save(state, os.fspath(path))

    def load_weights(self, path):
        """Initialise from weights written by :meth:`save_weights` (``weights_only=True``)."""
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        self.input_shape_ = tuple(int(s) for s in state["input_shape"])
        self.n_features_in_ = self._n_features(self.input_shape_)
        self._restore_extra_state(state)
        self.initialize()
        self.module_.load_state_dict(state["state_dict"])
        return self

    def _extra_state(self):
        return {}

    def _restore_extra_state(self, state):
        pass


class ClassifierNetMixin:
    """Class labels for a deep classifier (mix in before :class:`QuakeNetBase`).

    The net trains on class indices ``0..K-1`` while ``fit`` takes and ``predict`` returns the
    user's labels: ``classes_`` is skorch's ``classes`` when given (its order kept), else the
    sorted labels of the training ``y``. ``predict_proba`` gives softmax probabilities whatever
    the criterion (``predict_nonlinearity="auto"``), and ``valid_acc`` (with a ``train_split``)
    scores the class indices.
    """

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

    def _check_targets(self, y, n, fitted=False):
        y = target_vector(np.asarray(y), n, "labels")
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
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
        return {**super()._extra_state(), "classes": list(np.asarray(self.classes_).tolist())}

    def _restore_extra_state(self, state):
        super()._restore_extra_state(state)
        self.fit_classes_ = np.asarray(state["classes"])
        self.classes_inferred_ = self.fit_classes_
