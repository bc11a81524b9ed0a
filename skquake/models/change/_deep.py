"""The deep change detector: unsupervised image translation on the deep base (QuakeNetBase).

Luppino et al., "Unsupervised Image Regression for Heterogeneous Change Detection", IEEE TGRS
57(12), 2019: learn a regression from the first date of a pair to the second on the training
pairs, without labels (most pixels of most pairs did not change, so the regression learns what
"no change" maps to: the same ground, its speckle and drift), then flag where the second date
departs from what the regression predicts. The paper learns the regression on pixels that a
prior marks as probably unchanged; here a robust loss (Huber) and a trimmed mean (the pixels
of a batch with the largest losses left out) keep changed pixels from steering it.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet

from ...datasets import LazyImages
from ...preprocessing import local_mean
from ...utils import Interval, StrictInterval, StrOptions
from ..deep import QuakeNetBase
from ..deep._base import RECIPE_PARAMETERS_DOC
from ..deep._data import _ImageDataset, _WeightedDataset, split_weights
from ._base import _NOT_BITEMPORAL, NOT_BITEMPORAL_CHECKS, ChangeDetectorMixin, _Pairs, otsu_threshold
from ._translation_net import TranslationNet

__all__ = ["TranslationChangeDetector"]

#: Pairs read (evenly spaced) for the input statistics: enough for a mean and a spread.
_STATISTICS_PAIRS = 256
#: MAD -> standard deviation of a normal distribution.
_MAD_TO_STD = 1.4826


def _valid_and_clean(batch):
    """Pixels with data at both dates ``(b, H, W)`` (as :func:`valid_pixels`) and the batch with
    0 elsewhere (NaN and infinity never reach the net)."""
    valid = np.all(np.isfinite(batch) & (batch > 0), axis=1)
    return valid, np.where(valid[:, None], batch, np.float32(0)).astype(np.float32, copy=False)


def _training_images(X):
    """The training pairs (a tensor or a LazyImages view) under skorch's dataset wrappers."""
    if isinstance(X, _WeightedDataset):
        X = X.dataset
    if isinstance(X, _ImageDataset):
        X = X.X
    return X


def _read(X, i):
    image = X[i]
    return image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=np.float32)


