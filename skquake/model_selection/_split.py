"""Cross-validation by earthquake event, and the QuakeSet file's own split as a cv.

Patches of one earthquake look alike (same place, same dates): a random K-fold puts them on
both sides and overestimates every model. Split by event instead, with the ``groups``
(event ids) that :func:`skquake.load_quakeset` returns::

    X, y, groups = load_quakeset(path, split="train", target="magnitude", pool=4)
    cross_val_score(model, X, y, groups=groups, cv=EventKFold(5), scoring=get_scorer("neg_mae"))

or select on the file's validation split, as the papers do::

    X, y, groups, cv = file_split(path, target="magnitude", pool=4)
    GridSearchCV(model, grid, cv=cv).fit(X, y)   # refits on train + val
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, PredefinedSplit

from ..datasets import load_quakeset

__all__ = ["EventKFold", "file_split", "predefined_split"]


class EventKFold(GroupKFold):
    """K-fold with all samples of an earthquake event in the same fold.

    :class:`sklearn.model_selection.GroupKFold` under a name that says what the groups are;
    ``split`` requires ``groups`` (the event ids from :func:`skquake.load_quakeset` or
    ``QuakeSet.groups``) and fails with a clear message without them.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; at most the number of events.
    shuffle : bool, default=False
        Shuffle the events before assigning them to folds.
    random_state : int or None, default=None
        Seed of the shuffle.
    """

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError(
                "EventKFold.split needs groups=<event id of each sample> (the third value returned "
                "by skquake.load_quakeset, or QuakeSet.groups)"
            )
        n_events = len(np.unique(np.asarray(groups)))
        if self.n_splits > n_events:
            raise ValueError(
                f"EventKFold(n_splits={self.n_splits}) needs at least {self.n_splits} events, got {n_events}"
            )
        return super().split(X, y, groups)


def predefined_split(splits):
    """A cv that trains on the ``"train"`` samples and validates on the others.

    Parameters
    ----------
    splits : array-like of str, shape (n,)
        Split of each sample: ``"train"``, or ``"val"`` / ``"validation"``.

    Returns
    -------
    sklearn.model_selection.PredefinedSplit
        One split: train indices = the ``"train"`` samples, test indices = the validation
        samples.
    """
    splits = np.asarray(splits).astype(str)
    unknown = sorted(set(splits.tolist()) - {"train", "val", "validation"})
    if unknown:
        raise ValueError(
            f"predefined_split: unknown split name(s) {unknown}; expected 'train' and 'val'/'validation' "
            "(keep test samples out of model selection)"
        )
    is_val = splits != "train"
    if not is_val.any() or is_val.all():
        raise ValueError("predefined_split needs both 'train' and validation samples")
    return PredefinedSplit(np.where(is_val, 0, -1))


def file_split(path, mode="bitemporal", target="label", pool=1, fill_value=0.0):
    """The file's train and validation splits, concatenated, with a cv that selects on val.

    Parameters
    ----------
    path : str or path-like
        QuakeSet HDF5 file.
    mode, target, pool, fill_value
        As for :func:`skquake.load_quakeset`.

    Returns
    -------
    X : ndarray of float32, shape (n_train + n_val, C, H // pool, W // pool)
        Train samples first, then validation samples.
    y : ndarray of shape (n_train + n_val,)
    groups : ndarray of str
        Event ids.
    cv : sklearn.model_selection.PredefinedSplit
        One split, train -> validation. ``GridSearchCV(..., cv=cv)`` selects on the validation
        split and refits the best model on train + validation.
    """
    parts = [load_quakeset(path, split=s, mode=mode, target=target, pool=pool, fill_value=fill_value)
             for s in ("train", "val")]
    (X_tr, y_tr, g_tr), (X_va, y_va, g_va) = parts
    if len(y_tr) == 0 or len(y_va) == 0:
        raise ValueError(f"{path}: file_split needs samples in both the train and validation splits "
                         f"(got {len(y_tr)} and {len(y_va)})")
    splits = np.array(["train"] * len(y_tr) + ["val"] * len(y_va))
    X = np.concatenate([X_tr, X_va])
    del X_tr, X_va
    return X, np.concatenate([y_tr, y_va]), np.concatenate([g_tr, g_va]), predefined_split(splits)
