"""The data a study tunes on: a QuakeSet file (in memory or as a lazy view) or arrays."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..datasets import QuakeSet, load_quakeset

__all__ = ["TARGETS", "load_data"]

#: Model-registry task -> the target a study of that task reads.
TARGETS = {"magnitude": "magnitude", "detection": "label", "damage": "label"}


def load_data(data, *, task: str, split: str, mode: str, pool: int, lazy: bool = False):
    """``(X, y, groups, description)`` from a QuakeSet path or an ``(X, y, groups)`` tuple.

    ``lazy=True`` gives a :class:`skquake.datasets.LazyImages` view (pixels read per batch, for
    deep nets on files larger than memory) instead of an in-memory array. ``description`` is
    the resolved file path, or None for arrays.
    """
    if isinstance(data, (tuple, list)):
        if len(data) != 3:
            raise ValueError(f"data must be a QuakeSet path or an (X, y, groups) tuple, got {len(data)} items")
        X, y, groups = data
        return X, np.asarray(y), np.asarray(groups), None
    if task not in ("detection", "magnitude"):
        raise ValueError(
            f"a QuakeSet file holds detection and magnitude targets, not {task!r}; "
            "pass the data as an (X, y, groups) tuple"
        )
    path = Path(os.fspath(data)).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"QuakeSet file not found: {path}")
    if lazy:
        if pool != 1:
            raise ValueError(f"lazy loading reads full-resolution images; pool must be 1, got {pool!r}")
        # torch: the lazy views are skorch datasets; imported here so that `import skquake.tuning`
        # stays torch-free (as `skquake.datasets` does).
        from ..datasets import lazy_xy

        X, y, groups = lazy_xy(QuakeSet(path, split=split, mode=mode), target=TARGETS[task])
        return X, y, groups, str(path)
    X, y, groups = load_quakeset(path, split=split, mode=mode, target=TARGETS[task], pool=pool)
    return X, y, groups, str(path)