class TranslationChangeDetector(ChangeDetectorMixin, QuakeNetBase, NeuralNet):
    __doc__ = (
        """Unsupervised change detection by image translation (Luppino et al., IEEE TGRS 2019).

    A fully-convolutional net (:class:`~skquake.models.change.TranslationNet`: a timm encoder,
    ``features_only``, and a small decoder) predicts the second date of a pair from the first,
    per channel, in standardised decibels. ``fit(X)`` trains it on the training pairs alone (no
    masks): most of their pixels did not change, so it learns the "no change" mapping (the same
    ground, speckle filtered by the net, the usual drift). The loss is robust to the pixels that
    did change: ``criterion`` (Huber by default) per pixel, and in every batch the ``trim``
    fraction of pixels with the largest losses is left out (a trimmed mean: the paper trains
    on pixels a prior marks as unchanged). No-data pixels (0, NaN or negative at either date)
    never enter the loss.

    The change score of a pixel is the local mean (``window`` x ``window``, over pixels with
    data) of the squared residual ``(t1 - prediction) / s``, averaged over the channels, where
    ``s`` is each channel's robust spread of the residuals on the training pairs (median
    absolute deviation). One threshold, learned without masks when training ends, serves every
    pair: Otsu's threshold of the scores of up to ``max_samples`` training pixels, or the score
    exceeded by a given fraction of them (``threshold``), as
    :class:`~skquake.models.change.NoveltyChangeDetector` does. ``predict``,
    ``score_samples``, ``decision_function`` and ``iter_predict`` behave as for the other
    detectors; pairs are read and scored ``batch_size`` at a time (a lazy QuakeSet is never
    loaded whole), and no-data pixels are never flagged.

    Parameters
    ----------
    backbone : str, default="resnet10t"
        A timm model name that supports ``features_only`` (convolutional networks).
    pretrained : bool, str or os.PathLike, default=False
        ``False``: random initialisation. ``True``: timm's published weights (local cache, else
        the hub). A path: a state dict of the same architecture, loaded offline; timm adapts the
        first convolution to the 2 channels of one date.
    input_shape : tuple (4, H, W), optional
        The pair shape, needed only to ``initialize()`` the net before ``load_weights``; fit
        reads it from the data. The net is fully convolutional: other sizes are accepted later.
    decibels : bool, default=True
        Translate decibels ``10 log10(x)`` (speckle is then additive); False: linear sigma0.
        The input is linear sigma0 either way.
    flips : bool, default=True
        Random horizontal and vertical flips of training pairs (both dates alike).
    decoder_channels : int, default=32
        Width of the decoder.
    trim : float in [0, 0.5), default=0.1
        Fraction of each batch's pixels (those with the largest losses) left out of the loss.
    window : int, default=7
        Side of the window over which the squared residuals are averaged into the score.
    threshold : "otsu" or float in (0, 1), default="otsu"
        ``"otsu"``: Otsu's threshold of the training pixels' scores; a float: the fraction of
        training pixels flagged (the ``1 - threshold`` quantile of their scores).
    max_samples : int, default=100_000
        Training pixels drawn (evenly over the pairs, ``random_state``) to learn the residual
        spread and the threshold.
    module : torch module class, default=:class:`~skquake.models.change.TranslationNet`
        Called with ``backbone``, ``in_chans``, ``pretrained``, ``decibels``, ``flips``,
        ``channels_last``, ``decoder_channels``, ``mean``, ``std`` and ``module__*``
        (``module__out_indices=(0, 1, 2)`` reaches ``timm.create_model``); it returns
        ``(prediction, target, valid)``.
"""
        + RECIPE_PARAMETERS_DOC.format(weight_decay=0.01, criterion="torch.nn.HuberLoss (called with "
                                       "reduction='none': per-pixel losses)", lr=1e-3, max_epochs=10, batch_size=16)
        + """
    Attributes
    ----------
    module_ : TranslationNet
        The fitted net (``history_`` is skorch's training log).
    input_mean_, input_std_ : ndarray of shape (2,)
        Per-polarization statistics of the training pairs (both dates), in dB.
    residual_scale_ : ndarray of shape (2,)
        Robust spread of the training residuals per polarization (standardised units).
    threshold_ : float
        The score above which a pixel is changed.
    n_training_pixels_ : int
        Training pixels the residual spread and the threshold were learned from.
    pair_shape_ : tuple (4, H, W)
        Shape of the training pairs.

    See Also
    --------
    NoveltyChangeDetector : a Gaussian mixture over local log-ratio statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.change import TranslationChangeDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.4, 1 / 4.4, size=(16, 4, 16, 16)).astype(np.float32)  # speckle only
    >>> detector = TranslationChangeDetector(max_epochs=2, threshold=0.05, random_state=0).fit(X)
    >>> X[0, 2:, 4:12, 4:12] *= 10.0  # +10 dB at t1 in a square of the first pair
    >>> masks = detector.predict(X)
    >>> masks.shape, int(masks[0, 6:10, 6:10].min())
    ((16, 16, 16), 1)
    """
    )

    _expected_failed_checks = {
        **QuakeNetBase._expected_failed_checks,
        **NOT_BITEMPORAL_CHECKS,
        # fit takes sample weights (the shallow detectors do not), so these checks run too, on
        # 2-D data of 2, 3 or 20 features
        **dict.fromkeys(("check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
                         "check_sample_weights_list", "check_sample_weights_shape",
                         "check_sample_weights_not_overwritten", "check_all_zero_sample_weights_error"),
                        _NOT_BITEMPORAL),
        "check_positive_only_tag_during_fit": (
            "negative sigma0 is no-data (as 0 is); pairs without a pixel with data at both dates "
            "leave nothing to learn from, and fit refuses them"
        ),
    }

    _parameter_constraints = {
        **QuakeNetBase._parameter_constraints,
        "decoder_channels": [StrictInterval(Integral, 1, None, closed="left")],
        "trim": [Interval(Real, 0, 0.5, closed="left")],
        "window": [StrictInterval(Integral, 1, None, closed="left")],
        "threshold": [StrOptions({"otsu"}), Interval(Real, 0, 1, closed="neither")],
        "max_samples": [StrictInterval(Integral, 2, None, closed="left")],
    }

    def __init__(self, backbone="resnet10t", *, pretrained=False, input_shape=None, decibels=True, flips=True,
                 decoder_channels=32, trim=0.1, window=7, threshold="otsu", max_samples=100_000,
                 weight_decay=0.01, warmup=0.1, amp="auto", channels_last="auto", random_state=None,
                 module=TranslationNet, criterion=torch.nn.HuberLoss, optimizer=torch.optim.AdamW, lr=1e-3,
                 max_epochs=10, batch_size=16, train_split=None, verbose=0, keep_training_state=False, **kwargs):
        super().__init__(
            module, backbone=backbone, pretrained=pretrained, input_shape=input_shape, decibels=decibels,
            flips=flips, weight_decay=weight_decay, warmup=warmup, amp=amp, channels_last=channels_last,
            random_state=random_state, keep_training_state=keep_training_state, criterion=criterion,
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
            verbose=verbose, **kwargs)
        self.decoder_channels = decoder_channels
        self.trim = trim
        self.window = window
        self.threshold = threshold
        self.max_samples = max_samples

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Train the translation net on unlabelled pairs, then learn the threshold.

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages
            Linear sigma0 ``[t0 VV, t0 VH, t1 VV, t1 VH]``; 0 or NaN is no-data.
        y : ignored
            Change detection is unsupervised: training sees no masks.
        sample_weight : array-like of shape (n,), optional
            Weight of each pair in the loss.
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        # The deep base's fit (validation, seeding, skorch), not the shallow detectors' one.
        return super(ChangeDetectorMixin, self).fit(X, None, sample_weight=sample_weight, **fit_params)

    def _check_X(self, X, fitted):
        pairs = _Pairs(X, self)  # the change detectors' input rules and messages
        shape = tuple(int(s) for s in pairs.shape)
        if pairs.array is None:
            data = X if isinstance(X, LazyImages) else LazyImages(X)
        else:
            _, clean = _valid_and_clean(pairs.array.astype(np.float32, copy=False))
            data = torch.from_numpy(clean)
        if not fitted:
            self.n_features_in_ = int(np.prod(shape))
        return data, shape

    def _targets_from(self, X):
        return None  # the net's target is the second date of each pair, read from X

    def _check_targets(self, y, n, fitted=False):
        return np.zeros(n, dtype=np.float32)  # placeholders for skorch: y is ignored

    def get_dataset(self, X, y=None):
        if isinstance(X, (torch.Tensor, LazyImages)):
            return _ImageDataset(X, y)
        return super().get_dataset(X, y)

    def _fit_statistics(self, X, y):
        n = len(X)
        picked = np.unique(np.linspace(0, n - 1, min(n, _STATISTICS_PAIRS)).round().astype(int))
        total = np.zeros(2)
        square = np.zeros(2)
        count = 0
        for i in picked:
            pair = _read(X, int(i)).astype(np.float64)
            valid = np.all(pair > 0, axis=0)
            values = pair[:, valid]
            if self.decibels:
                values = 10.0 * np.log10(values)
            dates = values.reshape(2, 2, -1)  # (date, polarization, pixel)
            total += dates.sum(axis=(0, 2))
            square += (dates**2).sum(axis=(0, 2))
            count += dates.shape[0] * dates.shape[2]  # values per polarization
        if count == 0:
            raise ValueError(f"{type(self).__name__}: the training pairs hold no pixel with data at both dates "
                             "(> 0 in all 4 channels): there is nothing to learn from")
        mean = total / count
        std = np.sqrt(np.maximum(square / count - mean**2, 0.0))
        self.input_mean_ = mean
        self.input_std_ = np.where(std > 1e-6, std, 1.0)

    def initialize_module(self):
        shape = self._module_input_shape()
        mean = getattr(self, "input_mean_", None)
        std = getattr(self, "input_std_", None)
        # Before a fit (initialize() then load_weights) the statistics are placeholders that
        # the loaded state dict overwrites.
        self.module_ = self._build_module(
            shape, backbone=self.backbone, in_chans=shape[0] // 2, pretrained=self.pretrained,
            decibels=self.decibels, flips=self.flips, channels_last=self._channels_last_enabled(),
            decoder_channels=self.decoder_channels, mean=None if mean is None else [float(v) for v in mean],
            std=None if std is None else [float(v) for v in std], **self.get_params_for("module"),
        )
        return self

    def initialize_criterion(self):
        # Per-pixel losses: no-data pixels and the trimmed ones are left out in get_loss.
        kwargs = {**self.get_params_for("criterion"), "reduction": "none"}
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        prediction, target, valid = y_pred
        _, weight = split_weights(X)
        per_pixel = self.criterion_(prediction, target)
        if per_pixel.shape != prediction.shape:
            raise ValueError(f"criterion {type(self.criterion_).__name__} must return per-pixel losses with "
                             f"reduction='none', got shape {tuple(per_pixel.shape)}")
        per_pixel = per_pixel.mean(dim=1)
        keep = valid
        if self.trim > 0:
            values = per_pixel.detach()[valid]
            if values.numel():
                cut = values.kthvalue(max(1, math.ceil((1.0 - self.trim) * values.numel()))).values
                keep = valid & (per_pixel.detach() <= cut)
        keep = keep.to(per_pixel.dtype)
        counts = keep.sum(dim=(1, 2))
        per_pair = (per_pixel * keep).sum(dim=(1, 2)) / counts.clamp(min=1)
        w = (counts > 0).to(per_pair.dtype)  # a pair without data has no loss
        if weight is not None:
            w = w * torch.as_tensor(weight, dtype=per_pair.dtype, device=per_pair.device)
        return (w * per_pair).sum() / w.sum().clamp(min=1e-12)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._fit_threshold(_training_images(X))
        self.pair_shape_ = tuple(self.input_shape_)

    def _fit_threshold(self, X):
        """The residual spread and the threshold from training pixels' residuals (no masks)."""
        rng = check_random_state(self.random_state)
        n = len(X)
        per_pair = math.ceil(self.max_samples / max(n, 1))
        residuals, local = [], []
        for _, valid, residual in self._residual_batches(n, lambda i: _read(X, i)):
            for v, r in zip(valid, residual):
                where = np.flatnonzero(v.ravel())
                if not len(where):
                    continue
                take = where if len(where) <= per_pair else np.sort(rng.choice(where, per_pair, replace=False))
                residuals.append(r.reshape(len(r), -1)[:, take])
                local.append(local_mean(r * r, v, self.window).reshape(len(r), -1)[:, take])
        c = self.input_shape_[0] // 2
        residuals = np.concatenate(residuals, axis=1) if residuals else np.zeros((c, 0), np.float32)
        local = np.concatenate(local, axis=1) if local else np.zeros((c, 0), np.float32)
        scale = np.ones(c)
        if residuals.shape[1]:
            centre = np.median(residuals, axis=1, keepdims=True)
            mad = _MAD_TO_STD * np.median(np.abs(residuals - centre), axis=1)
            scale = np.where(mad > 1e-6, mad, 1.0)
        scores = np.mean(local / (scale**2)[:, None], axis=0)
        if self.threshold == "otsu":
            # The scores are mean squared residuals (a scale, skewed like a chi-square): Otsu
            # splits their logarithm, as the log-ratio detectors split a log of intensities.
            positive = scores[scores > 0]
            threshold = np.exp(otsu_threshold(np.log(positive))) if positive.size else np.inf
        elif scores.size:
            threshold = float(np.quantile(scores, 1.0 - self.threshold))
        else:
            threshold = np.inf
        self.residual_scale_ = scale
        self.threshold_ = float(threshold)
        self.n_training_pixels_ = int(scores.size)

    # ------------------------------------------------------------------ scoring
    def _batch_size(self, n):
        size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        return max(n, 1) if size == -1 else int(size)

    def _residual_batches(self, n, get):
        """Yield ``(start, valid (b, H, W), residual (b, C, H, W))`` for ``batch_size`` pairs at a time."""
        step = self._batch_size(n)
        for start in range(0, n, step):
            batch = np.stack([np.asarray(get(i), dtype=np.float32) for i in range(start, min(n, start + step))])
            valid, clean = _valid_and_clean(batch)
            prediction, target, _ = self.evaluation_step((torch.from_numpy(clean), None), training=False)
            yield start, valid, (target - prediction).float().cpu().numpy()

    def _pair_results(self, X):
        # The mixin's per-pair loop, a batch of pairs per forward pass.
        check_is_fitted(self, "pair_shape_")
        pairs = _Pairs(X, self)
        scale = (np.asarray(self.residual_scale_, dtype=np.float32) ** 2)[:, None, None]
        for start, valid, residual in self._residual_batches(len(pairs), pairs.get):
            for j, (v, r) in enumerate(zip(valid, residual)):
                score = local_mean(np.mean(r * r / scale, axis=0), v, self.window)
                yield start + j, score, self.threshold_, v, len(pairs), pairs.shape

    @available_if(lambda self: False)
    def predict_proba(self, X):
        """Not available: a change detector gives masks (``predict``) and scores."""
        raise AttributeError("TranslationChangeDetector has no predict_proba")

    # ------------------------------------------------------------------ persistence
    def _extra_state(self):
        return {**super()._extra_state(), "input_mean": [float(v) for v in self.input_mean_],
                "input_std": [float(v) for v in self.input_std_],
                "residual_scale": [float(v) for v in self.residual_scale_], "threshold": float(self.threshold_),
                "n_training_pixels": int(self.n_training_pixels_)}

    def _restore_extra_state(self, state):
        super()._restore_extra_state(state)
        self.input_mean_ = np.asarray(state["input_mean"], dtype=np.float64)
        self.input_std_ = np.asarray(state["input_std"], dtype=np.float64)
        self.residual_scale_ = np.asarray(state["residual_scale"], dtype=np.float64)
        self.threshold_ = float(state["threshold"])
        self.n_training_pixels_ = int(state["n_training_pixels"])
        self.pair_shape_ = tuple(self.input_shape_)
