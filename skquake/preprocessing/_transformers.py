"""scikit-learn transformers over stacks of SAR images.

Every transformer here takes either

* a 4-D array ``(n, C, H, W)`` (channels first, as :func:`skquake.load_quakeset` returns), or
* a 2-D array ``(n, C*H*W)`` of flattened images together with ``input_shape=(C, H, W)``, or
* a 2-D array ``(n, F)`` **without** ``input_shape``: plain features, read as ``F`` channels of a
  1 x 1 image. Spatial operations are then no-ops and channel operations act on columns (a table of
  per-channel statistics works with :class:`ChannelSelector`). This is also how scikit-learn's
  estimator checks, which feed arbitrary 2-D data, see these transformers.

The output keeps the layout of the input: 4-D in, 4-D out; 2-D in, 2-D (flattened) out. Use
:class:`ToImages` once at the start of a pipeline to turn flattened input into 4-D, and
:class:`Flatten` at the end to hand features to a scikit-learn model.

Channel conventions (QuakeSet): bitemporal input has 4 channels ``[t0 VV, t0 VH, t1 VV, t1 VH]``;
single-image input has 2 channels ``[VV, VH]`` of the later acquisition.

``set_output(transform="pandas")`` is honoured when the output is 2-D (``get_feature_names_out``
names the columns); a 4-D output cannot be a DataFrame and stays a numpy array.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ..utils import average_pool, fill_nan, to_decibels

__all__ = [
    "AveragePooling",
    "ChangeFeatures",
    "ChannelSelector",
    "Decibels",
    "Flatten",
    "NaNFiller",
    "SpatialStatistics",
    "ToImages",
]

_FLOAT_DTYPES = (np.float64, np.float32)
BITEMPORAL_CHANNELS = ("t0_VV", "t0_VH", "t1_VV", "t1_VH")
SINGLE_CHANNELS = ("VV", "VH")
POLARIZATIONS = ("VV", "VH")


def _check_input_shape(input_shape, owner):
    if input_shape is None:
        return None
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = len(shape) == 3 and all(s >= 1 for s in shape) and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in input_shape
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{owner}: input_shape must be (C, H, W) of positive ints or None, got {input_shape!r}"
        )
    return shape


def _check_flag(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")


def _check_number(owner, name, value, *, positive=False):
    """A real number (not a bool): finite, or with ``positive=True`` greater than 0."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and (value > 0 if positive else np.isfinite(value))
    if not ok:
        raise ValueError(f"{owner}: {name} must be a {'positive' if positive else 'finite'} number, got {value!r}")


