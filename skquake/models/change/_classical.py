"""The classical unsupervised SAR change detectors: the log-ratio thresholded per pair (Otsu or
two-class k-means), and Celik's (2009) PCA-k-means on the log-ratio.

Neither learns from the training pairs (``fit`` only checks the input): each decides on every
pair from that pair alone, which is how they are used in the SAR literature.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.ndimage import correlate
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ...preprocessing import SPECKLE_FILTERS
from ...utils import StrictInterval, StrOptions
from ._base import (
    _ONE_THREAD,
    ChangeDetectorMixin,
    _distinct,
    combined_log_ratio,
    kmeans_threshold,
    otsu_threshold,
)

__all__ = ["LogRatioChangeDetector", "PCAKMeansChangeDetector"]

_POSITIVE_INT = StrictInterval(Integral, 1, None, closed="left")
_SPECKLE_CONSTRAINTS = {
    "speckle_filter": [StrOptions(set(SPECKLE_FILTERS))],
    "filter_size": [_POSITIVE_INT],
    "looks": [StrictInterval(Real, 0, None, closed="neither")],
}


class LogRatioChangeDetector(ChangeDetectorMixin, BaseEstimator):
    """The log-ratio change detector, thresholded per pair by Otsu or two-class k-means.

    The classical unsupervised SAR baseline. For each pair: filter the speckle of the four
    linear channels (:func:`skquake.preprocessing.speckle_filter`), take the log-ratio
    ``|10 log10(t1 / t0)|`` per polarization and average it over VV and VH (the change score,
    in dB), then split the pair's scores in two: Otsu's threshold (scikit-image) or the
    boundary of two-class k-means. Every pair gets its own threshold, so a pair without any
    real change still has its "changed" half; no-data pixels (0 or NaN at either date) are
    never flagged.

    Parameters
    ----------
    threshold : {"otsu", "kmeans"}, default="otsu"
        How each pair's threshold is found (``"otsu"`` needs scikit-image: ``skquake[change]``).
    speckle_filter : {"lee", "mean", "none"}, default="lee"
        Filter applied to the linear images before the log-ratio. At Sentinel-1's 4.4 looks the
        per-pixel log-ratio of two unchanged dates has a standard deviation of ~3.1 dB, more than
        most earthquake changes: unfiltered, the thresholds split speckle.
    filter_size : int, default=5
        Window of the speckle filter (5 x 5: ~110 looks in homogeneous areas).
    looks : float, default=4.4
        Equivalent number of looks of the input, for the Lee filter.

    Attributes
    ----------
    pair_shape_ : tuple (4, H, W)
        Shape of the pairs seen in ``fit`` (other sizes are accepted later: the detector works
        per pixel).

    See Also
    --------
    PCAKMeansChangeDetector : Celik's block-PCA features clustered by k-means.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.change import LogRatioChangeDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.4, 1 / 4.4, size=(1, 4, 32, 32)).astype(np.float32)  # speckle only
    >>> X[0, 2:, 8:24, 8:24] *= 10.0  # +10 dB at t1 in a square
    >>> mask = LogRatioChangeDetector().fit(X).predict(X)
    >>> mask.shape, mask.dtype, int(mask[0, 10:22, 10:22].min()), int(mask[0, :4].max())
    ((1, 32, 32), dtype('uint8'), 1, 0)
    """

    _parameter_constraints = {"threshold": [StrOptions({"otsu", "kmeans"})], **_SPECKLE_CONSTRAINTS}

    def __init__(self, threshold="otsu", speckle_filter="lee", filter_size=5, looks=4.4):
        self.threshold = threshold
        self.speckle_filter = speckle_filter
        self.filter_size = filter_size
        self.looks = looks

    def _score_pair(self, pair, valid):
        return combined_log_ratio(pair, valid, self.speckle_filter, self.filter_size, self.looks)

    def _threshold(self, score, valid):
        values = score[valid]
        return otsu_threshold(values) if self.threshold == "otsu" else kmeans_threshold(values)


class PCAKMeansChangeDetector(ChangeDetectorMixin, BaseEstimator):
    """Celik's (2009) PCA-k-means change detector, on the SAR log-ratio.

    T. Celik, "Unsupervised change detection in satellite images using principal component
    analysis and k-means clustering", IEEE GRSL 6(4), 2009. For each pair:

    1. the difference image ``D``: ``|10 log10(t1 / t0)|`` averaged over VV and VH (the log-ratio,
       SAR's difference image), after the optional speckle filter;
    2. ``D`` is cut into ``h x h`` non-overlapping blocks (no-data blocks left out), whose PCA
       gives the eigenvector space;
    3. each pixel's ``h x h`` neighbourhood (mirrored at the border) minus the blocks' mean is
       projected onto the first ``S`` eigenvectors: an ``S``-dimensional feature vector;
    4. k-means with ``k = 2`` splits the pixels' vectors; the cluster whose pixels have the larger
       mean ``D`` is "change", and each pixel goes to the nearer centre.

    The score (``score_samples``) is the distance to the no-change centre minus the distance to
    the change centre, so the threshold is 0. A pair without two distinct values of ``D`` has no
    change.

    Parameters
    ----------
    block_size : int, default=5
        ``h``, the side of the blocks and neighbourhoods (odd: centred on the pixel).
    n_components : int, default=3
        ``S``, the eigenvectors kept (at most ``h * h``).
    speckle_filter : {"lee", "mean", "none"}, default="lee"
        Filter applied to the linear images before the log-ratio, as for
        :class:`LogRatioChangeDetector`, so that the two baselines differ only in how they
        decide. Celik's optical images needed none (``"none"`` is his recipe); at 4.4 looks the
        log-ratio of raw SAR intensities is heavy-tailed, and k-means then splits speckle.
    filter_size : int, default=5
        Window of the speckle filter.
    looks : float, default=4.4
        Equivalent number of looks of the input, for the Lee filter.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means' initialisation (k-means++); one seed, drawn in ``fit``, serves every pair.

    Attributes
    ----------
    pair_shape_ : tuple (4, H, W)
        Shape of the pairs seen in ``fit``.
    kmeans_seed_ : int
        The seed of every pair's k-means.

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.change import PCAKMeansChangeDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.4, 1 / 4.4, size=(1, 4, 32, 32)).astype(np.float32)
    >>> X[0, 2:, 8:24, 8:24] *= 10.0
    >>> mask = PCAKMeansChangeDetector(random_state=0).fit(X).predict(X)
    >>> int(mask[0, 10:22, 10:22].min()), int(mask[0, :4].max())
    (1, 0)
    """

    _parameter_constraints = {
        "block_size": [_POSITIVE_INT],
        "n_components": [_POSITIVE_INT],
        **_SPECKLE_CONSTRAINTS,
        "random_state": ["random_state"],
    }

    def __init__(self, block_size=5, n_components=3, speckle_filter="lee", filter_size=5, looks=4.4,
                 random_state=None):
        self.block_size = block_size
        self.n_components = n_components
        self.speckle_filter = speckle_filter
        self.filter_size = filter_size
        self.looks = looks
        self.random_state = random_state

    def _fit(self, pairs):
        if self.n_components > self.block_size**2:
            raise ValueError(f"n_components={self.n_components} must be at most block_size**2 = "
                             f"{self.block_size**2} (the dimension of a {self.block_size} x {self.block_size} block)")
        # One seed for every pair: predict gives the same masks each time it is called.
        self.kmeans_seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _blocks(self, diff, valid):
        """Vectors of the ``h x h`` non-overlapping blocks with data everywhere, ``(n, h * h)``."""
        h = self.block_size
        rows, cols = (s // h * h for s in diff.shape)

        def cut(a):
            return a[:rows, :cols].reshape(rows // h, h, cols // h, h).swapaxes(1, 2).reshape(-1, h * h)

        return cut(diff)[cut(valid).all(axis=1)]

    def _neighbourhoods(self, diff):
        """Every pixel's ``h x h`` neighbourhood, ``(H * W, h * h)`` (small images only)."""
        h = self.block_size
        before = (h - 1) // 2
        padded = np.pad(diff, ((before, h - 1 - before),) * 2, mode="symmetric")  # scipy's "reflect"
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, h))
        return windows.reshape(-1, h * h)

    def _score_pair(self, pair, valid):
        h, n_comp = self.block_size, self.n_components
        diff = combined_log_ratio(pair, valid, self.speckle_filter, self.filter_size, self.looks)
        values = diff[valid]
        if not _distinct(values):
            return np.zeros(diff.shape, dtype=np.float32)
        blocks = self._blocks(diff, valid)
        if len(blocks) <= n_comp:
            # Too few whole blocks (a small or mostly empty image): PCA of all neighbourhoods.
            blocks = self._neighbourhoods(diff)[valid.ravel()]
        pca = PCA(n_components=min(n_comp, len(blocks), h * h), svd_solver="full").fit(blocks)
        # Projection of each pixel's neighbourhood: one correlation per eigenvector.
        offset = pca.components_ @ pca.mean_
        origin = -1 if h % 2 == 0 else 0  # the window starts (h - 1) // 2 pixels before the pixel
        features = np.stack([
            correlate(diff, kernel.reshape(h, h).astype(np.float32), mode="reflect", origin=origin) - off
            for kernel, off in zip(pca.components_, offset)
        ], axis=-1)
        feats = features[valid]
        if len(np.unique(feats, axis=0)) < 2:
            return np.zeros(diff.shape, dtype=np.float32)
        with threadpool_limits(**_ONE_THREAD):
            km = KMeans(n_clusters=2, n_init=1, random_state=self.kmeans_seed_).fit(feats)
        change = int(np.argmax([values[km.labels_ == k].mean() if np.any(km.labels_ == k) else -np.inf
                                for k in range(2)]))
        dist = np.linalg.norm(features[..., None, :] - km.cluster_centers_.astype(np.float32), axis=-1)
        return dist[..., 1 - change] - dist[..., change]

    def _threshold(self, score, valid):
        return 0.0
