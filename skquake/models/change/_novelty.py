"""A change detector that learns from the training pairs: per-pixel novelty of log-ratio features.

Unchanged ground between two SAR dates is not "no log-ratio": speckle alone gives each pixel a
log-ratio of standard deviation ~3.1 dB at 4.4 looks, soil moisture and vegetation drift add a
little. What is usual is learned from the training pairs (no masks: most of their pixels did
not change), as a Gaussian mixture over multi-scale local statistics of the log-ratio; a pixel
is changed where its features are unlikely under that model.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state

from ...preprocessing import SPECKLE_FILTERS, local_mean
from ...utils import Interval, StrictInterval, StrOptions
from ._base import NOT_BITEMPORAL_CHECKS, ChangeDetectorMixin, otsu_threshold, signed_log_ratio, valid_pixels

__all__ = ["NoveltyChangeDetector", "log_ratio_features"]

_POLARIZATIONS = ("VV", "VH")


def log_ratio_features(pair, valid, scales=(5, 11, 25), speckle_filter="none", filter_size=5, looks=4.4):
    """Per-pixel multi-scale statistics of the VV and VH log-ratio, ``(H, W, 4 * len(scales))``.

    For each window side ``s`` in ``scales`` and each polarization: the local mean of the
    log-ratio ``10 log10(t1 / t0)`` (a consistent brightening or darkening) and its local root
    mean square (any change, also one of random sign: speckle alone gives ~3.1 dB). Windows
    average over the pixels with data at both dates only.

    Parameters
    ----------
    pair : ndarray of shape (4, H, W)
        Linear ``[t0 VV, t0 VH, t1 VV, t1 VH]``.
    valid : ndarray of bool, shape (H, W)
        Pixels with data at both dates (:func:`~skquake.models.change.valid_pixels`).
    scales : tuple of int, default=(5, 11, 25)
        Window sides in pixels.
    speckle_filter, filter_size, looks
        Filter applied to the linear images first (:func:`skquake.preprocessing.speckle_filter`).

    Returns
    -------
    ndarray of shape (H, W, 4 * len(scales)), float32
        Per scale: ``[mean VV, mean VH, rms VV, rms VH]`` in dB (named by :func:`feature_names`).
    """
    ratio = signed_log_ratio(pair, valid, speckle_filter, filter_size, looks)
    out = []
    for s in scales:
        out += list(local_mean(ratio, valid, int(s)))
        out += list(np.sqrt(local_mean(ratio * ratio, valid, int(s))))
    return np.stack(out, axis=-1)


def feature_names(scales):
    """Names of the columns of :func:`log_ratio_features` (``lr_mean_VV_5``, ``lr_rms_VH_25``, ...)."""
    return [f"lr_{stat}_{pol}_{s}" for s in scales for stat in ("mean", "rms") for pol in _POLARIZATIONS]


class NoveltyChangeDetector(ChangeDetectorMixin, BaseEstimator):
    """Per-pixel novelty of log-ratio features, with a density model learned from training pairs.

    ``fit`` computes :func:`log_ratio_features` (the local mean and root mean square of the VV
    and VH log-ratio at several window sizes) on the training pairs, draws up to
    ``max_samples`` pixels with data (``random_state``), and fits a
    :class:`~sklearn.mixture.GaussianMixture` to them: a model of how two dates of the same ground
    usually differ (speckle, drift, and the occasional change: no masks are seen). A pixel's
    change score is its negative log-likelihood under that model, and one threshold, learned
    without masks from the training pixels' scores, serves every pair: Otsu's threshold of those
    scores (``threshold="otsu"``), or the score exceeded by a given fraction of them. Unlike a
    per-pair threshold, a pair where nothing changed gets (almost) no change.

    Parameters
    ----------
    scales : tuple of int, default=(5, 11, 25)
        Window sides (pixels) of the local statistics. Averaging the log-ratio *after* the
        ratio keeps changes of random sign (collapse next to roughening), which filtering the
        images first averages away.
    n_components : int, default=4
        Components of the Gaussian mixture.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Of the Gaussian mixture.
    threshold : "otsu" or float in (0, 1), default="otsu"
        ``"otsu"``: Otsu's threshold of the training pixels' scores; a float: the fraction of
        training pixels flagged (the ``1 - threshold`` quantile of their scores).
    max_samples : int, default=100_000
        Training pixels drawn (evenly over the pairs) to fit the mixture and the threshold.
    speckle_filter : {"lee", "mean", "none"}, default="none"
        Filter applied to the linear images before the log-ratio (the local statistics already
        average ``s * s`` pixels).
    filter_size : int, default=5
        Window of the speckle filter.
    looks : float, default=4.4
        Equivalent number of looks of the input, for the Lee filter.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of training pixels and the mixture's initialisation.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted density model of the training pixels' features.
    threshold_ : float
        The score above which a pixel is changed.
    feature_names_ : list of str
        Names of the features, in the mixture's column order.
    n_training_pixels_ : int
        Pixels the mixture was fitted on.
    pair_shape_ : tuple (4, H, W)
        Shape of the training pairs (other sizes are accepted later).

    Examples
    --------
    >>> import numpy as np
    >>> from skquake.models.change import NoveltyChangeDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.4, 1 / 4.4, size=(6, 4, 32, 32)).astype(np.float32)  # speckle only
    >>> detector = NoveltyChangeDetector(n_components=1, threshold=0.01, random_state=0).fit(X)
    >>> X[:1, 2:, 8:24, 8:24] *= 10.0  # +10 dB at t1 in a square of the first pair
    >>> masks = detector.predict(X)
    >>> int(masks[0, 12:20, 12:20].min()), float(masks[1:].mean().round(2))  # 1% false alarms
    (1, 0.01)
    """

    _expected_failed_checks = {
        **NOT_BITEMPORAL_CHECKS,
        "check_positive_only_tag_during_fit": (
            "negative sigma0 is no-data (as 0 is); pairs without a pixel with data at both dates "
            "leave nothing to learn from, and fit refuses them"
        ),
    }

    _parameter_constraints = {
        "scales": [tuple, list],
        "n_components": [StrictInterval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "threshold": [StrOptions({"otsu"}), Interval(Real, 0, 1, closed="neither")],
        "max_samples": [StrictInterval(Integral, 2, None, closed="left")],
        "speckle_filter": [StrOptions(set(SPECKLE_FILTERS))],
        "filter_size": [StrictInterval(Integral, 1, None, closed="left")],
        "looks": [StrictInterval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, scales=(5, 11, 25), n_components=4, covariance_type="full", threshold="otsu",
                 max_samples=100_000, speckle_filter="none", filter_size=5, looks=4.4, random_state=None):
        self.scales = scales
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.threshold = threshold
        self.max_samples = max_samples
        self.speckle_filter = speckle_filter
        self.filter_size = filter_size
        self.looks = looks
        self.random_state = random_state

    def _scales(self):
        scales = tuple(self.scales)
        if not scales or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in scales):
            raise ValueError(f"scales must be a non-empty tuple of window sides (int >= 1), got {self.scales!r}")
        return scales

    def _features(self, pair, valid):
        return log_ratio_features(pair, valid, self._scales(), self.speckle_filter, self.filter_size, self.looks)

    def _fit(self, pairs):
        scales = self._scales()
        rng = check_random_state(self.random_state)
        n = len(pairs)
        per_pair = math.ceil(self.max_samples / max(n, 1))
        drawn = []
        for i in range(n):
            pair = np.asarray(pairs.get(i))
            valid = valid_pixels(pair)
            where = np.flatnonzero(valid.ravel())
            if not len(where):
                continue
            take = where if len(where) <= per_pair else rng.choice(where, per_pair, replace=False)
            features = self._features(pair, valid)
            drawn.append(features.reshape(-1, features.shape[-1])[np.sort(take)])
        samples = np.concatenate(drawn) if drawn else np.empty((0, 4 * len(scales)), np.float32)
        if len(samples) < max(2, self.n_components):
            raise ValueError(f"{type(self).__name__}: the training pairs hold {len(samples)} pixels with data at "
                             f"both dates; fitting {self.n_components} mixture components needs at least "
                             f"{max(2, self.n_components)}")
        seed = rng.randint(np.iinfo(np.int32).max)
        self.mixture_ = GaussianMixture(self.n_components, covariance_type=self.covariance_type,
                                        random_state=seed).fit(samples)
        scores = -self.mixture_.score_samples(samples)
        if self.threshold == "otsu":
            threshold = otsu_threshold(scores)
        else:
            threshold = float(np.quantile(scores, 1.0 - self.threshold))
        self.threshold_ = float(threshold)
        self.feature_names_ = feature_names(scales)
        self.n_training_pixels_ = int(len(samples))

    def _score_pair(self, pair, valid):
        features = self._features(pair, valid)
        flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
        return (-self.mixture_.score_samples(flat)).reshape(valid.shape)

    def _threshold(self, score, valid):
        return self.threshold_
