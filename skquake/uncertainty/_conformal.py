"""Prediction intervals with guaranteed marginal coverage for any registered regressor.

:class:`ConformalRegressor` wraps a regressor (a shallow pipeline, a deep ``QuakeRegressor``,
any scikit-learn regressor) in MAPIE's split or cross conformal regression, with the
calibration split or the folds drawn by event when ``groups`` is given.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, check_consistent_length, get_tags, indexable
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..utils import HasMethods, Interval, StrOptions, fit_context, import_optional
from ._splits import check_groups, make_splits

__all__ = ["ConformalRegressor"]

_DEFAULT_CV = {"split": 0.25, "cross": 5}


class ConformalRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Conformal prediction intervals around any regressor, through MAPIE.

    ``method="split"`` fits ``estimator`` on part of the training data and calibrates the
    interval half-width on the rest (the calibration set): one fit, intervals of constant
    width. ``method="cross"`` is MAPIE's CV+ ("plus"): one fit per fold, out-of-fold residuals as
    conformity scores, point predictions averaged over the fold models; costlier, and uses all
    the data for both. Either way the interval ``[lower, upper]`` holds the true value of a new
    sample with probability at least ``confidence_level`` (marginally, for exchangeable data;
    CV+ guarantees ``1 - 2 (1 - confidence_level)`` in theory and is close to nominal in
    practice).

    Exchangeable means "new events like the training events": with ``groups`` (event ids) the
    calibration set or the folds never split an event, so the residuals are those of unseen
    earthquakes, not of unseen patches of known ones.

    Conformalized quantile regression (MAPIE's ``ConformalizedQuantileRegressor``) needs a
    model with quantile outputs; no registered model has quantile heads, so it is not offered.

    Parameters
    ----------
    estimator : regressor
        Unfitted; cloned for each fit. Its parameters are tunable as ``estimator__<name>``.
    method : {"split", "cross"}, default="split"
    confidence_level : float in (0, 1), default=0.9
        Target coverage of the intervals.
    cv : float, int, splitter, iterable of (train, test) or None, default=None
        ``method="split"``: the calibration fraction, a float in (0, 1) (of the events when
        ``groups`` is given; default 0.25), or a splitter whose first split is
        ``(train, calibration)``. ``method="cross"``: the number of folds, an int >= 2
        (``GroupKFold`` with groups, shuffled ``KFold`` without; default 5), or a splitter.
        A splitter receives ``groups``.
    random_state : int, RandomState or None, default=None
        Draws the calibration set or the folds. The wrapped estimator keeps its own
        ``random_state``.

    Attributes
    ----------
    conformal_ : mapie.regression.SplitConformalRegressor or CrossConformalRegressor
        The fitted and conformalized MAPIE object.
    estimator_ : regressor
        ``method="split"`` only: the regressor fitted on the training part.
    splits_ : list of (ndarray, ndarray)
        The ``(train, calibration)`` indices: one pair for "split", one per fold for "cross".
    n_features_in_ : int
        For 2-D ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skquake.uncertainty import ConformalRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=400)
    >>> groups = np.arange(400) // 2  # two samples per event
    >>> reg = ConformalRegressor(Ridge(), confidence_level=0.9, random_state=0).fit(X, y, groups=groups)
    >>> reg.predict_interval(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "method": [StrOptions({"split", "cross"})],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "cv": [None, Interval(Real, 0, 1, closed="neither"), "cv_object"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, method="split", confidence_level=0.9, cv=None, random_state=None):
        self.estimator = estimator
        self.method = method
        self.confidence_level = confidence_level
        self.cv = cv
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Fit the regressor(s) and calibrate the intervals.

        Parameters
        ----------
        X : array-like of shape (n, ...)
            Whatever ``estimator`` takes (features, or images for a deep regressor).
        y : array-like of shape (n,)
        groups : array-like of shape (n,), optional
            Event id of each sample: no event is on both sides of a split.

        Returns
        -------
        self
        """
        regression = import_optional("mapie.regression", extra="uncertainty")
        for stale in ("estimator_", "n_features_in_"):  # set below only for some methods / inputs
            self.__dict__.pop(stale, None)
        owner = type(self).__name__
        kind = get_tags(self.estimator).estimator_type
        if kind != "regressor":
            raise ValueError(f"{owner} needs a regressor; estimator={type(self.estimator).__name__} is "
                             f"{'a ' + kind if kind else 'not a regressor'} (for calibrated detection "
                             "probabilities use GroupCalibratedClassifierCV)")
        if y is None:
            raise ValueError(f"{owner} requires y to be passed, but the target y is None")
        # indexable: row-indexable X (sparse as CSR, array-likes as arrays), images left as they are.
        # float64: MAPIE checks y == y_pred + (y - y_pred) to 1e-8, which float32 targets and
        # predictions (load_quakeset's magnitudes, a torch regressor's outputs) miss by 5e-7
        # wherever the prediction is far from the target.
        X, y = indexable(X, column_or_1d(y, warn=True).astype(np.float64, copy=False))
        check_consistent_length(X, y)
        groups = check_groups(groups, len(y), owner)
        cv = _DEFAULT_CV[self.method] if self.cv is None else self.cv
        self.splits_ = make_splits(cv, X, y, groups, kind="split" if self.method == "split" else "folds",
                                   random_state=self.random_state, owner=owner)
        held_out = np.concatenate([t for _, t in self.splits_])
        self._check_enough_scores(held_out, groups)
        if self.method == "split":
            train, calibration = self.splits_[0]
            self.estimator_ = clone(self.estimator).fit(_safe_indexing(X, train), y[train])
            self.conformal_ = regression.SplitConformalRegressor(
                self.estimator_, confidence_level=self.confidence_level, prefit=True,
            ).conformalize(_safe_indexing(X, calibration), y[calibration])
        else:
            # MAPIE takes a cross-validator, not index pairs: wrap the folds drawn above as one.
            self.conformal_ = regression.CrossConformalRegressor(
                clone(self.estimator), confidence_level=self.confidence_level, method="plus",
                cv=check_cv(self.splits_), random_state=self.random_state,
            ).fit_conformalize(X, y)
        if len(getattr(X, "shape", ())) == 2:
            self.n_features_in_ = X.shape[1]
        return self

    def _check_enough_scores(self, held_out, groups):
        # MAPIE needs 1 / alpha calibration scores for a finite quantile; say so in our terms.
        needed = math.ceil(max(1 / (1 - self.confidence_level), 1 / self.confidence_level) - 1e-9)
        if len(held_out) < needed:
            where = "the calibration set has" if self.method == "split" else "the folds hold out"
            events = "" if groups is None else f" ({np.unique(groups[held_out]).size} events)"
            raise ValueError(
                f"{type(self).__name__}: {where} {len(held_out)} sample(s){events}; confidence_level="
                f"{self.confidence_level} needs at least {needed} for a finite interval (pass more data, "
                "a larger calibration fraction cv, or a lower confidence_level)")

    def predict(self, X):
        """Point predictions, shape ``(n,)`` (the fold models' mean for ``method="cross"``)."""
        check_is_fitted(self, "conformal_")
        return np.asarray(self.conformal_.predict(X))

    def predict_interval(self, X):
        """Lower and upper bounds of the ``confidence_level`` interval, shape ``(n, 2)``."""
        check_is_fitted(self, "conformal_")
        _, intervals = self.conformal_.predict_interval(X)
        return np.asarray(intervals)[:, :, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags
