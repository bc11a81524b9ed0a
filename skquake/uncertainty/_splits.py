"""Calibration splits that keep each event on one side.

Patches of one earthquake share its signal and its noise: a calibration set that holds patches
of a training event sees residuals smaller than a new earthquake's, and its intervals come out
too narrow. With ``groups`` (event ids) every split here is by event.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    check_cv,
)

__all__ = ["check_groups", "make_splits"]


def check_groups(groups, n_samples, owner):
    """``groups`` as a 1-D array of ``n_samples`` entries (or None), with a message naming ``owner``."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_samples:
        raise ValueError(f"{owner}: groups must hold one event id per sample, {n_samples} in all; got shape "
                         f"{groups.shape}")
    return groups


def _check_enough_groups(n_splits, groups, owner, what):
    n_events = np.unique(groups).size
    if n_splits > n_events:
        raise ValueError(f"{owner}: {what} splits by event, and groups holds {n_events} event(s); "
                         f"{n_splits} folds need at least {n_splits}")


def make_splits(cv, X, y, groups, *, kind, random_state, owner, stratify=False):
    """``[(train, held_out), ...]`` index pairs from ``cv``, by event when ``groups`` is given.

    Parameters
    ----------
    cv : float, int, splitter or iterable
        ``kind="split"``: the held-out fraction, a float in (0, 1) (of the events when
        ``groups`` is given), or a splitter / iterable whose first split is used.
        ``kind="folds"``: the number of folds, an int >= 2, or a splitter / iterable.
    X, y : the data (only their length, and the splitter's own use of them, matter).
    groups : array of shape (n,) or None
    kind : {"split", "folds"}
    random_state : int, RandomState or None
        Shuffles the samples (events) before a fraction or folds are drawn.
    owner : str
        Who asks, for the messages.
    stratify : bool, default=False
        Folds by event that keep the class proportions (``StratifiedGroupKFold``), for
        classifiers.
    """
    if isinstance(cv, Real) and not isinstance(cv, Integral):
        if kind != "split":
            raise ValueError(f"{owner}: cv={cv!r} is a calibration fraction, which only method='split' takes; "
                             "method='cross' takes a number of folds (an int >= 2) or a splitter")
        splitter = (ShuffleSplit if groups is None else GroupShuffleSplit)(
            n_splits=1, test_size=cv, random_state=random_state)
    elif isinstance(cv, Integral):
        if kind != "folds":
            raise ValueError(f"{owner}: cv={cv!r} is a number of folds, which only method='cross' takes; "
                             "method='split' takes the calibration fraction (a float in (0, 1)) or a splitter")
        if groups is None:
            splitter = KFold(n_splits=cv, shuffle=True, random_state=random_state)
        else:
            _check_enough_groups(cv, groups, owner, f"cv={cv}")
            splitter = (StratifiedGroupKFold if stratify else GroupKFold)(
                n_splits=cv, shuffle=True, random_state=random_state)
    else:
        splitter = check_cv(cv)  # a splitter, or an iterable of (train, test) wrapped as one
    splits = [(np.asarray(train), np.asarray(test)) for train, test in splitter.split(X, y, groups)]
    if not splits:
        raise ValueError(f"{owner}: cv={cv!r} produced no split")
    return splits[:1] if kind == "split" else splits
