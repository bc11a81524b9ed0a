"""Calibrated detection probabilities, with the calibration folds drawn by event.

scikit-learn's :class:`~sklearn.calibration.CalibratedClassifierCV` passes ``groups`` to its
splitter only with metadata routing switched on, globally. This subclass takes ``groups`` in
``fit`` and draws the folds by event itself, everything else being scikit-learn's.
"""
from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV

from ._splits import check_groups, make_splits

__all__ = ["GroupCalibratedClassifierCV"]


class GroupCalibratedClassifierCV(CalibratedClassifierCV):
    """:class:`~sklearn.calibration.CalibratedClassifierCV` whose folds keep each event on one side.

    Works for every detection model of the registry (shallow pipelines and deep
    ``QuakeClassifier``): a classifier with ``predict_proba`` or ``decision_function``.
    Parameters, attributes and methods are scikit-learn's; see its documentation.

    Parameters
    ----------
    estimator : classifier, default=None
        Unfitted; ``None`` is scikit-learn's default (``LinearSVC``).
    method : {"sigmoid", "isotonic", "temperature"}, default="sigmoid"
        Isotonic regression needs a few hundred calibration samples per fold; sigmoid (Platt)
        suits smaller sets.
    cv : int, splitter, iterable or None, default=None
        Number of folds (5 when None): ``StratifiedGroupKFold`` (by event, class proportions
        kept) when ``fit`` gets ``groups``, scikit-learn's stratified folds otherwise; or a
        splitter, which receives ``groups``.
    n_jobs, ensemble
        As for scikit-learn's class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skquake.uncertainty import GroupCalibratedClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int); groups = np.arange(200) // 2
    >>> clf = GroupCalibratedClassifierCV(RandomForestClassifier(10, random_state=0), cv=3)
    >>> clf.fit(X, y, groups=groups).predict_proba(X[:1]).shape
    (1, 2)
    """

    def fit(self, X, y, groups=None, sample_weight=None, **fit_params):
        """Fit and calibrate, with folds by event when ``groups`` is given.

        Parameters
        ----------
        X : array-like of shape (n, ...)
        y : array-like of shape (n,)
        groups : array-like of shape (n,), optional
            Event id of each sample.
        sample_weight : array-like of shape (n,), optional
        **fit_params
            Passed to the estimator's ``fit``.

        Returns
        -------
        self
        """
        self._validate_params()  # before cv is read below (a regressor is refused here too)
        owner = type(self).__name__
        if groups is None:
            return super().fit(X, y, sample_weight=sample_weight, **fit_params)
        groups = check_groups(groups, len(y), owner)
        cv = 5 if self.cv is None else self.cv
        # The folds, drawn by event, replace cv for this fit only (scikit-learn takes index pairs).
        splits = make_splits(cv, X, y, groups, kind="folds", random_state=None, owner=owner, stratify=True)
        original = self.cv
        self.cv = splits
        try:
            super().fit(X, y, sample_weight=sample_weight, **fit_params)
        finally:
            self.cv = original
        return self
