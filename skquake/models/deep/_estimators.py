"""timm backbones as scikit-learn estimators (through skorch), trained with the QuakeSet recipe.

- :class:`QuakeRegressor`: magnitude regression (``NeuralNetRegressor``), MSE or
  MSE + pairwise ranking (:class:`skquake.models.deep.RegressionRankingLoss`).
- :class:`QuakeClassifier`: detection (``NeuralNetClassifier``), cross-entropy or focal loss,
  ``predict_proba`` and ``classes_`` for scikit-learn's scorers.

Both take in-memory arrays ``(n, C, H, W)``, flattened arrays ``(n, C*H*W)`` with
``input_shape=(C, H, W)``, a lazy :class:`skquake.datasets.QuakeSet` or
:class:`~skquake.datasets.CachedQuakeSet` (``y`` then comes from the dataset), or a
:class:`~skquake.datasets.LazyImages` view of one (what ``GridSearchCV`` can split, see
:func:`~skquake.datasets.lazy_xy`). A cache is read a batch at a time (one indexed read of its
array; float16 decibels decoded on the device, a device-resident cache read on its device).
Validation, seeding, the training recipe and persistence are
:class:`~skquake.models.deep.QuakeNetBase`'s.
"""
from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.utils import to_numpy

from ...datasets._views import LazyImages, _is_quakeset
from ._base import RECIPE_PARAMETERS_DOC, ClassifierNetMixin, QuakeNetBase, target_vector
from ._data import _ImageDataset
from ._nets import SARNet

__all__ = ["QuakeRegressor", "QuakeClassifier"]


class _SARImageNet(QuakeNetBase):
    """Input of the QuakeSet estimators (image arrays, QuakeSet, LazyImages) and their SARNet."""

    _target = "magnitude"  # what y is read from a QuakeSet passed without y
    _input_shape_hint = " for flattened images"

    def _targets_from(self, X):
        if not (_is_quakeset(X) or isinstance(X, LazyImages)):
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(y may be omitted only when X is a QuakeSet or LazyImages)"
            )
        view = X if isinstance(X, LazyImages) else LazyImages(X)
        return view.targets(self._target)

    def _check_X(self, X, fitted):
        """Turn X into a (n, C, H, W) float32 tensor or a LazyImages; check shape and values."""
        declared = self._input_shape_param()
        expected = self.input_shape_ if fitted else declared
        if _is_quakeset(X) and not isinstance(X, LazyImages):
            X = LazyImages(X)
        if isinstance(X, LazyImages):
            X, shape = self._check_lazy(X, expected, fitted)
        else:
            X, shape = self._check_array(X, expected, fitted)
        if not fitted:
            self.n_features_in_ = self._n_features(shape)
        return X, shape

    def _check_lazy(self, X, expected, fitted):
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

    def _check_array(self, X, expected, fitted):
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

    def get_dataset(self, X, y=None):
        if isinstance(X, (torch.Tensor, LazyImages)):
            return _ImageDataset(X, y)
        return super().get_dataset(X, y)

    def initialize_module(self):
        shape = self._module_input_shape()
        c, h, w = shape
        self.module_ = self._build_module(
            shape, backbone=self.backbone, in_chans=c, num_outputs=self._n_outputs(), input_size=(h, w),
            pretrained=self.pretrained, decibels=self.decibels, flips=self.flips, clamp=self._clamp(),
            channels_last=self._channels_last_enabled(), **self._output_affine(), **self.get_params_for("module"),
        )
        return self

    def _clamp(self):
        return None

    def _output_affine(self):
        return {}


_QUAKE_PARAMETERS_DOC = """
    Parameters
    ----------
    backbone : str, default="mobilenetv2_100"
        Any timm model name. Built at fit time with ``in_chans`` from the data.
    pretrained : bool, str or os.PathLike, default=False
        ``False``: random initialisation, nothing downloaded. ``True``: timm's published
        weights: read offline from the local cache when they are there, otherwise downloaded
        from the Hugging Face Hub when it can be reached (a ``ConnectionError`` naming the
        model and the hub within seconds when it cannot). A path: a ``.safetensors`` / ``.pth``
        / ``.pt`` state dict of the same timm architecture, loaded offline; timm adapts the
        first convolution to the data's channels (2 or 4) and drops a head of another size.
    input_shape : tuple (C, H, W), optional
        Needed for flattened 2-D input; checked against 4-D input. Otherwise read from the data.
    decibels : bool, default=True
        Convert linear backscatter to ``10 log10(max(x, 0) + 1e-9)`` inside the network (so
        predict takes the same linear input; a few negative values from thermal-noise removal
        become -90 dB). Mostly negative input is rejected at fit: pass ``False`` for inputs
        already in decibels or standardised.
    flips : bool, default=True
        Random horizontal and vertical flips of training batches (never at prediction).
    {extra}module : torch module class, default=:class:`skquake.models.deep.SARNet`
        Called with ``backbone``, ``in_chans``, ``num_outputs``, ``input_size``, ``pretrained``,
        ``decibels``, ``flips``, ``clamp``, ``channels_last``, (regressor with
        ``standardize_target=True``) ``output_shift`` and ``output_scale``, and ``module__*``
        (``module__drop_rate=0.1`` reaches ``timm.create_model``).
"""


