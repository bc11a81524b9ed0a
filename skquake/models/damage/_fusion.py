"""The building-damage fusion classifier (QuakeMetaFormer): a skorch net on skquake's deep base."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from skorch import NeuralNetClassifier

from ...datasets import DEFAULT_METADATA_COLUMNS, DamageDataset
from ...utils import StrictInterval, StrOptions, to_decibels
from ..deep import ClassifierNetMixin, FocalLoss, QuakeNetBase
from ..deep._base import RECIPE_PARAMETERS_DOC
from ._layout import _LayoutMixin
from ._nets import FusionNet
from ._weights import balanced_class_weights

__all__ = ["DamageFusionClassifier"]


class DamageFusionClassifier(_LayoutMixin, ClassifierNetMixin, QuakeNetBase, NeuralNetClassifier):
    __doc__ = """Building-damage classifier fusing an image chip with a metadata table (QuakeMetaFormer).

    A timm backbone (feature extractor, ``num_classes=0``) encodes the chip; a small MLP
    closed by a LayerNorm embeds the standardised metadata together with a missingness
    indicator; the two feature vectors are concatenated and a linear head gives the class
    logits (:class:`~skquake.models.damage.FusionNet`). It is a skorch ``NeuralNetClassifier``
    on the base of every skquake deep estimator (:class:`skquake.models.deep.QuakeNetBase`:
    validation, seeding, AdamW, warm-up one-cycle schedule per batch, no single-sample batch,
    persistence), trained with a class-weighted :class:`skquake.models.deep.FocalLoss` whose
    weights come from the training labels, random horizontal / vertical flips and random
    metadata masking. With ``use_metadata=False`` the same network without the metadata
    branch is the paper's QuakeImageFormer baseline.

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
    ``random_state=None`` draws the fit's torch seed from numpy's global generator.

    Parameters
    ----------
    backbone : str, default="mobilenetv2_050"
        Any timm model name, built with ``num_classes=0`` as a feature extractor.
    backbone_kwargs : dict, optional
        Extra arguments of ``timm.create_model`` (``drop_path_rate``, ``patch_size``, ...).
    pretrained : bool, str or os.PathLike, default=False
        ``False``: random initialisation. ``True``: timm's published weights (offline from the
        local cache, else downloaded when the hub can be reached; a ``ConnectionError`` naming
        the model and the hub within seconds when it cannot). A path: a ``.safetensors`` /
        ``.pth`` / ``.pt`` state dict of the backbone's timm architecture, loaded offline (the
        first convolution adapted to the chips' channels).
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
    predict_batch_size : int or None, default=None
        Batch size of ``predict`` / ``predict_proba`` (None: ``batch_size``). Batched float32
        inference differs in the last bits with the other samples of a batch; 1 makes every
        prediction independent of its batch.
    decibels : bool, default=False
        Convert chips to decibels first (``10 log10(x + eps)``), for SAR amplitude chips.
    flips : bool, default=True
        Random horizontal and vertical flips during training (as the QuakeSet estimators).
    module : torch module class, default=:class:`~skquake.models.damage.FusionNet`
        Called with the image and metadata statistics of the training data and the arguments
        above; ``module__*`` reach ``timm.create_model`` (``module__drop_rate=0.1``), as
        ``backbone_kwargs`` do.
