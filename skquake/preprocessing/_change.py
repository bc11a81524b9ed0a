"""Channel operations on QuakeSet images: select dates / polarizations, compute the change.

The input layouts every transformer takes are described in :mod:`skquake.preprocessing._base`.
"""
from __future__ import annotations

import numpy as np

from ..utils import StrOptions
from ._base import BITEMPORAL_CHANNELS, POLARIZATIONS, POSITIVE, _ImageTransformer, _pixel_names

__all__ = ["ChangeFeatures", "ChannelSelector"]

# scikit-learn's estimator checks feed 2-D data of 1 to 10 features, which 2-D input without
# input_shape reads as channels: a transformer that needs 4 (or 2) channels cannot pass the
# checks that feed another count. They are listed here, next to the estimators that declare
# them as expected failures (the common tests read ``_expected_failed_checks``).
_NO_CHANNELS = (
    "needs 4 (bitemporal) or 2 (single-image) channels; the check's data has another number "
    "of features, which 2-D input without input_shape reads as channels"
)
_CHANNEL_CHECKS = (
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformer_general(readonly_memmap=True)",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit2d_predict1d",
)
# These feed 4 features, which ChannelSelector takes as 4 channels (and passes).
_FOUR_FEATURE_CHECKS = (
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
)
# ChangeFeatures needs 4 channels exactly, so these fail too.
_BITEMPORAL_CHECKS = _CHANNEL_CHECKS + ("check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in")


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

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import ChannelSelector
    >>> X = np.arange(4.0).reshape(1, 4, 1, 1)  # [t0 VV, t0 VH, t1 VV, t1 VH] of a 1 x 1 image
    >>> ChannelSelector(dates="post").fit_transform(X).ravel()
    array([2., 3.])
    >>> ChannelSelector(polarizations="VH").fit_transform(X).ravel()
    array([1., 3.])
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "dates": [StrOptions({"both", "pre", "post"})],
        "polarizations": [StrOptions({"both", "VV", "VH"})],
    }

    def __init__(self, dates="both", polarizations="both", input_shape=None):
        self.dates = dates
        self.polarizations = polarizations
        self.input_shape = input_shape

    @property
    def _expected_failed_checks(self):
        if self.dates == "both" and self.polarizations == "both":
            return {}  # the identity selection takes any number of channels
        return {check: _NO_CHANNELS for check in _CHANNEL_CHECKS if check not in _FOUR_FEATURE_CHECKS}

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

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import ChangeFeatures
    >>> X = np.array([-10.0, -16.0, -7.0, -18.0]).reshape(1, 4, 1, 1)  # dB, 1 x 1 image
    >>> change = ChangeFeatures().fit(X)
    >>> change.transform(X).ravel()
    array([ 3., -2.])
    >>> change.get_feature_names_out()
    array(['diff_VV_y0_x0', 'diff_VH_y0_x0'], dtype=object)
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "kind": [StrOptions({"difference", "log_ratio"})],
        "keep_dates": ["boolean"],
        "eps": [POSITIVE],
        "non_bitemporal": [StrOptions({"error", "passthrough"})],
    }

    def __init__(self, kind="difference", keep_dates=False, eps=1e-9, non_bitemporal="error", input_shape=None):
        self.kind = kind
        self.keep_dates = keep_dates
        self.eps = eps
        self.non_bitemporal = non_bitemporal
        self.input_shape = input_shape

    @property
    def _expected_failed_checks(self):
        if self.non_bitemporal == "passthrough":
            return {}  # passes input without 4 channels through, whatever its channel count
        return dict.fromkeys(_BITEMPORAL_CHECKS, "needs bitemporal 4-channel input; " + _NO_CHANNELS)

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
