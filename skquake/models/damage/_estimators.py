"""Building-damage estimators: the image + metadata fusion classifier (QuakeMetaFormer),
the metadata-only forest, and their registry entries ``damage-fusion``, ``damage-image`` and
``damage-meta-rf``.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from ...datasets import DEFAULT_METADATA_COLUMNS, DamageDataset, split_layout, to_layout

__all__ = ["DamageFusionClassifier", "MetadataSelector", "balanced_class_weights", "make_metadata_forest"]


# =========================================================================== estimators
def balanced_class_weights(y, n_classes: int | None = None) -> np.ndarray:
    """Inverse-frequency class weights ``n / (K * n_k)`` of encoded labels ``0..K-1``.

    These are scikit-learn's ``class_weight="balanced"`` weights and the paper's: with its
    class shares (73.4 / 19.8 / 2.5 / 4.3 %) they are 0.34 / 1.26 / 9.8 / 5.85.
    A class absent from ``y`` gets weight 0.
    """
    y = np.asarray(y, dtype=np.int64)
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = np.where(counts > 0, len(y) / (k * counts), 0.0)
    return w


_LAZY_CLASSES = {}


def _torch_classes():
    """The torch / skorch classes of the fusion model, built on first use.

    They are defined lazily so that ``import skquake.models.damage`` (the generator, the loaders)
    does not import torch; the module ``__getattr__`` below lets pickle find them by name.
    """
    if _LAZY_CLASSES:
        return _LAZY_CLASSES
    import torch
    from skorch import NeuralNetClassifier
    from torch import nn

    from ..deep import TrainingDefaultsMixin
    from ..deep import build_backbone, random_flips
    from ...utils import to_decibels

    class FusionNet(nn.Module):
        """timm backbone features ++ metadata MLP embedding -> linear head.

        Metadata are standardised with the training statistics (buffers, so they travel with
        the module). A missing value (NaN) is set to 0 (the training mean) and flagged in a
        missingness indicator that enters the MLP beside the values, so the first layer learns
        a per-column "missing" encoding. In training, values are masked at random (each
        column with probability ``meta_dropout``, the whole table with ``meta_drop_all``) so
        the model learns to predict with partial or no metadata.
        """

        def __init__(self, backbone, in_chans, n_classes, n_metadata, image_mean, image_std,
                     meta_mean, meta_std, meta_hidden=64, meta_dropout=0.1, meta_drop_all=0.1,
                     flip=True, decibels=False, pretrained=False, input_size=None, backbone_kwargs=None):
            super().__init__()
            try:
                self.backbone = build_backbone(backbone, in_chans, 0, pretrained=pretrained, input_size=input_size,
                                               **(backbone_kwargs or {}))
            except ValueError as exc:
                if tuple(input_size) == (1, 1):
                    raise ValueError(f"{exc} (a 2-D X without input_shape is read as {in_chans} channels of a "
                                     "1 x 1 image: pass input_shape=(C, H, W), e.g. read_damage_layout(path))") from exc
                raise
            self.n_metadata = int(n_metadata)
            self.meta_dropout = float(meta_dropout)
            self.meta_drop_all = float(meta_drop_all)
            self.flip = bool(flip)
            self.decibels = bool(decibels)
            self.register_buffer("image_mean", torch.as_tensor(image_mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("image_std", torch.as_tensor(image_std, dtype=torch.float32).view(1, -1, 1, 1))
            n_features = self.backbone.num_features
            if self.n_metadata:
                self.register_buffer("meta_mean", torch.as_tensor(meta_mean, dtype=torch.float32))
                self.register_buffer("meta_std", torch.as_tensor(meta_std, dtype=torch.float32))
                # the paper's best embedding: a feed-forward stack closed by a LayerNorm
                self.meta = nn.Sequential(
                    nn.Linear(2 * self.n_metadata, meta_hidden), nn.GELU(),
                    nn.Linear(meta_hidden, meta_hidden), nn.LayerNorm(meta_hidden))
                n_features += meta_hidden
            self.head = nn.Linear(n_features, n_classes)

        def embed_metadata(self, meta):
            z = (meta - self.meta_mean) / self.meta_std
            missing = torch.isnan(z)
            if self.training:
                drop = torch.rand_like(z) < self.meta_dropout
                drop |= torch.rand(z.shape[0], 1, device=z.device) < self.meta_drop_all
                missing = missing | drop
            z = torch.where(missing, torch.zeros_like(z), z)
            return self.meta(torch.cat([z, missing.to(z.dtype)], dim=1))

        def forward(self, image, meta=None):
            if self.decibels:
                image = to_decibels(image)
            image = (image - self.image_mean) / self.image_std
            if self.training and self.flip:
                image = random_flips(image)
            features = self.backbone(image)
            if self.n_metadata:
                if meta is None:  # no table at all: every value missing
                    meta = image.new_full((image.shape[0], self.n_metadata), float("nan"))
                features = torch.cat([features, self.embed_metadata(meta)], dim=1)
            return self.head(features)

    class FusionSkorchNet(TrainingDefaultsMixin, NeuralNetClassifier):
        """skorch classifier with skquake's training recipe (AdamW weight decay, warm-up
        one-cycle per batch, no single-sample batch, seeded fits); see :mod:`skquake.models.deep`."""

        def __init__(self, *args, weight_decay=0.05, warmup=0.1, amp=False, random_state=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.weight_decay = weight_decay
            self.warmup = warmup
            self.amp = amp
            self.random_state = random_state

    for cls, name in ((FusionNet, "_FusionNet"), (FusionSkorchNet, "_FusionSkorchNet")):
        cls.__module__ = __name__
        cls.__qualname__ = name
        cls.__name__ = name
        _LAZY_CLASSES[name] = cls
    return _LAZY_CLASSES


def __getattr__(name):
    # unpickling a fitted model looks these classes up before anything has built them
    if name in ("_FusionNet", "_FusionSkorchNet"):
        return _torch_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _validate_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _positive_number(name, value, allow_zero=False, upper=None):
    import numbers

    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0) and (upper is None or value <= upper)
    if not ok:
        bound = f" and <= {upper}" if upper is not None else ""
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number{bound}, got {value!r}")


def _positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class _LayoutMixin:
    """Turns the accepted inputs into the 2-D layout and cuts it (shared by the estimators)."""

    def _as_layout(self, X):
        """dict / DamageDataset / 4-D images -> 2-D layout; 2-D arrays pass through."""
        columns = self._columns()
        if isinstance(X, DamageDataset):
            self._check_dataset_columns(X.metadata_columns)
            return to_layout(X.read_images(), X.metadata, columns)
        if isinstance(X, Mapping):
            if "image" not in X:
                raise ValueError(f"a dict input needs an 'image' entry (and optionally 'metadata'), got keys {list(X)}")
            return to_layout(X["image"], X.get("metadata"), columns)
        if hasattr(X, "ndim") and X.ndim == 4:
            return to_layout(X, None, columns)
        return X

    def _columns(self):
        if self.metadata_columns is None:
            return ()
        if isinstance(self.metadata_columns, str):
            raise ValueError("metadata_columns must be a sequence of column names, not a string")
        return tuple(str(c) for c in self.metadata_columns)

    def _check_dataset_columns(self, file_columns):
        columns = self._columns()
        missing = [c for c in columns if c not in file_columns]
        extra = [c for c in file_columns if c not in columns]
        if missing or extra:
            raise ValueError(
                f"the dataset's metadata columns do not match metadata_columns: missing {missing}, "
                f"unexpected {extra}")




class DamageFusionClassifier(_LayoutMixin, ClassifierMixin, BaseEstimator):
    """Building-damage classifier fusing an image chip with a metadata table (QuakeMetaFormer).

    A timm backbone (feature extractor, ``num_classes=0``) encodes the chip; a small MLP
    closed by a LayerNorm embeds the standardised metadata together with a missingness
    indicator; the two feature vectors are concatenated and a linear head gives the class
    logits. Training is a skorch ``NeuralNetClassifier`` with a class-weighted
    :class:`skquake.models.deep.FocalLoss` and skquake's deep training recipe
    (:class:`skquake.models.deep.TrainingDefaultsMixin`: AdamW, warm-up one-cycle schedule per batch,
    no single-sample batch, seeded fit), :func:`skquake.models.deep.build_backbone`, random
    horizontal / vertical flips (:func:`skquake.models.deep.random_flips`) and random metadata
    masking. With ``use_metadata=False``
    the same network without the metadata branch is the paper's QuakeImageFormer baseline.

    Input ``X`` (fit and predict) is one of

    * a 2-D float array ``[flattened image | metadata]`` of width ``C*H*W + M``, cut with
      ``input_shape`` and ``metadata_columns`` (what :func:`load_damage` returns; works with
      every scikit-learn splitter, search and ``permutation_importance``); NaN marks a
      missing metadata value;
    * a dict ``{"image": (n, C, H, W), "metadata": table}``, the table being an ``(n, M)``
      array, a mapping ``{column: values}`` or a DataFrame (columns are matched by name and
      missing or unexpected ones raise a ``ValueError`` naming them), or ``None`` / absent
      for no metadata at all;
    * a 4-D image array (no metadata) or a :class:`DamageDataset`.

    At prediction time any metadata value may be NaN, up to the whole table: the model then
    relies on the image and on what it learned from the masked training samples.

    Parameters
    ----------
    backbone : str, default="mobilenetv2_050"
        Any timm model name, built with ``num_classes=0`` as a feature extractor.
    backbone_kwargs : dict, optional
        Extra arguments of ``timm.create_model`` (``drop_path_rate``, ``patch_size``, ...).
    pretrained : bool, default=False
        Load timm weights (needs them in the local cache; nothing is downloaded by default).
    input_shape : tuple (C, H, W), optional
        Shape of one chip, to cut 2-D input; taken from the data for 4-D / dict input. A 2-D
        ``X`` without it is read as skquake does elsewhere: the image part as ``C`` channels
        of a 1 x 1 image (which most backbones reject, with a message saying so).
    metadata_columns : sequence of str, default=DEFAULT_METADATA_COLUMNS
        Names and order of the metadata columns.
    use_metadata : bool, default=True
        ``False``: image-only model (metadata in ``X`` are ignored).
    meta_hidden : int, default=64
        Width of the metadata embedding.
    meta_dropout : float in [0, 1), default=0.1
        Training-time probability of masking each metadata value.
    meta_drop_all : float in [0, 1), default=0.1
        Training-time probability of masking a sample's whole metadata table.
    gamma : float, default=4.0
        Focal-loss focusing parameter (the paper's value; 0 gives weighted cross-entropy).
    class_weight : "balanced", None, array-like or dict, default="balanced"
        Per-class loss weights. ``"balanced"``: inverse class frequency of the training
        labels, ``n / (K n_k)``; an array is in the order of ``classes_``; a dict maps label
        to weight (missing labels get 1).
    max_epochs : int, default=20
    lr : float, default=1e-3
        Peak learning rate of the one-cycle schedule.
    batch_size : int, default=32
    predict_batch_size : int or None, default=None
        Batch size of ``predict`` / ``predict_proba`` (None: ``batch_size``). Batched float32
        inference differs in the last bits with the other samples of a batch; 1 makes every
        prediction independent of its batch.
    weight_decay : float, default=0.05
        AdamW weight decay (the paper's value).
    warmup : float in [0, 1), default=0.1
        Warm-up fraction of the one-cycle schedule (stepped per batch).
    flips : bool, default=True
        Random horizontal and vertical flips during training (as the QuakeSet estimators).
    decibels : bool, default=False
        Convert chips to decibels first (``10 log10(x + eps)``), for SAR amplitude chips.
    device : str, default="cpu"
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, flips and masking (torch's global generator
        is restored after ``fit``). Results are reproducible on CPU.
    verbose : int, default=0
        skorch's epoch log.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    class_weight_ : ndarray
        Loss weights used, in the order of ``classes_``.
    input_shape_ : tuple (C, H, W)
    n_features_in_ : int
        Width of the 2-D layout seen in ``fit``.
    net_ : skorch.NeuralNetClassifier
        The fitted net (``net_.module_`` is the torch module, ``net_.history`` the log).
    """

    def __init__(self, backbone="mobilenetv2_050", backbone_kwargs=None, pretrained=False, input_shape=None,
                 metadata_columns=DEFAULT_METADATA_COLUMNS, use_metadata=True, meta_hidden=64,
                 meta_dropout=0.1, meta_drop_all=0.1, gamma=4.0, class_weight="balanced",
                 max_epochs=20, lr=1e-3, batch_size=32, predict_batch_size=None, weight_decay=0.05,
                 warmup=0.1, flips=True, decibels=False, device="cpu", random_state=None, verbose=0):
        self.backbone = backbone
        self.backbone_kwargs = backbone_kwargs
        self.pretrained = pretrained
        self.input_shape = input_shape
        self.metadata_columns = metadata_columns
        self.use_metadata = use_metadata
        self.meta_hidden = meta_hidden
        self.meta_dropout = meta_dropout
        self.meta_drop_all = meta_drop_all
        self.gamma = gamma
        self.class_weight = class_weight
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.flips = flips
        self.decibels = decibels
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        if not isinstance(self.backbone, str) or not self.backbone:
            raise ValueError(f"backbone must be a timm model name, got {self.backbone!r}")
        if self.backbone_kwargs is not None and not isinstance(self.backbone_kwargs, Mapping):
            raise ValueError(f"backbone_kwargs must be a dict or None, got {self.backbone_kwargs!r}")
        _positive_int("meta_hidden", self.meta_hidden)
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("batch_size", self.batch_size)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (BatchNorm needs 2 samples), got {self.batch_size}")
        if self.predict_batch_size is not None:
            _positive_int("predict_batch_size", self.predict_batch_size)
        if not (isinstance(self.warmup, (int, float)) and 0 <= self.warmup < 1):
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup!r}")
        _positive_number("lr", self.lr)
        _positive_number("gamma", self.gamma, allow_zero=True)
        _positive_number("weight_decay", self.weight_decay, allow_zero=True)
        for name in ("meta_dropout", "meta_drop_all"):
            value = getattr(self, name)
            _positive_number(name, value, allow_zero=True, upper=1.0)
            if value >= 1:
                raise ValueError(f"{name} must be < 1, got {value!r}")
        if self.use_metadata and not self._columns():
            raise ValueError("use_metadata=True needs metadata_columns (the names of the metadata table)")
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
                raise ValueError(f"input_shape must be (C, H, W) of positive ints, got {self.input_shape!r}")

    def _input_shape(self, X):
        if hasattr(X, "ndim") and X.ndim == 4:
            return tuple(int(s) for s in X.shape[1:])
        if isinstance(X, Mapping) and "image" in X:
            return tuple(int(s) for s in np.shape(X["image"])[1:])
        if isinstance(X, DamageDataset):
            return tuple(X.image_shape)
        if self.input_shape is None:
            # skquake's convention for 2-D input without a declared shape (what scikit-learn's
            # estimator checks feed): the image part is C channels of a 1 x 1 image
            n_image = X.shape[1] - len(self._columns())
            if n_image < 1:
                raise ValueError(f"X has {X.shape[1]} features, fewer than the {len(self._columns())} "
                                 "metadata columns plus an image")
            return (int(n_image), 1, 1)
        return tuple(int(s) for s in self.input_shape)

    def _split(self, X, input_shape):
        """Validated layout -> (images float32 (n,C,H,W), metadata float32 (n,M) or None)."""
        n_pixels = int(np.prod(input_shape))
        n_meta = len(self._columns())
        widths = {n_pixels + n_meta}
        if not self.use_metadata:
            widths.add(n_pixels)  # the image-only model takes images without the table too
        if X.shape[1] not in widths:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {n_pixels + n_meta} "
                f"features as input: C*H*W = {n_pixels} image values for input_shape {input_shape} followed "
                f"by {n_meta} metadata columns {list(self._columns())}")
        images = np.nan_to_num(X[:, :n_pixels]).reshape((X.shape[0],) + input_shape)
        meta = X[:, n_pixels:] if self.use_metadata else None
        return np.ascontiguousarray(images, dtype=np.float32), meta

    def _class_weights(self, y_enc, k):
        cw = self.class_weight
        if cw is None:
            return np.ones(k)
        if isinstance(cw, str):
            _validate_choice("class_weight", cw, ("balanced",))
            return balanced_class_weights(y_enc, k)
        if isinstance(cw, Mapping):
            unknown = [c for c in cw if c not in self.classes_.tolist()]
            if unknown:
                raise ValueError(f"class_weight has labels {unknown} not in the classes {self.classes_.tolist()}")
            return np.array([float(cw.get(c, 1.0)) for c in self.classes_.tolist()])
        w = np.asarray(cw, dtype=np.float64)
        if w.shape != (k,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"class_weight must have {k} finite non-negative values (one per class), got {cw!r}")
        return w

    def _net_input(self, images, meta):
        return {"image": images} if meta is None else {"image": images, "meta": meta.astype(np.float32)}

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y):
        """Fit on ``X`` (see the class docstring for the accepted forms) and labels ``y``."""
        import torch
        from sklearn.utils import check_random_state
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        from ..deep import softmax
        from ..deep import FocalLoss

        self._check_params()
        structured = isinstance(X, (Mapping, DamageDataset)) or getattr(X, "ndim", None) == 4
        input_shape = self._input_shape(X) if structured else None
        if input_shape is not None and self.input_shape is not None and input_shape != tuple(self.input_shape):
            raise ValueError(f"the images have shape {input_shape} but input_shape={tuple(self.input_shape)}")
        X = self._as_layout(X)
        # scikit-learn's own checks first, so that empty, sparse, complex or 1-sample input and
        # non-class targets get its standard messages
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float32)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"DamageFusionClassifier needs at least 2 classes in y, got one class {self.classes_.tolist()}")
        if len(y_enc) < 2:
            raise ValueError(f"training needs at least 2 samples, got n_samples = {len(y_enc)}")
        input_shape = input_shape or self._input_shape(X)
        images, meta = self._split(X, input_shape)
        self.input_shape_ = input_shape
        self.class_weight_ = self._class_weights(y_enc, k)

        # standardisation statistics from the training data, stored in the module's buffers
        axes = (0, 2, 3)
        if self.decibels:
            from ...utils import to_decibels

            if images.size and images.min() < 0:
                raise ValueError("decibels=True expects linear amplitudes (>= 0), but the images have negative values")
            stats_images = to_decibels(images)
        else:
            stats_images = images
        image_mean = stats_images.mean(axis=axes)
        image_std = stats_images.std(axis=axes) + 1e-6
        if meta is not None:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # an all-NaN training column has no statistics: it is always "missing"
                warnings.simplefilter("ignore", RuntimeWarning)
                meta_mean = np.nan_to_num(np.nanmean(meta, axis=0))
                meta_std = np.nan_to_num(np.nanstd(meta, axis=0), nan=1.0)
            meta_std = np.where(meta_std > 1e-6, meta_std, 1.0)
        else:
            meta_mean = meta_std = None

        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        c, h, w = input_shape
        self.net_ = _torch_classes()["_FusionSkorchNet"](
            module=_torch_classes()["_FusionNet"],
            module__backbone=self.backbone,
            module__in_chans=c,
            module__input_size=(h, w),
            module__n_classes=k,
            module__n_metadata=0 if meta is None else meta.shape[1],
            module__image_mean=image_mean,
            module__image_std=image_std,
            module__meta_mean=meta_mean,
            module__meta_std=meta_std,
            module__meta_hidden=self.meta_hidden,
            module__meta_dropout=self.meta_dropout,
            module__meta_drop_all=self.meta_drop_all,
            module__flip=self.flips,
            module__decibels=self.decibels,
            module__pretrained=self.pretrained,
            module__backbone_kwargs=dict(self.backbone_kwargs or {}),
            criterion=FocalLoss,
            criterion__gamma=self.gamma,
            criterion__weight=torch.as_tensor(self.class_weight_, dtype=torch.float32),
            optimizer=torch.optim.AdamW,
            weight_decay=self.weight_decay,
            warmup=self.warmup,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_valid__batch_size=self.predict_batch_size or self.batch_size,
            train_split=None,
            predict_nonlinearity=softmax,
            classes=np.arange(k),
            device=self.device,
            random_state=seed,
            verbose=self.verbose,
        )
        with self.net_.seeded():
            self.net_.fit(self._net_input(images, meta), y_enc)
        return self

    def _prepare(self, X):
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "net_")
        if hasattr(X, "ndim") and X.ndim == 4 and tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(f"images have shape {tuple(X.shape[1:])}, the model was fitted on {self.input_shape_}")
        X = self._as_layout(X)
        X = np.asarray(X) if not hasattr(X, "shape") else X
        if getattr(X, "ndim", 0) == 2 and X.shape[1] != self.n_features_in_:
            self._split(X, self.input_shape_)  # raises the explanatory error
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self._split(X, self.input_shape_)

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``."""
        images, meta = self._prepare(X)
        return self.net_.predict_proba(self._net_input(images, meta)).astype(np.float64)

    def predict(self, X):
        """Most probable class of each building."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class MetadataSelector(_LayoutMixin, TransformerMixin, BaseEstimator):
    """Keep the metadata columns of the damage layout (the last ``M`` columns).

    Accepts the same inputs as :class:`DamageFusionClassifier`; a named table is checked
    against ``metadata_columns`` (missing / unexpected columns are named in the error).

    Parameters
    ----------
    metadata_columns : sequence of str, default=DEFAULT_METADATA_COLUMNS
    input_shape : tuple (C, H, W), optional
        When given, the width of a 2-D ``X`` must be ``C*H*W + M``.
    """

    def __init__(self, metadata_columns=DEFAULT_METADATA_COLUMNS, input_shape=None):
        self.metadata_columns = metadata_columns
        self.input_shape = input_shape

    def _select(self, X, reset):
        from sklearn.utils.validation import validate_data

        columns = self._columns()
        if not columns:
            raise ValueError("MetadataSelector needs metadata_columns")
        m = len(columns)
        X = self._as_layout(X)
        shape = getattr(X, "shape", None)
        if not reset and shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            self._width_error(shape[1], self.n_features_in_)
        X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
        expected = None if self.input_shape is None else int(np.prod(self.input_shape)) + m
        if X.shape[1] < m or (expected is not None and X.shape[1] != expected):
            self._width_error(X.shape[1], expected)
        return X[:, -m:]

    def _width_error(self, width, expected):
        columns = self._columns()
        need = f"{expected}" if expected is not None else f"at least {len(columns)}"
        raise ValueError(f"X has {width} features, but {type(self).__name__} is expecting {need} features "
                         f"as input (image values followed by the {len(columns)} metadata columns {list(columns)})")

    def fit(self, X, y=None):
        self._select(X, reset=True)
        return self

    def transform(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_in_")
        return self._select(X, reset=False)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self._columns(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def make_metadata_forest(metadata_columns=DEFAULT_METADATA_COLUMNS, input_shape=None, n_estimators=300,
                         max_depth=None, min_samples_leaf=2, class_weight="balanced", random_state=None,
                         n_jobs=None):
    """Metadata-only random forest: select the metadata, impute, ``RandomForestClassifier``.

    The earlier state of the art the paper compares with (a forest on ground-motion and SAR
    metadata). Missing values are imputed by the training median and flagged with indicator
    columns, so a column missing at prediction time is handled like a missing training value.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``select`` (:class:`MetadataSelector`), ``impute`` (``SimpleImputer``) and ``rf``;
        tune with ``rf__n_estimators`` etc.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("select", MetadataSelector(metadata_columns=metadata_columns, input_shape=input_shape)),
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("rf", RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                      min_samples_leaf=min_samples_leaf, class_weight=class_weight,
                                      random_state=random_state, n_jobs=n_jobs)),
    ])


