"""The epicentre targets ``y`` (n, 4) that every epicentre estimator takes, checked in one place,
and the mixin that marks those estimators."""
from __future__ import annotations

import numpy as np

from ...datasets import EPICENTRE_COLUMNS, check_epicentre_array

__all__ = ["EPICENTRE_COLUMNS", "EpicentreMixin", "check_epicentre_targets"]

class EpicentreMixin:
    """Marks an estimator of the epicentre tasks (QuakeSet tasks 3 and 7).

    Such an estimator fits ``y`` of shape ``(n, 4)`` in :data:`EPICENTRE_COLUMNS` order
    (checked by :func:`check_epicentre_targets`), ``predict`` returns the same columns and
    ``predict_proba`` the ``(n, 2)`` containment probabilities. Code that treats epicentre
    models apart (scene maps, the command line) tests ``isinstance(est, EpicentreMixin)``: this
    module is torch-free, so the test does not import the deep estimator. Put it first among
    the bases (its tags then apply on top of the estimator's own).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags


#: scikit-learn estimator checks that every epicentre estimator fails on the shape of their y.
Y_CHECKS = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_pickle", "check_estimators_pickle(readonly_memmap=True)",
    "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent",
    "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
)



def check_epicentre_targets(y, n_samples, owner):
    """Check ``y`` against the epicentre convention; return it as float64 and its contains mask.

    Containment (column 0) must be 0 or 1 on every row; position and depth (columns 1-3) must
    be finite where it is 1 and are ignored elsewhere (NaN for negatives, "cannot be
    determined" for patches that do not contain the epicentre). At least one row must
    contain the epicentre, or position and depth cannot be learned.

    Parameters
    ----------
    y : array-like of shape (n_samples, 4)
    n_samples : int
        Number of samples of ``X``.
    owner : str
        The estimator, for the messages.

    Returns
    -------
    y : ndarray of shape (n_samples, 4), float64 (a copy)
    contains : ndarray of shape (n_samples,), bool

    Raises
    ------
    ValueError
        Naming the expected columns, the shape found, or the column and rows at fault.
    """
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None "
                         f"(y: (n_samples, 4) with the columns {EPICENTRE_COLUMNS})")
    y, contains = check_epicentre_array(y, f"{owner}: y", located=True)
    if len(y) != n_samples:
        raise ValueError(f"{owner}: X has {n_samples} samples but y has {len(y)}")
    if not contains.any():
        raise ValueError(
            f"{owner}: no row of y has {EPICENTRE_COLUMNS[0]}=1: position and depth are learned from the "
            "patches that contain the epicentre, and there are none"
        )
    return y, contains


def y_checks_reason(checks):
    """``{check: reason}`` for scikit-learn estimator checks that fail on the shape of their ``y``.

    The checks fit with 1-D (or one-column) targets, which an epicentre estimator refuses,
    before it looks at X, with the error naming the (n, 4) columns; a check that expects
    another message (complex, empty or sparse X, one sample) fails on it too. The common
    tests read these as expected failures.
    """
    reason = (f"y must be (n, 4) with the columns {EPICENTRE_COLUMNS}; the check fits with 1-D or one-column "
              "targets (tests/models/test_epicentre.py runs the checks through an adapter of the targets)")
    return dict.fromkeys(checks, reason)
