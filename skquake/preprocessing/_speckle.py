"""Speckle filters for linear SAR intensities that skip no-data pixels.

The input layouts every transformer takes are described in :mod:`skquake.preprocessing._base`.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy.ndimage import uniform_filter

from ..utils import StrictInterval, StrOptions, validate_params
from ._base import POSITIVE, _ImageTransformer

__all__ = ["SPECKLE_FILTERS", "SpeckleFilter", "local_mean", "speckle_filter"]

#: The filters :func:`speckle_filter` knows.
SPECKLE_FILTERS = ("lee", "mean", "none")

_SIZE = StrictInterval(Integral, 1, None, closed="left")


def local_mean(x, valid, size):
    """Mean of the valid pixels in each ``size x size`` window over the last two axes.

    A normalised convolution: ``boxcar(x * valid) / boxcar(valid)``, windows mirrored at the
    border, 0 where a window holds no valid pixel. Values of any sign (a log-ratio) are fine.

    Parameters
    ----------
    x : ndarray of shape (..., H, W), floating
    valid : ndarray of bool, broadcastable to ``x``
        The pixels that count.
    size : int
        Window side in pixels.

    Returns
    -------
    ndarray, shape and dtype of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import local_mean
    >>> x = np.array([[1.0, -3.0, 100.0]])
    >>> local_mean(x, x < 50, size=3)  # 100 is left out
    array([[-0.33333333, -1.        , -3.        ]])
    """
    x = np.asarray(x)
    valid = np.broadcast_to(valid, x.shape)
    window = (1,) * (x.ndim - 2) + (size, size)
    weight = uniform_filter(valid.astype(x.dtype), window, mode="reflect")
    total = uniform_filter(np.where(valid, x, 0), window, mode="reflect")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, total / weight, 0).astype(x.dtype, copy=False)


@validate_params(
    {
        "images": ["array-like"],
        "method": [StrOptions(set(SPECKLE_FILTERS))],
        "size": [_SIZE],
        "looks": [POSITIVE],
    },
    prefer_skip_nested_validation=True,
)
def speckle_filter(images, method="lee", size=5, looks=4.4):
    """Filter the speckle of linear intensities over the last two axes ``(..., H, W)``.

    No-data pixels (0, negative or not finite: ``load_quakeset`` fills NaN with 0) are left out
    of every window and keep their value, so that a swath edge does not darken its neighbours.

    Parameters
    ----------
    images : array-like of shape (..., H, W)
        Linear backscatter (sigma0), e.g. ``(n, C, H, W)``.
    method : {"lee", "mean", "none"}, default="lee"
        ``"mean"``: the local mean (a boxcar, i.e. multilooking without subsampling: ``size**2``
        times the looks in homogeneous areas). ``"lee"``: Lee's (1980) minimum-mean-square-error
        filter, ``m + k (x - m)`` with the local mean ``m`` and
        ``k = max(0, 1 - C_u^2 / C_i^2) / (1 + C_u^2)`` from the local coefficient of variation
        ``C_i`` and that of speckle, ``C_u = 1 / sqrt(looks)``: homogeneous areas are averaged,
        edges and point targets kept. ``"none"``: the input, as an array.
    size : int, default=5
        Side of the square window in pixels (odd sizes centre it on the pixel).
    looks : float, default=4.4
        Equivalent number of looks of the input (Sentinel-1 IW GRD: 4.4); used by ``"lee"``.

    Returns
    -------
    ndarray
        Same shape and floating dtype as ``images`` (float64 for integer input).

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import speckle_filter
    >>> x = np.array([[1.0, 3.0, 0.0], [1.0, 3.0, 2.0]])  # 0 is no-data
    >>> speckle_filter(x, method="mean", size=3).round(2)  # windows mirrored at the border
    array([[1.67, 2.  , 0.  ],
           [1.67, 2.  , 2.43]])
    """
    x = np.asarray(images)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim < 2:
        raise ValueError(f"speckle_filter needs images of shape (..., H, W), got an array of shape {x.shape}")
    if method == "none" or size == 1:
        return x.copy()
    valid = np.isfinite(x) & (x > 0)
    mean = local_mean(x, valid, size)
    if method == "mean":
        out = mean
    else:
        var = np.maximum(local_mean(x * x, valid, size) - mean * mean, 0)
        cu2 = x.dtype.type(1.0 / looks)
        with np.errstate(divide="ignore", invalid="ignore"):
            ci2 = var / (mean * mean)
            k = np.where(ci2 > cu2, (1 - cu2 / ci2) / (1 + cu2), 0).astype(x.dtype, copy=False)
        out = mean + k * (np.where(valid, x, 0) - mean)
    return np.where(valid, out, x)


class SpeckleFilter(_ImageTransformer):
    """Filter the speckle of each channel of linear SAR images (Lee or boxcar).

    A transformer around :func:`speckle_filter`: each channel of each image is filtered on its
    own, no-data pixels (0, negative or NaN) are left out of the windows and keep their value.
    Put it before :class:`Decibels` (speckle is multiplicative noise on linear intensities).

    Parameters
    ----------
    method : {"lee", "mean", "none"}, default="lee"
        The filter (see :func:`speckle_filter`).
    size : int, default=5
        Window side in pixels.
    looks : float, default=4.4
        Equivalent number of looks of the input (Sentinel-1 IW GRD: 4.4), for ``"lee"``.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import SpeckleFilter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.4, 1 / 4.4, size=(1, 4, 32, 32))  # pure speckle, mean 1
    >>> Xf = SpeckleFilter(method="mean", size=5).fit_transform(X)
    >>> Xf.shape, bool(Xf.std() < X.std() / 3)
    ((1, 4, 32, 32), True)
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "method": [StrOptions(set(SPECKLE_FILTERS))],
        "size": [_SIZE],
        "looks": [POSITIVE],
    }

    def __init__(self, method="lee", size=5, looks=4.4, input_shape=None):
        self.method = method
        self.size = size
        self.looks = looks
        self.input_shape = input_shape

    def _transform_images(self, X):
        return speckle_filter(X, method=self.method, size=self.size, looks=self.looks)