""" + RECIPE_PARAMETERS_DOC.format(weight_decay=0.05, criterion="skquake.models.deep.FocalLoss", lr=1e-3,
                                   max_epochs=20, batch_size=32) + """
    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    class_weight_ : ndarray
        Loss weights used, in the order of ``classes_``.
    input_shape_ : tuple (C, H, W)
    n_features_in_ : int
        Width of the 2-D layout seen in ``fit``.
    module_ : FusionNet
        The fitted torch module (``history_`` is skorch's training log).
    """

    _parameter_constraints = {
        **QuakeNetBase._parameter_constraints,
        "backbone_kwargs": [None, Mapping],
        "metadata_columns": [None, "array-like"],
        "use_metadata": ["boolean"],
        "meta_hidden": [StrictInterval(Integral, 1, None, closed="left")],
        "meta_dropout": [StrictInterval(Real, 0, 1, closed="left")],
        "meta_drop_all": [StrictInterval(Real, 0, 1, closed="left")],
        "gamma": [StrictInterval(Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), Mapping, "array-like", None],
        "predict_batch_size": [None, StrictInterval(Integral, 1, None, closed="left")],
    }
    _input_shape_hint = ", e.g. read_damage_layout(path)"

    def __init__(self, backbone="mobilenetv2_050", *, backbone_kwargs=None, pretrained=False, input_shape=None,
                 metadata_columns=DEFAULT_METADATA_COLUMNS, use_metadata=True, meta_hidden=64,
                 meta_dropout=0.1, meta_drop_all=0.1, gamma=4.0, class_weight="balanced",
                 predict_batch_size=None, decibels=False, flips=True, weight_decay=0.05, warmup=0.1,
                 amp="auto", channels_last="auto", random_state=None, module=FusionNet, criterion=FocalLoss,
                 optimizer=torch.optim.AdamW, lr=1e-3, max_epochs=20, batch_size=32, train_split=None,
                 verbose=0, keep_training_state=False, **kwargs):
        super().__init__(
            module, backbone=backbone, pretrained=pretrained, input_shape=input_shape, decibels=decibels,
            flips=flips, weight_decay=weight_decay, warmup=warmup, amp=amp, channels_last=channels_last,
            random_state=random_state, keep_training_state=keep_training_state, criterion=criterion,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            verbose=verbose, **kwargs)
        self.backbone_kwargs = backbone_kwargs
        self.metadata_columns = metadata_columns
        self.use_metadata = use_metadata
        self.meta_hidden = meta_hidden
        self.meta_dropout = meta_dropout
        self.meta_drop_all = meta_drop_all
        self.gamma = gamma
        self.class_weight = class_weight
        self.predict_batch_size = predict_batch_size

    # ------------------------------------------------------------------ validation
    def _validate_params(self):
        super()._validate_params()
        if self.use_metadata and not self._columns():
            raise ValueError("use_metadata=True needs metadata_columns (the names of the metadata table)")

    def _fit_seed(self):
        # The fusion classifier has always drawn its torch seed from random_state (None: from
        # numpy's global generator); kept so that its results do not change.
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _n_features(self, shape):
        return int(np.prod(shape)) + len(self._columns())

    # ------------------------------------------------------------------ inputs
    def _input_shape(self, X):
        if hasattr(X, "ndim") and X.ndim == 4:
            return tuple(int(s) for s in X.shape[1:])
        if isinstance(X, Mapping) and "image" in X:
            return tuple(int(s) for s in np.shape(X["image"])[1:])
        if isinstance(X, DamageDataset):
            return tuple(X.image_shape)
        declared = self._input_shape_param()
        if declared is None:
            # skquake's convention for 2-D input without a declared shape (what scikit-learn's
            # estimator checks feed): the image part is C channels of a 1 x 1 image
            n_image = X.shape[1] - len(self._columns())
            if n_image < 1:
                raise ValueError(f"X has {X.shape[1]} features, fewer than the {len(self._columns())} "
                                 "metadata columns plus an image")
            return (int(n_image), 1, 1)
        return declared

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
        images = np.ascontiguousarray(images, dtype=np.float32)
        # skorch feeds the module ``module(**batch)``: the dict keys are FusionNet's arguments
        return {"image": images} if meta is None else {"image": images, "meta": meta.astype(np.float32)}

    def _check_X(self, X, fitted):
        """Any accepted input -> ``{"image", "meta"}`` arrays for the net, and the chip shape."""
        structured = isinstance(X, (Mapping, DamageDataset)) or getattr(X, "ndim", None) == 4
        given = self._input_shape(X) if structured else None
        if fitted:
            expected = self.input_shape_
            if given is not None and given != expected:
                raise ValueError(f"images have shape {given}, the model was fitted on {expected}")
        else:
            expected = self._input_shape_param()
            if given is not None and expected is not None and given != expected:
                raise ValueError(f"the images have shape {given} but input_shape={expected}")
        X = self._as_layout(X)
        if fitted:
            X = np.asarray(X) if not hasattr(X, "shape") else X
            if getattr(X, "ndim", 0) == 2 and X.shape[1] != self.n_features_in_:
                self._split(X, self.input_shape_)  # raises the explanatory error
        # scikit-learn's own checks first, so that empty, sparse, complex or 1-sample input
        # gets its standard messages
        X = validate_data(self, X, reset=not fitted, ensure_all_finite="allow-nan", dtype=np.float32)
        shape = self.input_shape_ if fitted else (given or self._input_shape(X))
        return self._split(X, shape), shape

    # ------------------------------------------------------------------ training data
    def _class_weights(self, y_enc, k):
        cw = self.class_weight
        if cw is None:
            return np.ones(k)
        if isinstance(cw, str):
            return balanced_class_weights(y_enc, k)
        classes = self.fit_classes_.tolist()
        if isinstance(cw, Mapping):
            unknown = [c for c in cw if c not in classes]
            if unknown:
                raise ValueError(f"class_weight has labels {unknown} not in the classes {classes}")
            return np.array([float(cw.get(c, 1.0)) for c in classes])
        w = np.asarray(cw, dtype=np.float64)
        if w.shape != (k,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"class_weight must have {k} finite non-negative values (one per class), got {cw!r}")
        return w

    def _fit_statistics(self, X, y):
        # standardisation statistics from the training data, stored in the module's buffers
        images, meta = X["image"], X.get("meta")
        self.class_weight_ = self._class_weights(y, len(self.fit_classes_))
        if self.decibels:
            if images.size and images.min() < 0:
                raise ValueError("decibels=True expects linear amplitudes (>= 0), but the images have negative values")
            images = to_decibels(images)
        self.image_mean_ = images.mean(axis=(0, 2, 3))
        self.image_std_ = images.std(axis=(0, 2, 3)) + 1e-6
        self.meta_mean_ = self.meta_std_ = None
        if meta is not None:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # an all-NaN training column has no statistics: it is always "missing"
                warnings.simplefilter("ignore", RuntimeWarning)
                meta_mean = np.nan_to_num(np.nanmean(meta, axis=0))
                meta_std = np.nan_to_num(np.nanstd(meta, axis=0), nan=1.0)
            self.meta_mean_ = meta_mean
            self.meta_std_ = np.where(meta_std > 1e-6, meta_std, 1.0)

    # ------------------------------------------------------------------ skorch hooks
    def initialize_module(self):
        shape = self._module_input_shape()
        c, h, w = shape
        n_meta = len(self._columns()) if self.use_metadata else 0
        # Before a fit (initialize() then load_weights) the statistics are placeholders that
        # the loaded state dict overwrites.
        image_mean = getattr(self, "image_mean_", None)
        fitted = image_mean is not None
        meta_fitted = fitted and getattr(self, "meta_mean_", None) is not None
        self.module_ = self._build_module(
            shape, backbone=self.backbone, in_chans=c, n_classes=self._n_outputs(), n_metadata=n_meta,
            image_mean=image_mean if fitted else np.zeros(c),
            image_std=self.image_std_ if fitted else np.ones(c),
            meta_mean=self.meta_mean_ if meta_fitted else np.zeros(n_meta),
            meta_std=self.meta_std_ if meta_fitted else np.ones(n_meta),
            meta_hidden=self.meta_hidden, meta_dropout=self.meta_dropout, meta_drop_all=self.meta_drop_all,
            flip=self.flips, decibels=self.decibels, pretrained=self.pretrained, input_size=(h, w),
            backbone_kwargs=dict(self.backbone_kwargs or {}), channels_last=self._channels_last_enabled(),
            **self.get_params_for("module"),
        )
        return self

    def initialize_criterion(self):
        weight = getattr(self, "class_weight_", None)
        if weight is None:  # initialize() before a fit: load_weights restores the fitted weights
            weight = np.ones(self._n_outputs())
        kwargs = {"gamma": self.gamma, "weight": torch.as_tensor(weight, dtype=torch.float32),
                  **self.get_params_for("criterion")}
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "iterator_valid" and self.predict_batch_size is not None:
            params["batch_size"] = self.predict_batch_size
        return params

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``."""
        return super().predict_proba(X).astype(np.float64)

    def _extra_state(self):
        return {**super()._extra_state(), "class_weight": [float(w) for w in self.class_weight_]}

    def _restore_extra_state(self, state):
        super()._restore_extra_state(state)
        self.class_weight_ = np.asarray(state["class_weight"], dtype=np.float64)
        # the module's buffers (loaded with the state dict) hold the statistics
        self.image_mean_ = self.image_std_ = self.meta_mean_ = self.meta_std_ = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
