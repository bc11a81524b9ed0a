"""The epicentre targets ``y`` (n, 4) that every epicentre estimator takes, checked in one place."""
from __future__ import annotations

import numpy as np

from ...datasets import EPICENTRE_COLUMNS

__all__ = ["EPICENTRE_COLUMNS", "check_epicentre_targets"]

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
    expected = f"(n_samples, 4) with the columns {EPICENTRE_COLUMNS}"
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None (y: {expected})")
    try:
        y = np.array(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: y must be a numeric array of shape {expected}") from None
    if y.ndim != 2 or y.shape[1] != len(EPICENTRE_COLUMNS):
        raise ValueError(f"{owner}: y must have shape {expected}, got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"{owner}: X has {n_samples} samples but y has {len(y)}")
    contains = y[:, 0]
    bad = ~np.isin(contains, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"{owner}: y's column 0 ({EPICENTRE_COLUMNS[0]!r}) must be 0 or 1, got {contains[bad][:3].tolist()} "
            f"at rows {np.flatnonzero(bad)[:3].tolist()}"
        )
    contains = contains == 1.0
    if not contains.any():
        raise ValueError(
            f"{owner}: no row of y has {EPICENTRE_COLUMNS[0]}=1: position and depth are learned from the "
            "patches that contain the epicentre, and there are none"
        )
    for j in range(1, len(EPICENTRE_COLUMNS)):
        missing = contains & ~np.isfinite(y[:, j])
        if missing.any():
            raise ValueError(
                f"{owner}: y's column {j} ({EPICENTRE_COLUMNS[j]!r}) must be finite where "
                f"{EPICENTRE_COLUMNS[0]}=1, got {y[missing, j][:3].tolist()} at rows "
                f"{np.flatnonzero(missing)[:3].tolist()}"
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
