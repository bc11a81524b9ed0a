"""Epicentre estimation from any scikit-learn classifier and regressor (torch-free).

:class:`EpicentreEstimator` is the paper's formulation of tasks 3 and 7 put together from two
estimators: a classifier says whether the patch contains the epicentre (trained on every
sample), a multi-output regressor gives the epicentre's offset and the hypocentre's depth
(trained on the samples that contain it, the only ones where the paper defines them).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted

from ...utils import HasMethods, fit_context
from ._targets import EPICENTRE_COLUMNS, Y_CHECKS, EpicentreMixin, check_epicentre_targets, y_checks_reason

__all__ = ["EpicentreEstimator"]

# the checks feed X that RandomForest* (the default parts) take: sparse, complex, empty...
_Y_CHECKS = Y_CHECKS + (
    "check_complex_data", "check_estimators_empty_data_messages", "check_estimator_sparse_tag",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_fit2d_1sample",
)


def _given_or_default(estimator):
    """The (unfitted) classifier and regressor an EpicentreEstimator fits: its own, or the defaults."""
    return (estimator.classifier if estimator.classifier is not None else RandomForestClassifier(),
            estimator.regressor if estimator.regressor is not None else RandomForestRegressor())


def _classifier_has(name):
    def check(self):
        part = getattr(self, "classifier_", None)
        return hasattr(part if part is not None else _given_or_default(self)[0], name)

    return check


class EpicentreEstimator(EpicentreMixin, MetaEstimatorMixin, BaseEstimator):
    """Containment classifier + position / depth regressor: QuakeSet tasks 3 and 7.

    ``fit(X, y)`` takes ``y`` of shape ``(n, 4)`` with the columns
    ``("contains", "east_km", "north_km", "depth_km")`` (``skquake.datasets.EPICENTRE_COLUMNS``,
    as :func:`skquake.datasets.load_epicentre` returns them): ``classifier`` learns column 0
    on every row, ``regressor`` learns columns 1-3 on the rows where ``contains == 1`` only
    (elsewhere the paper leaves them undetermined, and they may be NaN). Both are cloned in
    ``fit``; their parameters are tunable as ``classifier__*`` and ``regressor__*`` (in a
    ``Pipeline``, ``GridSearchCV`` or an Optuna search).

    Parameters
    ----------
    classifier : estimator, default=None
        Any classifier (``fit`` / ``predict``, ideally ``predict_proba``); None: a
        ``RandomForestClassifier()``. It sees the labels 0 and 1.
    regressor : estimator, default=None
        A regressor of 3 outputs (natively multi-output, or wrapped in
        ``sklearn.multioutput.MultiOutputRegressor``); None: a ``RandomForestRegressor()``.
    random_state : int, RandomState or None, default=None
        None leaves the parts' own ``random_state`` alone; otherwise every ``random_state``
        parameter inside them (nested ones too) is set from it at ``fit``, so that one seed
        fixes the whole fit.

    Attributes
    ----------
    classifier_, regressor_ : estimator
        The fitted clones.
    classes_ : ndarray
        The classifier's labels (``[0, 1]``), the columns of :meth:`predict_proba`.
    n_features_in_ : int
        The classifier's, where it has one.

    Notes
    -----
    scikit-learn's estimator checks feed 1-D targets; this estimator takes ``(n, 4)`` only,
    so every check that fits fails with the error naming the expected columns (listed in
    ``_expected_failed_checks``). ``tests/models/test_epicentre.py`` runs the checks through
    an adapter that turns their targets into epicentre targets.

    There is no ``score`` method: score with a registered metric
    (``scoring="neg_epicentre_error_km"``, ``"epicentre_f1"``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    >>> from skquake.models.epicentre import EpicentreEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> contains = (X[:, 0] > 0).astype(float)
    >>> position = np.where(contains[:, None] == 1, X * [1.0, 2.0, 3.0] + [0, 0, 10], np.nan)
    >>> y = np.column_stack([contains, position])  # NaN where the patch has no epicentre
    >>> model = EpicentreEstimator(RandomForestClassifier(n_estimators=10),
    ...                            RandomForestRegressor(n_estimators=10), random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape, model.predict_proba(X[:2]).shape
    ((2, 4), (2, 2))
    >>> sorted(model.get_params())[:2]
    ['classifier', 'classifier__bootstrap']
    """

    _parameter_constraints = {
        "classifier": [HasMethods(["fit", "predict"]), None],
        "regressor": [HasMethods(["fit", "predict"]), None],
        "random_state": ["random_state"],
    }

    #: scikit-learn checks that fit with 1-D targets (see Notes).
    _expected_failed_checks = y_checks_reason(_Y_CHECKS)

    def __init__(self, classifier=None, regressor=None, random_state=None):
        self.classifier = classifier
        self.regressor = regressor
        self.random_state = random_state

    def _parts(self):
        classifier, regressor = (clone(part) for part in _given_or_default(self))
        if self.random_state is not None:
            rng = check_random_state(self.random_state)
            for part in (classifier, regressor):
                keys = sorted(k for k in part.get_params(deep=True) if k.split("__")[-1] == "random_state")
                part.set_params(**{k: int(rng.randint(np.iinfo(np.int32).max)) for k in keys})
        return classifier, regressor

    @fit_context(prefer_skip_nested_validation=False)  # the parts validate their own parameters
    def fit(self, X, y):
        """Fit the classifier on every row, the regressor on the rows that contain the epicentre.

        Parameters
        ----------
        X : array-like or dataset
            Whatever the parts take (images ``(n, C, H, W)`` for a pipeline of
            :class:`~skquake.preprocessing.LocationFeatures`, features ``(n, F)``, ...).
        y : array-like of shape (n, 4)
            ``EPICENTRE_COLUMNS``; columns 1-3 may be NaN where ``contains`` is 0.

        Returns
        -------
        self
        """
        y, contains = check_epicentre_targets(y, _num_samples(X), type(self).__name__)
        self.classifier_, self.regressor_ = self._parts()
        self.classifier_.fit(X, y[:, 0].astype(np.int64))
        rows = np.flatnonzero(contains)
        self.regressor_.fit(_safe_indexing(X, rows), y[rows, 1:])
        if hasattr(self.classifier_, "classes_"):
            self.classes_ = self.classifier_.classes_
        return self

    @property
    def n_features_in_(self):
        """Number of features of ``X`` seen by the classifier in ``fit``."""
        return self.classifier_.n_features_in_

    @property
    def feature_names_in_(self):
        """Names of the features seen by the classifier in ``fit`` (a DataFrame's columns)."""
        return self.classifier_.feature_names_in_

    def predict(self, X):
        """Containment, position and depth of every sample.

        Returns
        -------
        ndarray of shape (n, 4), float64
            ``[contains, east_km, north_km, depth_km]``: contains in {0, 1}; position and depth
            are predicted for every row (column 0 says whether they apply: the paper's
            "cannot be determined" where it is 0).
        """
        check_is_fitted(self)
        contains = np.asarray(self.classifier_.predict(X), dtype=np.float64).reshape(-1)
        position = np.asarray(self.regressor_.predict(X), dtype=np.float64)
        n = len(contains)
        if position.size != 3 * n:
            raise ValueError(
                f"the regressor {type(self.regressor_).__name__} predicts {position.shape} for {n} samples; it "
                f"must predict the 3 columns {EPICENTRE_COLUMNS[1:]} (wrap a single-output regressor in "
                "sklearn.multioutput.MultiOutputRegressor)"
            )
        return np.column_stack([contains, position.reshape(n, 3)])

    @available_if(_classifier_has("predict_proba"))
    def predict_proba(self, X):
        """Containment probabilities, shape (n, 2): columns in the order of ``classes_`` (0, 1)."""
        check_is_fitted(self)
        return self.classifier_.predict_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X goes to both parts as is: it may hold what both take
        both = [get_tags(part).input_tags for part in _given_or_default(self)]
        tags.input_tags.allow_nan = all(t.allow_nan for t in both)
        tags.input_tags.sparse = all(t.sparse for t in both)
        return tags


class _PatchCentre(RegressorMixin, BaseEstimator):
    """The "patch centre" guess: offset (0, 0) from the patch centre, the training mean depth.

    Takes ``y`` of shape (n, 3) (east, north, depth: what :class:`EpicentreEstimator` gives its
    regressor) and ignores ``X`` but for its length.
    """

    _parameter_constraints: dict = {}

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        y = check_array(y, dtype=np.float64, input_name="y")
        if y.shape != (_num_samples(X), 3):
            raise ValueError(f"_PatchCentre: y must have shape (n_samples, 3) (east, north, depth), got {y.shape}")
        self.constant_ = np.array([0.0, 0.0, y[:, 2].mean()])
        return self

    def predict(self, X):
        check_is_fitted(self)
        return np.tile(self.constant_, (_num_samples(X), 1))
