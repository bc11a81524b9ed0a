"""Backbone features: the global-pooled ``forward_features`` of a timm model as a scikit-learn transformer.

"Foundation-model embeddings + a shallow model" (the approach of TorchGeo's earthquake tutorial,
Sentinel-1 self-supervised weights and a random forest) is one ``Pipeline``:
``make_pipeline(BackboneFeatures("resnet50", pretrained="ssl4eo.pth"), RandomForestClassifier())``.
"""
from __future__ import annotations

import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ...datasets._views import LazyImages, _is_quakeset
from ...utils import Interval, StrOptions, check_image_shape, to_decibels
from ._base import _resolve_seed, _seeded_torch
from ._nets import build_backbone

__all__ = ["BackboneFeatures"]


def _pool(features: torch.Tensor, backbone, pool: str) -> torch.Tensor:
    """(n, D) features from ``forward_features``' output (NCHW maps, (n, tokens, D) or (n, D))."""
    if pool == "model":
        # The model's own pooling (a ViT's class token, a CNN's global average), without its head.
        return backbone.forward_head(features, pre_logits=True).flatten(1)
    if features.dim() == 4:
        dims = (2, 3)
    elif features.dim() == 3:
        dims = (1,)
    else:
        return features.flatten(1)
    return features.mean(dim=dims) if pool == "avg" else features.amax(dim=dims)


class BackboneFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Images -> global-pooled ``forward_features`` of a timm backbone (optionally pretrained).

    ``fit`` builds the backbone for the images' channels (the first convolution adapted to
    ``C`` channels the way timm does, :func:`build_backbone`) and records the number of
    features; it learns nothing from the data. ``transform`` runs the backbone in evaluation
    mode without gradients, ``batch_size`` images at a time on ``device``, and pools each
    image's feature map to one vector.

    Parameters
    ----------
    backbone : str, default="resnet18"
        Any timm model name.
    pretrained : bool or path, default=False
        ``False`` (random weights, seeded by ``random_state``), ``True`` (timm's published
        weights: the local cache, else the hub) or the path of a ``.safetensors`` / ``.pth`` /
        ``.pt`` / ``.bin`` state dict of the same architecture (loaded offline); see
        ``docs/deep.md``, "Pretrained weights".
    input_shape : tuple (C, H, W), optional
        Needed for flattened ``(n, C*H*W)`` input; checked against 4-D input. A 2-D ``X`` without
        it is read as ``F`` channels of a 1 x 1 image.
    decibels : bool, default=True
        Convert linear backscatter to ``10 log10(max(x, 0) + 1e-9)`` before the backbone.
    batch_size : int, default=32
        Images per forward pass (and per read of lazy input).
    device : str, default="cpu"
        Torch device of the forward passes (``"cuda"``, ``"cuda:1"``, ``"mps"``...).
    pool : {"avg", "max", "model"}, default="avg"
        Global average or max over the spatial positions (or tokens) of ``forward_features``;
        ``"model"``: the model's own pooling (``forward_head(pre_logits=True)``, e.g. a ViT's
        class token).
    backbone_kwargs : dict, optional
        Passed to ``timm.create_model`` (``patch_size``, ``img_size``, ...).
    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation of a backbone without pretrained weights.

    Attributes
    ----------
    backbone_ : torch.nn.Module
        The timm model, in evaluation mode, on ``device``.
    input_shape_ : tuple (C, H, W)
        Image shape seen in ``fit``.
    n_features_in_ : int
        ``C * H * W``.
    n_features_out_ : int
        Width of the features.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.deep import BackboneFeatures
    >>> X = np.random.default_rng(0).random((3, 4, 32, 32), dtype=np.float32)
    >>> BackboneFeatures("resnet10t", random_state=0).fit_transform(X).shape
    (3, 512)
    """

    _parameter_constraints = {
        "backbone": [str],
        "pretrained": ["boolean", str, os.PathLike],
        "input_shape": [tuple, list, None],  # contents checked by check_image_shape
        "decibels": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "pool": [StrOptions({"avg", "max", "model"})],
        "backbone_kwargs": [dict, None],
        "random_state": ["random_state"],
    }

    def __init__(self, backbone="resnet18", pretrained=False, input_shape=None, decibels=True, batch_size=32,
                 device="cpu", pool="avg", backbone_kwargs=None, random_state=None):
        self.backbone = backbone
        self.pretrained = pretrained
        self.input_shape = input_shape
        self.decibels = decibels
        self.batch_size = batch_size
        self.device = device
        self.pool = pool
        self.backbone_kwargs = backbone_kwargs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64"]  # float64 out, whatever the input
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ input
    def _check_linear(self, images, what):
        # decibels=True clips negatives to -90 dB: images already in dB would all look alike.
        if self.decibels and images.size and np.count_nonzero(images < 0) > images.size // 2:
            raise ValueError(
                f"{what} mostly negative but BackboneFeatures(decibels=True) expects linear backscatter: "
                "pass decibels=False for images already in decibels"
            )

    def _check_X(self, X, fitted):
        """X as a (n, C, H, W) float32 array or a LazyImages, and its image shape."""
        expected = self.input_shape_ if fitted else check_image_shape(self.input_shape, owner=type(self).__name__)
        what = "was fitted on" if fitted else "declares input_shape"
        if _is_quakeset(X) and not isinstance(X, LazyImages):
            X = LazyImages(X)
        if isinstance(X, LazyImages):
            shape = tuple(X.shape[1:])
            if expected is not None and shape != tuple(expected):
                raise ValueError(f"the dataset's images have shape {shape} but {type(self).__name__} {what} "
                                 f"{tuple(expected)}")
            if len(X) and not fitted:
                self._check_linear(X[0], "the dataset's first image is")  # one read, up front
            return X, shape
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        if getattr(X, "ndim", None) == 4:
            X = check_array(X, allow_nd=True, dtype=np.float32, ensure_all_finite=True, input_name="X", estimator=self)
            shape = X.shape[1:]
            if expected is not None and tuple(shape) != tuple(expected):
                raise ValueError(f"X has images of shape {shape} but {type(self).__name__} {what} {tuple(expected)}")
            self._check_linear(X, "X is")
            if not fitted and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_  # left by an earlier fit on a DataFrame
            return X, tuple(shape)
        # 2-D input (and scikit-learn's messages for 1-D, 3-D, sparse, NaN): flattened images.
        X = validate_data(self, X, reset=not fitted, dtype=np.float32, ensure_all_finite=True)
        shape = tuple(expected) if expected is not None else (X.shape[1], 1, 1)
        if X.shape[1] != int(np.prod(shape)):
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{int(np.prod(shape))} features as input (input_shape {shape})")
        self._check_linear(X, "X is")
        return X.reshape((X.shape[0],) + shape), shape

    # ------------------------------------------------------------------ fit / transform
    def fit(self, X, y=None):
        """Build the backbone for the images of ``X`` (nothing is learned from the data).

        Parameters
        ----------
        X : array-like of shape (n, C, H, W) or (n, C*H*W), QuakeSet or LazyImages
            Images (only their shape is used).
        y : None
            Ignored.

        Returns
        -------
        self : BackboneFeatures
        """
        self._validate_params()
        device = self._device()
        X, shape = self._check_X(X, fitted=False)
        self.input_shape_ = shape
        self.n_features_in_ = int(np.prod(shape))
        with _seeded_torch(_resolve_seed(self.random_state), "cpu"):
            try:
                model = build_backbone(self.backbone, shape[0], 0, pretrained=self.pretrained,
                                       input_size=shape[1:], **(self.backbone_kwargs or {}))
            except ValueError as exc:
                if tuple(shape[1:]) == (1, 1) and self.input_shape is None:
                    raise ValueError(f"{exc} (a 2-D X without input_shape is read as {shape[0]} channels of "
                                     "a 1 x 1 image: pass input_shape=(C, H, W) for flattened images)") from exc
                raise
        self.backbone_ = model.eval().to(device)
        with torch.no_grad():
            probe = torch.zeros((1,) + shape, device=device)
            self.n_features_out_ = int(_pool(self.backbone_.forward_features(probe), self.backbone_, self.pool).shape[1])
        return self

    def __getstate__(self):
        # The backbone travels as its build arguments and a state dict of numpy arrays, so that
        # skops (the .skq format) and pickle store plain arrays, never a torch module.
        state = self.__dict__.copy()
        backbone = state.pop("backbone_", None)
        if backbone is not None:
            state["_backbone_state"] = {k: v.detach().cpu().numpy() for k, v in backbone.state_dict().items()}
        return state

    def __setstate__(self, state):
        state = dict(state)
        weights = state.pop("_backbone_state", None)
        self.__dict__.update(state)
        if weights is not None:
            # Built without pretrained weights (the file may be gone): the saved state replaces them.
            model = build_backbone(self.backbone, self.input_shape_[0], 0, pretrained=False,
                                   input_size=self.input_shape_[1:], **(self.backbone_kwargs or {}))
            model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            self.backbone_ = model.eval().to(self._device())

    def _device(self):
        try:
            return torch.device(self.device)
        except RuntimeError as exc:
            raise ValueError(f"BackboneFeatures: device={self.device!r} is not a torch device ({exc})") from exc

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def _batches(self, X):
        for start in range(0, len(X), self.batch_size):
            stop = min(start + self.batch_size, len(X))
            if isinstance(X, LazyImages):
                # Only this batch's images are read from the file.
                yield np.stack([X[i] for i in range(start, stop)]).astype(np.float32, copy=False)
            else:
                yield X[start:stop]

    def transform(self, X):
        """The pooled backbone features of each image.

        Parameters
        ----------
        X : array-like of shape (n, C, H, W) or (n, C*H*W), QuakeSet or LazyImages
            Images of the shape seen in ``fit``; a lazy input is read ``batch_size`` images at a time.

        Returns
        -------
        ndarray of shape (n, n_features_out_), float64
            The float32 features of the backbone, as float64.
        """
        check_is_fitted(self, "backbone_")
        X, _ = self._check_X(X, fitted=True)
        device = next(self.backbone_.parameters()).device
        # float64 as scikit-learn's transformers give (regressors downstream then predict float64)
        out = np.empty((len(X), self.n_features_out_), dtype=np.float64)
        self.backbone_.eval()
        start = 0
        with torch.no_grad():
            for batch in self._batches(X):
                # np.require copies read-only input (a memory-mapped file): torch wants writable arrays
                x = torch.from_numpy(np.require(batch, np.float32, ["C", "W"])).to(device)
                if self.decibels:
                    x = to_decibels(x.clamp(min=0.0))  # negative sigma0 would give NaN: -90 dB
                features = _pool(self.backbone_.forward_features(x), self.backbone_, self.pool)
                out[start:start + len(batch)] = features.float().cpu().numpy()
                start += len(batch)
        return out
