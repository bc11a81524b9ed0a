"""What the change detectors share: their input (arrays or lazy QuakeSets, read one pair at a
time), no-data, the log-ratio, per-pair thresholds, and the predict / score methods.

A detector scores every pixel of a bitemporal pair ``[t0 VV, t0 VH, t1 VV, t1 VH]`` (linear
sigma0, as :func:`skquake.datasets.load_quakeset` returns) and flags the pixels whose score
exceeds a threshold, found per pair (Otsu, k-means) or learned in ``fit``. Pairs are processed
one at a time, so that predicting a lazy :class:`~skquake.datasets.QuakeSet` keeps about one
pair's work in memory besides the output.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from ...preprocessing import speckle_filter
from ...utils import fit_context, import_optional

__all__ = ["ChangeDetectorMixin", "combined_log_ratio", "kmeans_threshold", "otsu_threshold", "valid_pixels"]

# k-means on one pair is small work: OpenMP threads cost more to start than they save (10 to 100
# times on a busy machine), and pairs are better spread over processes.
_ONE_THREAD = dict(limits=1, user_api="openmp")

#: dB per natural log unit: ``10 log10(x) = _DB * ln(x)``.
_DB = 10.0 / np.log(10.0)

# Why most of scikit-learn's estimator checks cannot pass: they feed 2-D data of 1 to 10 features,
# which the image convention reads as channels of 1 x 1 images, and a detector needs 4 channels.
_NOT_BITEMPORAL = (
    "a change mask needs a bitemporal pair (4 channels); the check's 2-D data has another number of "
    "features, which 2-D input reads as channels of 1 x 1 images"
)
#: The checks every detector fails for that reason (the ones that feed 4 features pass).
NOT_BITEMPORAL_CHECKS = dict.fromkeys((
    "check_fit_score_takes_y",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_estimators_empty_data",
    "check_pipeline_consistency",
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)",
    "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
    "check_requires_y_none",
), _NOT_BITEMPORAL)


def _is_lazy(X) -> bool:
    """A QuakeSet-like dataset or a LazyImages view, duck-typed (LazyImages imports torch)."""
    if all(hasattr(X, a) for a in ("dataset", "indices_", "idx")):
        return True
    return all(hasattr(X, a) for a in ("image_shape", "__getitem__", "__len__")) and not hasattr(X, "ndim")


def _two_dates_error(shape, what):
    return ValueError(
        f"{what} holds single images (shape {shape}, 2 channels [VV, VH]), but a change mask needs two "
        "dates: pass bitemporal pairs (4 channels [t0 VV, t0 VH, t1 VV, t1 VH], QuakeSet(mode='bitemporal'))"
    )


class _Pairs:
    """The bitemporal pairs of ``X``: ``len``, the pair shape and ``get(i)`` -> float (4, H, W).

    An array is checked once; a QuakeSet (or a LazyImages view of one) is read one sample per
    ``get``, through the dataset (a LazyImages view refuses NaN, which is no-data here).
    """

    def __init__(self, X, owner):
        self.owner = owner
        if _is_lazy(X):
            if hasattr(X, "indices_"):
                self.dataset, self.indices, self.key = X.dataset, np.asarray(X.indices_), X.idx
            else:
                self.dataset, self.indices, self.key = X, np.arange(len(X)), "image"
            self.array = None
            shape = tuple(int(s) for s in self.dataset.image_shape)
            what = f"the dataset ({type(self.dataset).__name__})"
        else:
            # NaN is no-data (as 0 is); infinity is refused.
            X = check_array(X, allow_nd=True, dtype=(np.float32, np.float64), ensure_all_finite="allow-nan",
                            input_name="X", estimator=owner)
            if X.ndim == 2:
                X = X.reshape(X.shape + (1, 1))  # the image convention: F channels of 1 x 1 images
            if X.ndim != 4:
                raise ValueError(f"{type(owner).__name__}: X must be bitemporal pairs of shape (n, 4, H, W), "
                                 f"got an array of shape {X.shape}")
            self.array = X
            shape = X.shape[1:]
            what = "X"
            _check_linear(X, "X")
        if shape[0] == 2:
            raise _two_dates_error(shape, what)
        if len(shape) != 3 or shape[0] != 4:
            raise ValueError(f"{type(owner).__name__}: {what} must hold bitemporal pairs of shape (4, H, W) "
                             f"[t0 VV, t0 VH, t1 VV, t1 VH], got images of shape {shape}")
        self.shape = shape

    def __len__(self):
        return len(self.array) if self.array is not None else len(self.indices)

    def get(self, i):
        if self.array is not None:
            return self.array[i]
        image = np.asarray(self.dataset[int(self.indices[i])][self.key], dtype=np.float32)
        if image.shape != self.shape:
            raise ValueError(f"sample {int(self.indices[i])} of the dataset has shape {image.shape}, "
                             f"expected {self.shape} (a transform that changes the shape?)")
        _check_linear(image, f"sample {int(self.indices[i])} of the dataset")
        return image


def _check_linear(X, what):
    finite = np.isfinite(X)
    nonzero = np.count_nonzero(finite & (X != 0))
    if nonzero and np.count_nonzero(finite & (X < 0)) > 0.9 * nonzero:
        raise ValueError(f"{what} is mostly negative, but change detection expects linear sigma0 (>= 0, "
                         "0 = no-data): already in decibels? (drop QuakeSet(transform=to_decibels))")


def valid_pixels(pair):
    """Boolean ``(H, W)``: the pixels with data at both dates (finite and > 0 in all 4 channels).

    ``load_quakeset`` fills no-data with 0; a pixel without data at one date has no change to
    find, and is never flagged.
    """
    pair = np.asarray(pair)
    return np.all(np.isfinite(pair) & (pair > 0), axis=0)


def combined_log_ratio(pair, valid, speckle="lee", size=5, looks=4.4):
    """Per-pixel ``|10 log10(t1 / t0)|`` averaged over VV and VH, after a speckle filter.

    Parameters
    ----------
    pair : ndarray of shape (4, H, W)
        Linear ``[t0 VV, t0 VH, t1 VV, t1 VH]``.
    valid : ndarray of bool, shape (H, W)
        :func:`valid_pixels` of ``pair``; elsewhere the result is 0.
    speckle, size, looks
        :func:`skquake.preprocessing.speckle_filter`'s ``method``, ``size`` and ``looks``.

    Returns
    -------
    ndarray of shape (H, W), float32, in dB
    """
    ratio = signed_log_ratio(pair, valid, speckle, size, looks)
    return np.abs(ratio).mean(axis=0)


def signed_log_ratio(pair, valid, speckle="lee", size=5, looks=4.4):
    """``10 log10(t1 / t0)`` per polarization ``(2, H, W)`` float32 after a speckle filter; 0 at
    no-data."""
    pair = np.where(valid, pair, 0).astype(np.float32, copy=False)
    pair = speckle_filter(pair, method=speckle, size=size, looks=looks)
    t0, t1 = pair[:2], pair[2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.float32(_DB) * np.log(t1 / t0)
    return np.where(valid, ratio, np.float32(0))


def _distinct(values) -> bool:
    return values.size >= 2 and values.min() < values.max()


def otsu_threshold(values):
    """Otsu's threshold of ``values`` (scikit-image), +inf when they hold fewer than 2 distinct values."""
    if not _distinct(values):
        return np.inf
    filters = import_optional("skimage.filters", "change")
    return float(filters.threshold_otsu(np.asarray(values, dtype=np.float64)))


