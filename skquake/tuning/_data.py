"""The data a study tunes on: a QuakeSet file or cache folder (in memory or as a lazy view) or arrays."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..datasets import (
    MissingEpicentresError,
    check_quakeset_source,
    load_change,
    load_epicentre,
    load_quakeset,
    open_quakeset,
)

__all__ = ["TARGETS", "load_data"]

#: Model-registry task -> the target a study of that task reads.
TARGETS = {"magnitude": "magnitude", "detection": "label", "change": "masks", "epicentre": "epicentre", "damage": "label"}


def load_data(data, *, task: str, split: str, mode: str, pool: int, lazy: bool = False, epicentres=None):
    """``(X, y, groups, description)`` from a QuakeSet file or cache folder, or ``(X, y, groups)``.

    ``lazy=True`` gives a :class:`skquake.datasets.LazyImages` view (pixels read per batch, for
    deep nets on files larger than memory) instead of an in-memory array. ``description`` is
    the resolved file path, or None for arrays. ``epicentres``: the epicentre table of an
    epicentre study on a file (``load_epicentre(table=...)``).
    """
    if epicentres is not None and (task != "epicentre" or isinstance(data, (tuple, list))):
        raise ValueError(
            f"epicentres={os.fspath(epicentres)!r} is the epicentre table of a QuakeSet file for epicentre models; "
            + (f"this is a {task} model" if task != "epicentre" else "with (X, y, groups) arrays, y already holds "
               "the epicentre targets"))
    if isinstance(data, (tuple, list)):
        if len(data) != 3:
            raise ValueError(f"data must be a QuakeSet path or an (X, y, groups) tuple, got {len(data)} items")
        X, y, groups = data
        return X, np.asarray(y), np.asarray(groups), None
    if task not in ("detection", "magnitude", "change", "epicentre"):
        raise ValueError(
            f"a QuakeSet file holds detection, magnitude, change and epicentre targets, not {task!r}; "
            "pass the data as an (X, y, groups) tuple"
        )
    path = Path(os.fspath(data)).expanduser().resolve()
    check_quakeset_source(path)  # a QuakeSet file or a decoded cache folder
    if task in ("change", "epicentre"):
        if lazy:
            raise ValueError(f"lazy=True is not available for the {task} task; load the split in memory (pool >= 1)")
        if task == "change":
            if mode != "bitemporal":
                raise ValueError(f"change detection needs two dates: mode must be 'bitemporal', got {mode!r}")
            # scored against the generator's masks: tuning needs a file that has them
            X, y, groups = load_change(path, split=split, pool=pool, masks="required")
        else:
            try:
                X, y, groups = load_epicentre(path, split=split, mode=mode, pool=pool, table=epicentres)
            except MissingEpicentresError as exc:
                # the reader names its own keyword; a study takes the table as epicentres= / --epicentres
                raise MissingEpicentresError(f"{exc} (in a study: tune(..., epicentres=TABLE), skquake tune "
                                          "--epicentres TABLE)", path=exc.path, key=exc.key) from None
        return X, y, groups, str(path)
    if lazy:
        if pool != 1:
            raise ValueError(f"lazy loading reads full-resolution images; pool must be 1, got {pool!r}")
        # torch: the lazy views are skorch datasets; imported here so that `import skquake.tuning`
        # stays torch-free (as `skquake.datasets` does).
        from ..datasets import lazy_xy

        X, y, groups = lazy_xy(open_quakeset(path, split=split, mode=mode), target=TARGETS[task])
        return X, y, groups, str(path)
    X, y, groups = load_quakeset(path, split=split, mode=mode, target=TARGETS[task], pool=pool)
    return X, y, groups, str(path)
