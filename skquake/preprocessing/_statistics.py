"""Location-invariant features: per-channel statistics over the pixels of each image.

The input layouts every transformer takes are described in :mod:`skquake.preprocessing._base`.
"""
from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ..utils import Interval, InvalidParameterError, fill_nan
from ._base import FINITE, _ImageTransformer

__all__ = ["SpatialStatistics"]


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
    quantiles : tuple of float, float or None, default=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
        Quantiles in [0, 1] computed per channel (linear interpolation, as ``np.quantile``);
        None or ``()`` computes none.
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

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import SpatialStatistics
    >>> X = np.arange(8.0).reshape(1, 2, 2, 2)  # one image: 2 channels of 2 x 2 pixels
    >>> stats = SpatialStatistics(quantiles=(0.5,)).fit(X)
    >>> stats.transform(X).round(2)
    array([[1.5 , 1.12, 1.5 , 5.5 , 1.12, 5.5 ]])
    >>> stats.get_feature_names_out()
    array(['c0_mean', 'c0_std', 'c0_q50', 'c1_mean', 'c1_std', 'c1_q50'],
          dtype=object)
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "quantiles": [None, "array-like", Interval(Real, 0, 1, closed="both")],
        "moments": ["boolean"],
        "fill_value": [FINITE],
    }

    def __init__(self, quantiles=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99), moments=True, fill_value=0.0,
                 input_shape=None):
        self.quantiles = quantiles
        self.moments = moments
        self.fill_value = fill_value
        self.input_shape = input_shape

    # What the constraints cannot say: the values inside ``quantiles``, and that something is
    # left to compute (a rule across two parameters).
    def _check_params(self):
        try:
            q = np.asarray(self.quantiles if self.quantiles is not None else (), dtype=float).ravel()
        except (TypeError, ValueError):
            q = None
        if q is None or np.ndim(self.quantiles) > 1 or not np.all((q >= 0) & (q <= 1)):
            raise InvalidParameterError(
                f"SpatialStatistics: quantiles must be numbers in [0, 1], got {self.quantiles!r}"
            )
        if not self.moments and q.size == 0:
            raise InvalidParameterError("SpatialStatistics: nothing to compute (moments=False and no quantiles)")
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