def kmeans_threshold(values):
    """The boundary of two-class k-means (scikit-learn) on 1-D ``values``: the midpoint of the centres.

    Lloyd's algorithm starts from the 5th and the 95th percentiles (the extremes are speckle
    outliers), so the result is deterministic without a seed; +inf for fewer than 2 distinct
    values.
    """
    if not _distinct(values):
        return np.inf
    values = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    init = np.quantile(values, [0.05, 0.95]).reshape(-1, 1)
    if init[0, 0] == init[1, 0]:
        init = np.array([[values.min()], [values.max()]])
    with threadpool_limits(**_ONE_THREAD):
        centres = KMeans(n_clusters=2, init=init, n_init=1).fit(values).cluster_centers_.ravel()
    return float(centres.mean())


class ChangeDetectorMixin:
    """``fit`` / ``predict`` / ``decision_function`` / ``score_samples`` of a change detector.

    A subclass (mixed in before :class:`~sklearn.base.BaseEstimator`) implements
    ``_score_pair(pair, valid) -> (H, W)`` (larger = more change; values at no-data pixels are
    ignored) and ``_threshold(score, valid) -> float`` (per pair, or a fitted constant), and may
    implement ``_fit(pairs)`` (``pairs``: ``len`` and ``get(i)``) to learn from the training
    pairs. ``decision_function = score_samples - threshold``, ``predict = decision_function > 0``.
    """

    _expected_failed_checks = NOT_BITEMPORAL_CHECKS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN is no-data, as 0 is
        return tags

    def _fit(self, pairs):
        pass

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the input and learn what the detector learns from unlabelled pairs.

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages (read one pair at a time)
            Linear sigma0 ``[t0 VV, t0 VH, t1 VV, t1 VH]``; 0 or NaN is no-data.
        y : ignored
            Change detection is unsupervised: training sees no masks.

        Returns
        -------
        self
        """
        pairs = _Pairs(X, self)
        self._fit(pairs)
        self.pair_shape_ = pairs.shape
        return self

    def _pair_results(self, X):
        check_is_fitted(self, "pair_shape_")
        pairs = _Pairs(X, self)
        for i in range(len(pairs)):
            pair = pairs.get(i)
            valid = valid_pixels(pair)
            score = np.asarray(self._score_pair(pair, valid), dtype=np.float32)
            yield i, score, self._threshold(score, valid), valid, len(pairs), pairs.shape

    def _collect(self, X, fill, dtype, per_pair):
        out = None
        for i, score, threshold, valid, n, shape in self._pair_results(X):
            if out is None:
                out = np.empty((n,) + tuple(shape[1:]), dtype=dtype)
            out[i] = np.where(valid, per_pair(score, threshold), fill)
        if out is None:
            out = np.empty((0,) + tuple(_Pairs(X, self).shape[1:]), dtype=dtype)
        return out

    def score_samples(self, X):
        """Per-pixel change score (larger = more change); NaN where a date has no data.

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages

        Returns
        -------
        ndarray of shape (n, H, W), float32
        """
        return self._collect(X, np.float32(np.nan), np.float32, lambda s, t: s)

    def decision_function(self, X):
        """``score_samples(X)`` minus the pair's threshold: positive where change is flagged.

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages

        Returns
        -------
        ndarray of shape (n, H, W), float32; NaN where a date has no data
        """
        return self._collect(X, np.float32(np.nan), np.float32, lambda s, t: s - np.float32(t))

    def predict(self, X):
        """Binary change masks: 1 where the score exceeds the threshold, never at no-data.

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages (read one pair at a time)

        Returns
        -------
        ndarray of shape (n, H, W), uint8 in {0, 1}
        """
        return self._collect(X, np.uint8(0), np.uint8, lambda s, t: s > t)

    def iter_predict(self, X):
        """Yield the change mask of each pair in turn, ``(H, W)`` uint8: peak memory stays near
        one pair's work (:meth:`predict` also holds the ``(n, H, W)`` result).

        Parameters
        ----------
        X : array-like of shape (n, 4, H, W), or a QuakeSet / LazyImages

        Yields
        ------
        ndarray of shape (H, W), uint8 in {0, 1}
        """
        for _, score, threshold, valid, _, _ in self._pair_results(X):
            yield (valid & (score > threshold)).astype(np.uint8)


class _ChangeDetector(ChangeDetectorMixin, BaseEstimator):
    pass
