"""A deep epicentre estimator: one timm backbone with both heads (containment and position).

:class:`DeepEpicentreEstimator` is a :class:`~skquake.models.deep.QuakeNetBase` net with four
outputs: one containment logit and the standardised east / north offsets and depth. It takes
the QuakeSet inputs of the other deep estimators (arrays, flattened arrays with
``input_shape``, a :class:`~skquake.datasets.LazyImages` view) and the targets of
:class:`~skquake.models.epicentre.EpicentreEstimator`.
"""
from __future__ import annotations

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_numpy, to_tensor
from torch import nn

from ...utils import StrictInterval, validate_parameter_constraints
from ..deep._base import RECIPE_PARAMETERS_DOC
from ..deep._data import _INPUT, _WEIGHT, split_weights
from ..deep._estimators import _SARImageNet
from ._nets import EpicentreNet
from ._targets import EPICENTRE_COLUMNS, Y_CHECKS, EpicentreMixin, check_epicentre_targets, y_checks_reason

__all__ = ["DeepEpicentreEstimator", "EpicentreLoss"]


class EpicentreLoss(nn.Module):
    """Containment BCE + ``position_weight`` x MSE of position and depth where the patch contains it.

    ``y_pred`` is ``(n, 4)``: a containment logit, then three regression outputs; ``y_true``
    is ``(n, 4)``: contains in {0, 1}, then the (standardised) targets, which are read only on
    the rows where contains is 1 (any finite value elsewhere). A batch without such a row
    contributes its BCE only (the MSE term is 0, still in the graph). With ``sample_weight``
    each term is the weighted mean over its rows.

    Parameters
    ----------
    position_weight : float, default=1.0
        Weight of the MSE term (tunable as ``criterion__position_weight``).
    """

    _parameter_constraints = {"position_weight": [StrictInterval(Real, 0, None, closed="left")]}

    def __init__(self, position_weight=1.0):
        super().__init__()
        validate_parameter_constraints(self._parameter_constraints, {"position_weight": position_weight},
                                       caller_name=type(self).__name__)
        self.position_weight = position_weight

    def forward(self, y_pred, y_true, sample_weight=None):
        if y_pred.dim() != 2 or y_pred.shape[1] != 4 or y_true.shape != y_pred.shape:
            raise ValueError(f"EpicentreLoss expects y_pred and y_true of shape (n, 4), got "
                             f"{tuple(y_pred.shape)} and {tuple(y_true.shape)}")
        y_true = y_true.to(y_pred.dtype)
        contains = y_true[:, 0]
        w = torch.ones_like(contains) if sample_weight is None else torch.as_tensor(
            sample_weight, device=y_pred.device).to(y_pred.dtype).reshape(-1)
        bce = F.binary_cross_entropy_with_logits(y_pred[:, 0], contains, reduction="none")
        loss = (w * bce).sum() / w.sum().clamp_min(1e-12)
        inside = w * (contains > 0.5)
        # rows without an epicentre: target = prediction, no error and no gradient (NaN-safe)
        target = torch.where(contains[:, None] > 0.5, y_true[:, 1:], y_pred[:, 1:].detach())
        squared = ((y_pred[:, 1:] - target) ** 2).mean(dim=1)
        return loss + self.position_weight * (inside * squared).sum() / inside.sum().clamp_min(1e-12)

    def extra_repr(self):
        return f"position_weight={self.position_weight}"


_Y_CHECKS = Y_CHECKS + (
    "check_sample_weights_pandas_series", "check_sample_weights_not_an_array", "check_sample_weights_list",
    "check_all_zero_sample_weights_error", "check_sample_weights_shape", "check_sample_weights_not_overwritten",
    "check_estimators_nan_inf",
)