class QuakeRegressor(_SARImageNet, NeuralNetRegressor):
    __doc__ = (
        """Earthquake magnitude regression with a timm backbone (skorch ``NeuralNetRegressor``).

    Defaults follow the QuakeSet / ranking papers: AdamW (weight decay 0.01), one-cycle schedule
    with 10% warm-up stepped per batch, batch 16, decibel input, random flips on training
    batches, predictions clamped to ``clamp``. Use
    ``criterion=skquake.models.deep.RegressionRankingLoss`` for MSE + pairwise ranking.
    ``predict`` returns a 1-D array.
"""
        + _QUAKE_PARAMETERS_DOC.format(
            extra="clamp : tuple (low, high) or None, default=(0.0, 10.0)\n"
                  "        Prediction range (applied at inference only).\n"
                  "    standardize_target : bool, default=True\n"
                  "        Learn ``(y - mean) / std`` (statistics of the training y, kept as\n"
                  "        ``target_mean_`` / ``target_scale_``): the module's output is mapped back\n"
                  "        by ``SARNet(output_shift=mean, output_scale=std)``, so the criterion\n"
                  "        (MSE, the ranking margin) and ``predict`` stay in magnitude units. A fresh\n"
                  "        head outputs ~0, far from magnitudes of 0 and ~5.6; False trains on y as is.\n    ",
        )
        + RECIPE_PARAMETERS_DOC.format(weight_decay=0.01, criterion="torch.nn.MSELoss", lr=1e-4,
                                       max_epochs=6, batch_size=16)
    )

    _parameter_constraints = {
        **_SARImageNet._parameter_constraints,
        "clamp": [None, "array-like"],
        "standardize_target": ["boolean"],
    }

    def __init__(
        self, backbone="mobilenetv2_100", *, pretrained=False, input_shape=None, decibels=True,
        flips=True, clamp=(0.0, 10.0), standardize_target=True, weight_decay=0.01, warmup=0.1,
        amp="auto", channels_last="auto", random_state=None, module=SARNet,
        criterion=torch.nn.MSELoss, optimizer=torch.optim.AdamW, lr=1e-4, max_epochs=6,
        batch_size=16, train_split=None, verbose=0, keep_training_state=False, **kwargs,
    ):
        super().__init__(
            module, backbone=backbone, pretrained=pretrained, input_shape=input_shape, decibels=decibels,
            flips=flips, weight_decay=weight_decay, warmup=warmup, amp=amp, channels_last=channels_last,
            random_state=random_state, keep_training_state=keep_training_state, criterion=criterion,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            verbose=verbose, **kwargs)
        self.clamp = clamp
        self.standardize_target = standardize_target

    def _validate_params(self):
        super()._validate_params()
        self._clamp()  # a constraint checks the type of the tuple, not its contents

    def _n_outputs(self):
        return 1

    def _fit_statistics(self, X, y):
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
        low, high = tuple(self.clamp) if len(self.clamp) == 2 else (None, None)
        if not (isinstance(low, Real) and isinstance(high, Real) and low < high):
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
        y = target_vector(y, n, "magnitudes")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
        return y.astype(np.float32).reshape(-1, 1)

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


class QuakeClassifier(ClassifierNetMixin, _SARImageNet, NeuralNetClassifier):
    __doc__ = (
        """Earthquake detection (or any image classification) with a timm backbone.

    skorch ``NeuralNetClassifier`` with the QuakeSet recipe as defaults (see
    :class:`QuakeRegressor`); the head has one output per class, trained with cross-entropy
    (or ``criterion=skquake.models.deep.FocalLoss``). ``predict_proba`` returns softmax
    probabilities whatever the criterion; ``predict`` returns labels from ``classes_``
    (skorch's ``classes``, given in ``**kwargs``, fixes them and their order).
"""
        + _QUAKE_PARAMETERS_DOC.format(extra="")
        + RECIPE_PARAMETERS_DOC.format(weight_decay=0.01, criterion="torch.nn.CrossEntropyLoss", lr=1e-4,
                                       max_epochs=6, batch_size=16)
    )

    _target = "label"

    def __init__(
        self, backbone="mobilenetv2_100", *, pretrained=False, input_shape=None, decibels=True,
        flips=True, weight_decay=0.01, warmup=0.1, amp="auto", channels_last="auto",
        random_state=None, module=SARNet, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW, lr=1e-4, max_epochs=6, batch_size=16, train_split=None,
        verbose=0, keep_training_state=False, **kwargs,
    ):
        super().__init__(
            module, backbone=backbone, pretrained=pretrained, input_shape=input_shape, decibels=decibels,
            flips=flips, weight_decay=weight_decay, warmup=warmup, amp=amp, channels_last=channels_last,
            random_state=random_state, keep_training_state=keep_training_state, criterion=criterion,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            verbose=verbose, **kwargs)
