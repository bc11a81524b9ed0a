"""Class weights of the damage models' losses (torch-free)."""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ...utils import StrictInterval, validate_params

__all__ = ["balanced_class_weights"]


@validate_params(
    {"y": ["array-like"], "n_classes": [None, StrictInterval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def balanced_class_weights(y, n_classes=None) -> np.ndarray:
    """Inverse-frequency class weights ``n / (K * n_k)`` of encoded labels ``0..K-1``.

    These are scikit-learn's ``class_weight="balanced"`` weights and the paper's: with its
    class shares (73.4 / 19.8 / 2.5 / 4.3 %) they are 0.34 / 1.26 / 9.8 / 5.85.
    A class absent from ``y`` gets weight 0.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Encoded labels ``0..K-1``.
    n_classes : int, optional
        ``K`` (default: the largest label plus one).

    Returns
    -------
    ndarray of shape (K,)

    Examples
    --------
    >>> balanced_class_weights([0, 0, 0, 1])
    array([0.66666667, 2.        ])
    """
    y = np.asarray(y, dtype=np.int64)
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = np.where(counts > 0, len(y) / (k * counts), 0.0)
    return w
