"""Location-aware features: *where* in the patch the backscatter changed (or stands out).

The input layouts every transformer takes are described in :mod:`skquake.preprocessing._base`.
"""
from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ..utils import StrictInterval, StrOptions
from ._base import BITEMPORAL_CHANNELS, POLARIZATIONS, _ImageTransformer
from ._speckle import local_mean

__all__ = ["LocationFeatures"]

_MAPS = ("log_ratio", "decibels", "texture")
_CENTROID_NAMES = ("centroid_east", "centroid_north", "centroid_spread", "centroid_mass")
# Pixel values per chunk of transform (~16 M: ~130 MB per float64 copy, a handful alive at once).
_CHUNK_VALUES = 1 << 24


class LocationFeatures(_ImageTransformer):
    """A coarse map of the change (or of the image), its weighted centroid and spread.

    The change-statistics features (:class:`SpatialStatistics` after :class:`ChangeFeatures`)
    are location-invariant by design: they say how much changed, not where, so they cannot
    place an epicentre. These features keep the position:

    1. a speckle filter: the linear intensities are averaged over a ``filter_size`` x
       ``filter_size`` box (multilooking, :func:`local_mean`), ignoring no-data pixels;
    2. a map per polarization (``map``): the absolute log-ratio ``|10 log10(t1 / t0)|`` of a
       bitemporal pair (the classical SAR change indicator), the filtered image in decibels, or
       its local texture (the standard deviation of the decibels over the box);
    3. the map pooled to a ``grid`` x ``grid`` grid of cells: the mean and standard deviation
       of each map over each cell (which part of the patch changed);
    4. (``centroid``) the map's anomaly ``|map - median|`` above its own median, as weights: their
       centroid (east and north, in patch widths from the patch centre, in [-0.5, 0.5]), their
       spread around it (same unit) and their mean (how much stands out). Where the signature
       lies inside the patch the centroid moves with it, almost linearly, which a forest or a
       kernel machine maps to kilometres with few samples.

    Orientation: columns run west to east and rows north to south (north-up images, as the
    QuakeSet file's coordinates are: ``x`` grows with the column, ``y`` falls with the row).

    No-data: a pixel is ignored when any channel is NaN, infinite or ``<= 0`` (the public
    loaders fill no-data with 0); a cell without any valid pixel gets 0.

    Parameters
    ----------
    grid : int, default=4
        Cells per side of the coarse map (capped at the image's height and width).
    filter_size : int, default=3
        Side of the box speckle filter, in pixels (1: no filter).
    map : {"auto", "log_ratio", "decibels", "texture"}, default="auto"
        ``"auto"``: ``"log_ratio"`` for 4-channel (bitemporal) input, else ``"texture"``
        (a single image has no before: an earthquake shows as locally rougher backscatter).
        ``"log_ratio"`` needs 4 channels ``[t0 VV, t0 VH, t1 VV, t1 VH]``; the others take each
        channel as a map.
    centroid : bool, default=True
        Append the four centroid features.
    input_shape : tuple (C, H, W), optional
        Shape of one image for flattened input.

    Attributes
    ----------
    map_ : str
        The map used (``map`` with ``"auto"`` resolved).
    cells_ : tuple (rows, cols)
        The grid actually used.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.preprocessing import LocationFeatures
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.0, 0.025, size=(3, 4, 16, 16))  # bitemporal, linear backscatter
    >>> X[:, 2:, :6, 10:] *= 10.0  # a bright change in the north-east corner of t1
    >>> features = LocationFeatures(grid=2).fit(X)
    >>> features.transform(X).shape
    (3, 20)
    >>> names = list(features.get_feature_names_out())
    >>> names[:2], names[-4:-2]
    (['VV_mean_r0_c0', 'VV_mean_r0_c1'], ['centroid_east', 'centroid_north'])
    >>> east, north = features.transform(X)[0, -4:-2]
    >>> bool(east > 0.2 and north > 0.2)
    True
    """

    _parameter_constraints = {
        **_ImageTransformer._parameter_constraints,
        "grid": [StrictInterval(Integral, 1, None, closed="left")],
        "filter_size": [StrictInterval(Integral, 1, None, closed="left")],
        "map": [StrOptions({"auto", *_MAPS})],
        "centroid": ["boolean"],
    }

    def __init__(self, grid=4, filter_size=3, map="auto", centroid=True, input_shape=None):
        self.grid = grid
        self.filter_size = filter_size
        self.map = map
        self.centroid = centroid
        self.input_shape = input_shape

    def _output_shape(self, shape):
        c, h, w = shape
        kind = self.map if self.map != "auto" else ("log_ratio" if c == 4 else "texture")
        if kind == "log_ratio" and c != 4:
            raise ValueError(
                f"LocationFeatures(map='log_ratio') needs bitemporal images of 4 channels "
                f"{list(BITEMPORAL_CHANNELS)}, got {c} channel(s) (image shape {shape}); "
                "use map='decibels' or 'texture' for a single image"
            )
        self.map_ = kind
        self.cells_ = (min(self.grid, h), min(self.grid, w))
        self.n_maps_ = 2 if kind == "log_ratio" else c
        n = self.n_maps_ * 2 * self.cells_[0] * self.cells_[1] + (len(_CENTROID_NAMES) if self.centroid else 0)
        return (n, 1, 1)

    # ------------------------------------------------------------------ the maps
    def _maps(self, X):
        """(n, m, H, W) float64 maps, NaN where the pixel is no-data."""
        X = X.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            valid = np.all(np.isfinite(X) & (X > 0), axis=1, keepdims=True)
        size = self.filter_size
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.map_ == "texture":
                # std of the dB over the box: E[d^2] - E[d]^2 of the valid pixels' decibels
                d = np.where(valid, 10.0 * np.log10(np.where(valid, X, 1.0)), 0.0)
                m1 = local_mean(d, valid, size)
                maps = np.sqrt(np.maximum(local_mean(d * d, valid, size) - m1 * m1, 0.0))
            else:
                db = 10.0 * np.log10(local_mean(X, valid, size))
                maps = np.abs(db[:, 2:4] - db[:, 0:2]) if self.map_ == "log_ratio" else db
        # a valid pixel's window holds at least itself, so its filtered value is defined
        return np.where(valid, maps, np.nan)

    def _transform_images(self, X):
        # in chunks: the float64 maps and their filters hold several copies of the chunk
        chunk = max(1, _CHUNK_VALUES // max(1, X[0].size))
        parts = [self._transform_chunk(X[i:i + chunk]) for i in range(0, len(X), chunk)]
        return np.concatenate(parts).astype(X.dtype, copy=False)

    def _transform_chunk(self, X):
        n, _, h, w = X.shape
        maps = self._maps(X)
        rows = np.linspace(0, h, self.cells_[0] + 1).round().astype(int)
        cols = np.linspace(0, w, self.cells_[1] + 1).round().astype(int)
        means, stds = [], []
        with warnings.catch_warnings():
            # a cell without valid pixels gives NaN (then 0), not a warning per sample
            warnings.simplefilter("ignore", RuntimeWarning)
            for r0, r1 in zip(rows[:-1], rows[1:]):
                for c0, c1 in zip(cols[:-1], cols[1:]):
                    cell = maps[:, :, r0:r1, c0:c1].reshape(n, maps.shape[1], -1)
                    means.append(np.nanmean(cell, axis=-1))
                    stds.append(np.nanstd(cell, axis=-1))
            # (n, m, cells) each; channel-major: a map's means, then its stds
            parts = np.concatenate([np.stack(means, axis=-1), np.stack(stds, axis=-1)], axis=-1)
            out = [parts.reshape(n, -1)]
            if self.centroid:
                out.append(self._centroid(maps))
        return np.nan_to_num(np.concatenate(out, axis=1), nan=0.0)

    @staticmethod
    def _centroid(maps):
        n, _, h, w = maps.shape
        anomaly = np.abs(maps - np.nanmedian(maps, axis=(2, 3), keepdims=True))
        anomaly = np.nanmean(anomaly, axis=1)  # (n, H, W)
        weight = anomaly - np.nanmedian(anomaly, axis=(1, 2), keepdims=True)
        weight = np.nan_to_num(np.maximum(weight, 0.0), nan=0.0)
        east = (np.arange(w) + 0.5) / w - 0.5  # pixel centres, in patch widths from the centre
        north = 0.5 - (np.arange(h) + 0.5) / h  # row 0 is the northern edge
        mass = weight.sum(axis=(1, 2))
        safe = np.where(mass > 0, mass, 1.0)
        ce = (weight * east[None, None, :]).sum(axis=(1, 2)) / safe
        cn = (weight * north[None, :, None]).sum(axis=(1, 2)) / safe
        d2 = (east[None, None, :] - ce[:, None, None]) ** 2 + (north[None, :, None] - cn[:, None, None]) ** 2
        spread = np.sqrt((weight * d2).sum(axis=(1, 2)) / safe)
        return np.stack([ce, cn, spread, mass / (h * w)], axis=1)

    # ------------------------------------------------------------------ names
    def _feature_index(self):
        return None

    def get_feature_names_out(self, input_features=None):
        """``<map>_<mean|std>_r<row>_c<col>`` per map and cell, then the centroid features.

        Maps are named after the polarization (``VV``, ``VH``) for bitemporal and
        single-image input, else ``c<i>``.
        """
        check_is_fitted(self, "n_features_in_")
        _check_feature_names_in(self, input_features)
        c = self.input_shape_[0]
        if self.n_maps_ == 2 and c in (2, 4):
            channels = list(POLARIZATIONS)
        else:
            channels = [f"c{i}" for i in range(self.n_maps_)]
        cells = [f"r{i}_c{j}" for i in range(self.cells_[0]) for j in range(self.cells_[1])]
        names = [f"{ch}_{stat}_{cell}" for ch in channels for stat in ("mean", "std") for cell in cells]
        if self.centroid:
            names += list(_CENTROID_NAMES)
        return np.asarray(names, dtype=object)