# =========================================================================== registry
def _register():
    from .._registry import Categorical, FloatRange, IntRange, register_model

    fusion_space = {
        "lr": FloatRange(1e-4, 1e-2, log=True),
        "gamma": Categorical([0.0, 2.0, 4.0]),
        "meta_dropout": Categorical([0.0, 0.1, 0.3]),
    }

    @register_model("damage-fusion", task="damage", family="deep",
                    description="timm image backbone + metadata MLP (LayerNorm), class-weighted focal loss",
                    paper_name="QuakeMetaFormer (QMF)", search_space=fusion_space,
                    tags=("paper", "metadata", "image"))
    def damage_fusion(**overrides):
        return DamageFusionClassifier(**overrides)

    @register_model("damage-image", task="damage", family="deep",
                    description="the fusion network without its metadata branch (image only)",
                    paper_name="QuakeImageFormer (QIF)",
                    search_space={"lr": fusion_space["lr"], "gamma": fusion_space["gamma"]},
                    tags=("paper", "image"))
    def damage_image(**overrides):
        return DamageFusionClassifier(**{"use_metadata": False, **overrides})

    @register_model("damage-meta-rf", task="damage", family="shallow",
                    description="metadata only: median imputation + class-weighted random forest",
                    paper_name="RF (Yu et al. 2024)",
                    search_space={"rf__n_estimators": IntRange(100, 500, grid_values=(100, 300, 500)),
                                  "rf__min_samples_leaf": IntRange(1, 5, grid_values=(1, 2, 5)),
                                  "rf__max_depth": Categorical([None, 8, 16])},
                    tags=("paper", "metadata"))
    def damage_meta_rf(**overrides):
        top = {k: overrides.pop(k) for k in list(overrides)
               if k in ("metadata_columns", "input_shape", "random_state", "n_estimators", "max_depth",
                        "min_samples_leaf", "class_weight", "n_jobs")}
        return make_metadata_forest(**top).set_params(**overrides)


_register()
