"""Splitting and scoring across regions (the QuakeMetaFormer paper's transfer experiment)."""
from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from ..metrics import damage_scores

__all__ = ["RegionTransferSplit", "region_generalization"]

class RegionTransferSplit:
    """Train on one region, test on all the others.

    This is scikit-learn's ``LeaveOneGroupOut`` with the roles of train and test swapped:
    split ``k`` trains on the samples of the ``k``-th region (sorted ids) and tests on the
    samples of every other region, which is how the paper measures generalization to unseen
    regions (train on Kahramanmaras, test on Adiyaman, Osmaniye and Malatya). ``groups`` are
    the region ids of :func:`load_damage`.

    Parameters
    ----------
    train_regions : sequence, optional
        Only produce the splits that train on these regions (default: every region).
    """

    def __init__(self, train_regions=None):
        self.train_regions = train_regions

    def _regions(self, groups):
        if groups is None:
            raise ValueError("RegionTransferSplit needs groups (the region id of every sample)")
        groups = np.asarray(groups)
        present = np.unique(groups)
        if len(present) < 2:
            raise ValueError(f"RegionTransferSplit needs at least 2 regions, got {present.tolist()}")
        if self.train_regions is None:
            return groups, present
        wanted = np.asarray(list(self.train_regions))
        unknown = [r for r in wanted.tolist() if r not in present.tolist()]
        if unknown:
            raise ValueError(f"train_regions {unknown} not among the regions {present.tolist()}")
        return groups, wanted

    def split(self, X=None, y=None, groups=None):
        groups, regions = self._regions(groups)
        for r in regions:
            inside = groups == r
            yield np.flatnonzero(inside), np.flatnonzero(~inside)

    def get_n_splits(self, X=None, y=None, groups=None):
        return len(self._regions(groups)[1])




def region_generalization(estimator, X, y, groups, train_regions=None, test_size=0.3, labels=None,
                          random_state=None):
    """Train on one region, test in that region and on each other region.

    For every training region ``r`` (all, or ``train_regions``): the samples of ``r`` are
    split (stratified where possible) into ``1 - test_size`` for training and ``test_size``
    for an in-region test; a clone of ``estimator`` is fitted on the first part and scored on
    the in-region part and on every other region (all their samples), as in the paper's
    Kahramanmaras experiment. The cross-region splits are those of
    :class:`RegionTransferSplit`.

    Returns
    -------
    list of dict
        One row per (train region, test region) with ``train_region``, ``test_region``,
        ``in_region`` (bool) and the :func:`damage_report` metrics.
    """

    y = np.asarray(y)
    groups = np.asarray(groups)
    labels = np.unique(y) if labels is None else np.asarray(labels)
    rows = []
    for train_idx, other_idx in RegionTransferSplit(train_regions).split(X, y, groups):
        region = groups[train_idx[0]]
        counts = np.bincount(np.searchsorted(labels, y[train_idx]), minlength=len(labels))
        stratify = y[train_idx] if counts[counts > 0].min() >= 2 else None
        fit_idx, held_idx = train_test_split(train_idx, test_size=test_size, stratify=stratify,
                                             random_state=random_state)
        model = clone(estimator).fit(X[fit_idx], y[fit_idx])
        tests = [(region, held_idx, True)] + [
            (g, other_idx[groups[other_idx] == g], False) for g in np.unique(groups[other_idx])]
        for g, idx, inside in tests:
            row = {"train_region": int(region), "test_region": int(g), "in_region": inside}
            row.update(damage_scores(model, X[idx], y[idx], labels))
            rows.append(row)
    return rows