def _pixel_names(channels, h, w):
    return np.asarray([f"{c}_y{y}_x{x}" for c in channels for y in range(h) for x in range(w)], dtype=object)


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """Shared input handling: layout, shape checks, feature names, 2-D ``set_output``.

    Subclasses implement ``_check_params()``, ``_output_shape(shape)`` (raising ``ValueError``
    for an input shape they cannot take) and ``_transform_images(X4)``; ``_feature_index`` or
    ``_new_feature_names`` say how output features relate to input features.
    """

    # Output wrapping is done here, not by scikit-learn's automatic wrapper, because a 4-D
    # output cannot become a DataFrame.
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(auto_wrap_output_keys=None, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------ hooks
    def _check_params(self):
        pass

    def _output_shape(self, shape):
        return shape

    def _transform_images(self, X):
        return X

    def _feature_index(self):
        """Index of the input feature each output feature copies, or None if features are new."""
        return np.arange(self.n_features_in_)

    def _new_feature_names(self):
        c, h, w = self.output_shape_
        return _pixel_names([f"c{i}" for i in range(c)], h, w)

    # ------------------------------------------------------------------ validation
    def _validate_images(self, X, reset):
        name = type(self).__name__
        input_shape = _check_input_shape(self.input_shape, name)
        if getattr(X, "ndim", 2) > 2:
            X = check_array(X, allow_nd=True, dtype=_FLOAT_DTYPES, ensure_all_finite="allow-nan")
            if X.ndim != 4:
                raise ValueError(
                    f"{name}: expected images of shape (n, C, H, W) or flattened (n, C*H*W), "
                    f"got an array of shape {X.shape}"
                )
            shape = X.shape[1:]
            if input_shape is not None and shape != input_shape:
                raise ValueError(
                    f"{name}: input_shape={input_shape} was declared, but X holds images of shape "
                    f"{shape} (X.shape={X.shape})"
                )
            if reset and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X = validate_data(self, X, reset=reset, dtype=_FLOAT_DTYPES, ensure_all_finite="allow-nan")
            n_features = X.shape[1]
            if input_shape is None:
                shape = (n_features, 1, 1)
            else:
                if math.prod(input_shape) != n_features:
                    raise ValueError(
                        f"{name}: input_shape={input_shape} means {math.prod(input_shape)} features per "
                        f"sample (C*H*W), but X has shape {X.shape}"
                    )
                shape = input_shape
        if reset:
            self.output_shape_ = self._output_shape(shape)
            self.input_shape_ = shape
            self.n_features_in_ = math.prod(shape)
        elif shape != self.input_shape_:
            raise ValueError(
                f"{name}: X holds images of shape {shape} (X.shape={X.shape}), but this transformer "
                f"was fitted on images of shape {self.input_shape_}"
            )
        return X.reshape((X.shape[0],) + shape), X.ndim == 2

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Check the parameters and record the input shape (nothing is learned from the data).

        Parameters
        ----------
        X : array-like of shape (n, C, H, W), or (n, C*H*W) with ``input_shape`` set
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        self._validate_images(X, reset=True)
        return self

    def transform(self, X):
        """Transform ``X``; the output has the layout of the input (4-D or flattened 2-D).

        Parameters
        ----------
        X : array-like of shape (n, C, H, W), or (n, C*H*W) with ``input_shape`` set

        Returns
        -------
        ndarray of shape (n, C', H', W'), or (n, C'*H'*W') (a DataFrame under
        ``set_output(transform="pandas")``)
        """
        check_is_fitted(self)
        X4, was_2d = self._validate_images(X, reset=False)
        Xt = self._transform_images(X4)
        if was_2d or Xt.ndim == 2:
            Xt = Xt.reshape(Xt.shape[0], -1)
            return self._wrap_2d(Xt, X)
        return Xt

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, in the order of the flattened output.

        Output features that copy an input feature keep its name (``x0``, ``x1``, ... or the
        DataFrame's columns); computed ones are named ``<channel>_y<row>_x<col>``.
        """
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features)
        index = self._feature_index()
        if index is None:
            return self._new_feature_names()
        return np.asarray(input_features, dtype=object)[index]

    def set_output(self, *, transform=None):
        """Choose the container of 2-D outputs: ``"default"`` (numpy) or ``"pandas"``.

        4-D outputs always stay numpy arrays. ``None`` leaves the setting unchanged.
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ValueError(
                f"{type(self).__name__}.set_output: transform must be 'default' or 'pandas', got {transform!r}"
            )
        self._sklearn_output_config = {"transform": transform}
        return self

    def _wrap_2d(self, Xt, X):
        config = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        if config == "default":
            config = get_config()["transform_output"]
        if config != "pandas":
            return Xt
        import pandas as pd

        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(Xt, columns=self.get_feature_names_out(), index=index, copy=False)


class ToImages(_ImageTransformer):
    """Reshape flattened images ``(n, C*H*W)`` to ``(n, C, H, W)``; check 4-D input.

    Put it first in a pipeline that receives flattened input, so that ``input_shape`` is
    declared once; the steps after it see 4-D arrays. Without ``input_shape``, 2-D input is
    passed through unchanged (plain features).

    Parameters
    ----------
    input_shape : tuple (C, H, W), optional
        Shape of one image, required to un-flatten 2-D input.

    Attributes
    ----------
    input_shape_ : tuple (C, H, W)
        Image shape seen in ``fit`` (``(F, 1, 1)`` for 2-D input without ``input_shape``).
    output_shape_ : tuple
        Same as ``input_shape_``.
    n_features_in_ : int
        ``C * H * W``.
    """

    def __init__(self, input_shape=None):
        self.input_shape = input_shape

    def transform(self, X):
        check_is_fitted(self)
        X4, was_2d = self._validate_images(X, reset=False)
        if was_2d and self.input_shape is None:
            return self._wrap_2d(X4.reshape(X4.shape[0], -1), X)
        return X4


class Flatten(_ImageTransformer):
    """Flatten ``(n, C, H, W)`` to ``(n, C*H*W)`` (channel-major, like ``ndarray.reshape``).

    Returns a view of the input when it is C-contiguous (no copy of a large stack).

    Parameters
    ----------
    input_shape : tuple (C, H, W), optional
        Declared shape of flattened input (then only checked).
    """

    def __init__(self, input_shape=None):
        self.input_shape = input_shape

    def _transform_images(self, X):
        return X.reshape(X.shape[0], -1)


class NaNFiller(_ImageTransformer):
    """Replace NaN (no-data) pixels by a constant.

    Parameters
    ----------
    fill_value : float, default=0.0
        Value written in place of NaN. 0 (in linear units) is what the public QuakeSet
        loaders use; it becomes -90 dB after :class:`Decibels`.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.
    """

    def __init__(self, fill_value=0.0, input_shape=None):
        self.fill_value = fill_value
        self.input_shape = input_shape

    def _check_params(self):
        _check_number("NaNFiller", "fill_value", self.fill_value)

    def _transform_images(self, X):
        return fill_nan(X, self.fill_value, copy=True)


class Decibels(_ImageTransformer):
    """Convert linear backscatter to decibels, ``10 * log10(x + eps)``.

    Uses :func:`skquake.preprocessing.to_decibels`. NaN stays NaN (fill it first with
    :class:`NaNFiller`).

    Parameters
    ----------
    eps : float, default=1e-9
        Added before the logarithm; a zero becomes ``10 * log10(eps)`` (-90 dB).
    clip_negative : bool, default=True
        Calibrated Sentinel-1 intensities can be slightly negative after thermal-noise
        removal; they are set to 0 first (so they read as no signal). With False, a negative
        value raises ``ValueError`` (useful to catch input that is already in dB).
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.
    """

    def __init__(self, eps=1e-9, clip_negative=True, input_shape=None):
        self.eps = eps
        self.clip_negative = clip_negative
        self.input_shape = input_shape

    def _check_params(self):
        _check_number("Decibels", "eps", self.eps, positive=True)
        _check_flag("Decibels", "clip_negative", self.clip_negative)

    def _transform_images(self, X):
        if self.clip_negative:
            X = np.maximum(X, X.dtype.type(0))
        elif np.nanmin(X, initial=0.0) < 0:
            raise ValueError(
                "Decibels: X has negative values; linear backscatter is non-negative "
                "(is X already in dB?). Pass clip_negative=True to set negatives to 0."
            )
        return to_decibels(X, eps=self.eps)


class AveragePooling(_ImageTransformer):
    """Average non-overlapping ``k x k`` blocks of pixels (multilooking).

    Pool linear intensities (before :class:`Decibels`), as :func:`skquake.load_quakeset`
    does with ``pool=``: averaging power is the physical multilook; averaging dB is not.

    The factor ``k`` is ``pool_size``, raised if needed so that the output side is at most
    ``max_size``: ``k = max(pool_size, ceil(max(H, W) / max_size))``, then capped at
    ``min(H, W)``. Edge rows and columns that do not fill a block are dropped. With
    ``pool_size=1, max_size=128``, 512 x 512 images are pooled 4x and images already 128 x 128
    (e.g. read with ``load_quakeset(..., pool=4)``) or smaller are left as they are, so both
    give the same features.

    Parameters
    ----------
    pool_size : int, default=2
        Minimum block size.
    max_size : int, optional
        Largest allowed output height / width.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Attributes
    ----------
    pool_factor_ : int
        The block size used.
    """

    def __init__(self, pool_size=2, max_size=None, input_shape=None):
        self.pool_size = pool_size
        self.max_size = max_size
        self.input_shape = input_shape

    def _check_params(self):
        for name in ("pool_size", "max_size"):
            value = getattr(self, name)
            if value is None and name == "max_size":
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AveragePooling: {name} must be a positive int, got {value!r}")

    def _output_shape(self, shape):
        c, h, w = shape
        k = int(self.pool_size)
        if self.max_size is not None:
            k = max(k, math.ceil(max(h, w) / self.max_size))
        k = min(k, h, w)
        self.pool_factor_ = k
        return (c, h // k, w // k)

    def _transform_images(self, X):
        k = self.pool_factor_
        h, w = X.shape[-2:]
        return average_pool(X[..., : h - h % k, : w - w % k], k)

    def _feature_index(self):
        return np.arange(self.n_features_in_) if self.pool_factor_ == 1 else None


class ChannelSelector(_ImageTransformer):
    """Keep some dates and / or polarizations of QuakeSet images.

    Parameters
    ----------
    dates : {"both", "pre", "post"}, default="both"
        ``"pre"`` keeps the earlier image of a bitemporal sample (t0: ``pre`` for positives,
        ``before`` for negatives), ``"post"`` the later one (t1). Single-image (2-channel) input
        *is* the later image: ``"post"`` and ``"both"`` keep it, ``"pre"`` raises ``ValueError``.
    polarizations : {"both", "VV", "VH"}, default="both"
        Keep both polarizations or one.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Notes
    -----
    Any selection other than ``"both"`` / ``"both"`` needs 4 (bitemporal) or 2 (single-image)
    channels; other channel counts raise ``ValueError``. ``"both"`` / ``"both"`` passes any
    input through.
    """

    def __init__(self, dates="both", polarizations="both", input_shape=None):
        self.dates = dates
        self.polarizations = polarizations
        self.input_shape = input_shape

    def _check_params(self):
        if self.dates not in ("both", "pre", "post"):
            raise ValueError(f"ChannelSelector: dates must be 'both', 'pre' or 'post', got {self.dates!r}")
        if self.polarizations not in ("both", "VV", "VH"):
            raise ValueError(
                f"ChannelSelector: polarizations must be 'both', 'VV' or 'VH', got {self.polarizations!r}"
            )

    def _output_shape(self, shape):
        c, h, w = shape
        if self.dates == "both" and self.polarizations == "both":
            self.channels_ = np.arange(c)
            return shape
        if c == 4:
            dates = {"both": (0, 1), "pre": (0,), "post": (1,)}[self.dates]
        elif c == 2:
            if self.dates == "pre":
                raise ValueError(
                    f"ChannelSelector: dates='pre' needs bitemporal input (4 channels); single-image "
                    f"input (shape {shape}) holds only the later image"
                )
            dates = (0,)
        else:
            raise ValueError(
                f"ChannelSelector: expected images with 4 (bitemporal) or 2 (single-image) channels, "
                f"got shape {shape}"
            )
        pols = (0, 1) if self.polarizations == "both" else (POLARIZATIONS.index(self.polarizations),)
        self.channels_ = np.asarray([2 * d + p for d in dates for p in pols])
        return (len(self.channels_), h, w)

    def _transform_images(self, X):
        if len(self.channels_) == X.shape[1]:
            return X.copy()
        return X[:, self.channels_]

    def _feature_index(self):
        return np.arange(self.n_features_in_).reshape(self.input_shape_)[self.channels_].ravel()


class ChangeFeatures(_ImageTransformer):
    """Change between the two dates of bitemporal images, per polarization.

    Parameters
    ----------
    kind : {"difference", "log_ratio"}, default="difference"
        ``"difference"``: ``t1 - t0``. On decibel input this *is* the log-ratio of the
        intensities (``10 log10(t1 / t0)``), the usual SAR change measure, robust to the
        multiplicative speckle. ``"log_ratio"``: ``10 * log10((t1 + eps) / (t0 + eps))``
        computed from linear (non-negative) input, i.e. the same quantity without a separate
        :class:`Decibels` step; a negative value (input already in dB?) raises ``ValueError``.
        On linear input, ``"difference"`` is the raw intensity change, dominated by bright
        pixels.
    keep_dates : bool, default=False
        If True the output is ``[t0 VV, t0 VH, t1 VV, t1 VH, change VV, change VH]`` (6
        channels); otherwise the 2 change channels.
    eps : float, default=1e-9
        Added to both intensities in ``"log_ratio"``.
    non_bitemporal : {"error", "passthrough"}, default="error"
        What input without the 4 bitemporal channels does (single-image input has 2):
        ``"error"`` raises ``ValueError`` (a change needs two dates); ``"passthrough"`` returns
        it unchanged, so that one pipeline serves both the bitemporal and the single-image
        tasks (on the latter it sees the later image only).
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Attributes
    ----------
    passthrough_ : bool
        True when the fitted input was not bitemporal and is passed through.
    """

    def __init__(self, kind="difference", keep_dates=False, eps=1e-9, non_bitemporal="error", input_shape=None):
        self.kind = kind
        self.keep_dates = keep_dates
        self.eps = eps
        self.non_bitemporal = non_bitemporal
        self.input_shape = input_shape

    def _check_params(self):
        if self.kind not in ("difference", "log_ratio"):
            raise ValueError(f"ChangeFeatures: kind must be 'difference' or 'log_ratio', got {self.kind!r}")
        _check_flag("ChangeFeatures", "keep_dates", self.keep_dates)
        _check_number("ChangeFeatures", "eps", self.eps, positive=True)
        if self.non_bitemporal not in ("error", "passthrough"):
            raise ValueError(
                f"ChangeFeatures: non_bitemporal must be 'error' or 'passthrough', got {self.non_bitemporal!r}"
            )

    def _output_shape(self, shape):
        c, h, w = shape
        self.passthrough_ = c != 4 and self.non_bitemporal == "passthrough"
        if self.passthrough_:
            return shape
        if c != 4:
            raise ValueError(
                f"ChangeFeatures: expected bitemporal images with 4 channels [t0 VV, t0 VH, t1 VV, t1 VH], "
                f"got shape {shape} (non_bitemporal='passthrough' passes other input unchanged)"
            )
        return (6 if self.keep_dates else 2, h, w)

    def _transform_images(self, X):
        if self.passthrough_:
            return X.copy()
        t0, t1 = X[:, :2], X[:, 2:]
        if self.kind == "difference":
            change = t1 - t0
        else:
            if np.nanmin(X, initial=0.0) < 0:
                raise ValueError(
                    "ChangeFeatures: kind='log_ratio' needs linear, non-negative intensities, but X has "
                    "negative values (already in dB? then use kind='difference')"
                )
            eps = X.dtype.type(self.eps)
            change = (X.dtype.type(10) * np.log10((t1 + eps) / (t0 + eps))).astype(X.dtype, copy=False)
        if self.keep_dates:
            return np.concatenate([X, change], axis=1)
        return change

    def _feature_index(self):
        return np.arange(self.n_features_in_) if self.passthrough_ else None

    def _new_feature_names(self):
        _, h, w = self.output_shape_
        prefix = "diff" if self.kind == "difference" else "logratio"
        channels = [f"{prefix}_{p}" for p in POLARIZATIONS]
        if self.keep_dates:
            channels = list(BITEMPORAL_CHANNELS) + channels
        return _pixel_names(channels, h, w)


class SpatialStatistics(_ImageTransformer):
    """Summarise each channel of each image by statistics over its pixels.

    Turns ``(n, C, H, W)`` into ``(n, C * k)`` features that do not depend on *where* in the
    patch something happened: per channel the mean and standard deviation (``moments``) and
    the requested ``quantiles``, ignoring NaN (no-data) pixels. After
    :class:`ChangeFeatures` on decibels, the upper quantiles of the log-ratio measure how much
    of the patch changed and by how much, whatever its position: features a random forest
    can use where flattened pixels (whose position varies from event to event) give PCA
    little to hold on to.

    Parameters
    ----------
    quantiles : tuple of float, default=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
        Quantiles in [0, 1] computed per channel (linear interpolation, as ``np.quantile``).
    moments : bool, default=True
        Also compute the mean and the standard deviation per channel (first, in that order).
    fill_value : float, default=0.0
        Value of a statistic of a channel whose pixels are all NaN.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Attributes
    ----------
    statistic_names_ : list of str
        Names of the statistics per channel, in output order (``mean``, ``std``, ``q5``, ...).

    Notes
    -----
    The output is always 2-D. Output features are named ``<channel>_<statistic>``, the
    channel named after the input's features (``diff_VV_q95`` after ``ChangeFeatures``).
    """

    def __init__(self, quantiles=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99), moments=True, fill_value=0.0,
                 input_shape=None):
        self.quantiles = quantiles
        self.moments = moments
        self.fill_value = fill_value
        self.input_shape = input_shape

    def _check_params(self):
        try:
            q = np.asarray(self.quantiles if self.quantiles is not None else (), dtype=float).ravel()
        except (TypeError, ValueError):
            q = None
        if q is None or np.ndim(self.quantiles) > 1 or not np.all((q >= 0) & (q <= 1)):
            raise ValueError(f"SpatialStatistics: quantiles must be numbers in [0, 1], got {self.quantiles!r}")
        _check_flag("SpatialStatistics", "moments", self.moments)
        if not self.moments and q.size == 0:
            raise ValueError("SpatialStatistics: nothing to compute (moments=False and no quantiles)")
        _check_number("SpatialStatistics", "fill_value", self.fill_value)
        self.quantiles_ = q
        self.statistic_names_ = (["mean", "std"] if self.moments else []) + [f"q{100 * v:g}" for v in q]

    def _output_shape(self, shape):
        return (shape[0] * len(self.statistic_names_), 1, 1)

    def _transform_images(self, X):
        n, c = X.shape[:2]
        flat = X.reshape(n, c, -1)
        has_nan = np.isnan(flat).any()
        parts = []
        with warnings.catch_warnings():
            # All-NaN channels give NaN (then fill_value), not a warning per sample.
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.moments:
                mean, std = (np.nanmean, np.nanstd) if has_nan else (np.mean, np.std)
                parts += [mean(flat, axis=-1), std(flat, axis=-1)]
            if self.quantiles_.size:
                quantile = np.nanquantile if has_nan else np.quantile
                parts += list(quantile(flat, self.quantiles_, axis=-1))
        out = np.stack(parts, axis=-1).astype(X.dtype, copy=False)  # (n, C, k): channel-major
        if has_nan:
            out = fill_nan(out, self.fill_value, copy=False)
        return out.reshape(n, -1)

    def _feature_index(self):
        return None

    def get_feature_names_out(self, input_features=None):
        """``<channel>_<statistic>`` for every channel and statistic, channel-major."""
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features)
        c, h, w = self.input_shape_
        channels = []
        for i in range(c):
            first = str(input_features[i * h * w])
            suffix = "_y0_x0"
            # A channel's name: its first pixel's name without the position (diff_VV_y0_x0 ->
            # diff_VV); plain features (1 x 1 images) keep their own name.
            channels.append(first[: -len(suffix)] if h * w > 1 and first.endswith(suffix) else
                            (first if h * w == 1 else f"c{i}"))
        return np.asarray([f"{ch}_{st}" for ch in channels for st in self.statistic_names_], dtype=object)