class DeepEpicentreEstimator(EpicentreMixin, _SARImageNet, NeuralNet):
    __doc__ = (
        """Epicentre and hypocentre from QuakeSet images with one timm backbone and four outputs.

    The net (:class:`EpicentreNet`) outputs a containment logit and the east / north offset
    and depth, each standardised by the training rows that contain the epicentre (``target_mean_``,
    ``target_scale_``). The loss (:class:`EpicentreLoss`, applied by ``get_loss``) is the
    binary cross-entropy of containment on every sample plus the mean squared error of the
    standardised position and depth on the samples of the batch that contain the epicentre:
    the paper leaves them undetermined elsewhere. ``y`` is ``(n, 4)`` in
    ``skquake.datasets.EPICENTRE_COLUMNS`` order (NaN allowed in columns 1-3 where
    ``contains`` is 0).

    ``predict`` returns ``(n, 4)`` float64 ``[contains, east_km, north_km, depth_km]`` with
    contains in {0, 1} (probability >= 0.5) and position and depth filled on every row;
    ``predict_proba`` the ``(n, 2)`` containment probabilities (``classes_ = [0, 1]``).

    Parameters
    ----------
    backbone : str, default="resnet10t"
        Any timm model name (resnet10t: a small CNN that learns from scratch at 32 x 32).
    pretrained : bool, str or os.PathLike, default=False
        As :class:`~skquake.models.deep.QuakeRegressor`.
    input_shape : tuple (C, H, W), optional
        Needed for flattened 2-D input; checked against 4-D input.
    decibels : bool, default=True
        Linear backscatter to decibels inside the network (as the other deep estimators).
    flips : bool, default=True
        Random horizontal and vertical flips of training batches, with the targets flipped
        alike: a left-right flip negates ``east_km``, an up-down flip ``north_km`` (images
        north-up, patch axes along east and north). Never at prediction.
    module : torch module class, default=:class:`EpicentreNet`
        Called with ``backbone``, ``in_chans``, ``num_outputs=4``, ``input_size``,
        ``pretrained``, ``decibels``, ``flips=False``, ``clamp=None``, ``channels_last`` and
        ``module__*``. :class:`EpicentreNet` places the epicentre with a soft-argmax over a
        feature map; :class:`skquake.models.deep.SARNet` (a pooled backbone with 4 outputs)
        works too, but pooling forgets where the features were.
"""
        + RECIPE_PARAMETERS_DOC.format(weight_decay=0.01, criterion=":class:`EpicentreLoss`", lr=3e-3,
                                       max_epochs=20, batch_size=16)
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.epicentre import DeepEpicentreEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.0, 0.025, size=(8, 2, 16, 16)).astype(np.float32)  # single images
    >>> y = np.array([[1, 0.1, -0.2, 10.0], [0, np.nan, np.nan, np.nan]] * 4)
    >>> net = DeepEpicentreEstimator(max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    >>> net.predict(X).shape, net.predict_proba(X).shape
    ((8, 4), (8, 2))
"""
    )

    _expected_failed_checks = {
        **y_checks_reason(_Y_CHECKS),
        **_SARImageNet._expected_failed_checks,
    }
    _input_shape_hint = " for flattened images"

    def __init__(
        self, backbone="resnet10t", *, pretrained=False, input_shape=None, decibels=True, flips=True,
        weight_decay=0.01, warmup=0.1, amp="auto", channels_last="auto", random_state=None, module=EpicentreNet,
        criterion=EpicentreLoss, optimizer=torch.optim.AdamW, lr=3e-3, max_epochs=20, batch_size=16,
        train_split=None, verbose=0, keep_training_state=False, **kwargs,
    ):
        super().__init__(
            module, backbone=backbone, pretrained=pretrained, input_shape=input_shape, decibels=decibels,
            flips=flips, weight_decay=weight_decay, warmup=warmup, amp=amp, channels_last=channels_last,
            random_state=random_state, keep_training_state=keep_training_state, criterion=criterion,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            verbose=verbose, **kwargs)

    # ----------------------------------------------------------------- targets
    def _targets_from(self, X):
        raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None (y: (n, 4) "
                         f"with the columns {EPICENTRE_COLUMNS}, as skquake.datasets.load_epicentre returns it)")

    def _n_outputs(self):
        return 4

    def _check_targets(self, y, n, fitted=False):
        y, contains = check_epicentre_targets(y, n, type(self).__name__)
        y[~contains, 1:] = 0.0  # undetermined there: the loss reads these rows' containment only
        return y.astype(np.float32)

    def _fit_statistics(self, X, y):
        inside = y[y[:, 0] == 1, 1:].astype(np.float64)
        scale = inside.std(axis=0)
        self.target_mean_ = inside.mean(axis=0)
        self.target_scale_ = np.where(scale > 1e-12, scale, 1.0)

    def _affine(self, device):
        mean = torch.as_tensor(np.asarray(self.target_mean_), dtype=torch.float32, device=device)
        scale = torch.as_tensor(np.asarray(self.target_scale_), dtype=torch.float32, device=device)
        return mean, scale

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on the containment logit and the standardised position and depth."""
        _, weight = split_weights(X)
        y_true = to_tensor(y_true, device=self.device).float()
        mean, scale = self._affine(y_true.device)
        y_true = torch.cat([y_true[:, :1], (y_true[:, 1:] - mean) / scale], dim=1)
        return self.criterion_(y_pred.float(), y_true, sample_weight=weight)

    # ----------------------------------------------------------------- module and training
    def initialize_module(self):
        shape = self._module_input_shape()
        c, h, w = shape
        # flips=False: a module would flip the image without its targets; train_step_single
        # flips both.
        self.module_ = self._build_module(
            shape, backbone=self.backbone, in_chans=c, num_outputs=4, input_size=(h, w),
            pretrained=self.pretrained, decibels=self.decibels, flips=False, clamp=None,
            channels_last=self._channels_last_enabled(), **self.get_params_for("module"),
        )
        return self

    def train_step_single(self, batch, **fit_params):
        if self.flips:
            batch = self._flip(*unpack_data(batch))
        return super().train_step_single(batch, **fit_params)

    @staticmethod
    def _flip(Xi, yi):
        x, weight = split_weights(Xi)
        # drawn from torch's global generator, which fit seeds from random_state
        draws = torch.rand(x.shape[0], 2) < 0.5
        horizontal, vertical = draws[:, 0].to(x.device), draws[:, 1].to(x.device)
        x = torch.where(horizontal.view(-1, 1, 1, 1), x.flip(-1), x)
        x = torch.where(vertical.view(-1, 1, 1, 1), x.flip(-2), x)
        yi = torch.as_tensor(yi).clone()
        sign = torch.ones_like(yi)
        sign[:, 1] = torch.where(horizontal.to(yi.device), -1.0, 1.0)
        sign[:, 2] = torch.where(vertical.to(yi.device), -1.0, 1.0)
        if weight is not None:  # fit(sample_weight=...): the weights travel with the input
            x = {_INPUT: x, _WEIGHT: weight}
        return x, yi * sign

    # ----------------------------------------------------------------- prediction
    @property
    def classes_(self):
        """The containment labels, the columns of :meth:`predict_proba`."""
        return np.array([0, 1])

    def _outputs(self, X):
        out = [to_numpy(yp[0] if isinstance(yp, tuple) else yp) for yp in self.forward_iter(X, training=False)]
        out = np.concatenate(out, 0).astype(np.float64)
        return out[:, 0], out[:, 1:] * np.asarray(self.target_scale_) + np.asarray(self.target_mean_)

    def predict_proba(self, X):
        """Containment probabilities, shape (n, 2): P(no epicentre), P(epicentre)."""
        logit, _ = self._outputs(X)
        p = expit(logit)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """``[contains, east_km, north_km, depth_km]`` of every sample, shape (n, 4), float64."""
        logit, position = self._outputs(X)
        return np.column_stack([(logit >= 0.0).astype(np.float64), position])

    # ----------------------------------------------------------------- persistence
    def _extra_state(self):
        return {**super()._extra_state(), "target_mean": np.asarray(self.target_mean_).tolist(),
                "target_scale": np.asarray(self.target_scale_).tolist()}

    def _restore_extra_state(self, state):
        super()._restore_extra_state(state)
        self.target_mean_ = np.asarray(state["target_mean"], dtype=np.float64)
        self.target_scale_ = np.asarray(state["target_scale"], dtype=np.float64)
