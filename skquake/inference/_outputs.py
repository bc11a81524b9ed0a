"""What :func:`~skquake.inference.predict_file` writes for each kind of model: the prediction
columns of its CSV rows and, for a change model, the masks file.

One class per registry task of the model, each with ``columns`` (the CSV header after the index
columns) and ``cells(X, start)`` (the cells of those columns for the batch ``X``, the samples
``start, start + 1, ...`` of the split).
"""
from __future__ import annotations

import h5py
import numpy as np

from ..datasets import EPICENTRE_COLUMNS, read_patch_centres
from ..utils import offset_lonlat

__all__ = ["MasksFile", "prediction_cells", "sample_kind"]


def sample_kind(ds, i) -> str:
    """``"pre/post"`` (the pair around the event) or ``"before/pre"`` (the pair before it)."""
    return "before/pre" if ds.labels[i] == 0 else "pre/post"


def _value(v):
    v = np.asarray(v).item()
    return f"{v:.6g}" if isinstance(v, float) else v


class _LabelCells:
    """Detection and magnitude models: the prediction (``label`` or ``magnitude``), then the class
    probabilities if any, or the interval of a model saved with one."""

    def __init__(self, estimator, manifest):
        self.estimator = estimator
        target = "magnitude" if manifest["model"]["registry_task"] == "magnitude" else "label"
        self.half_width = (manifest.get("interval") or {}).get("half_width")
        classes = getattr(estimator, "classes_", None)
        self.classes = None
        if self.half_width is not None:  # skquake fit --interval: prediction -/+ half_width
            self.columns = [target, "lower", "upper"]
        elif classes is None or not hasattr(estimator, "predict_proba"):
            self.columns = [target]
        else:
            self.classes = list(np.asarray(classes).tolist())
            # Two classes: the probability of the positive one (an earthquake); more: one column each.
            names = (["probability"] if len(self.classes) == 2
                     else [f"probability_{c}" for c in self.classes])
            self.columns = [target, *names]

    def cells(self, X, start):
        y_pred = self.estimator.predict(X)
        proba = self.estimator.predict_proba(X) if self.classes is not None else None
        out = []
        for j in range(len(X)):
            row = [_value(y_pred[j])]
            if proba is not None:
                row += [f"{p:.6g}" for p in (proba[j, 1:] if len(self.classes) == 2 else proba[j])]
            if self.half_width is not None:
                row += [_value(y_pred[j] - self.half_width), _value(y_pred[j] + self.half_width)]
            out.append(row)
        return out


class _ChangeCells:
    """Change models: per sample the number and fraction of pixels predicted changed; the masks
    themselves go to ``masks`` (a :class:`MasksFile`) when given."""

    columns = ("changed_fraction", "changed_pixels")

    def __init__(self, estimator, masks=None):
        self.estimator, self.masks = estimator, masks

    def cells(self, X, start):
        masks = np.asarray(self.estimator.predict(X))
        if masks.shape != (len(X), *X.shape[2:]):
            raise ValueError(f"{type(self.estimator).__name__} predicted an array of shape {masks.shape} for "
                             f"{len(X)} pairs of {X.shape[2]} x {X.shape[3]} pixels; a change model predicts "
                             "one mask (n, H, W) per pair")
        if self.masks is not None:
            self.masks.write(start, masks)
        changed = np.count_nonzero(masks.reshape(len(masks), -1), axis=1)
        size = masks[0].size if len(masks) else 1
        return [[f"{c / size:.6g}", int(c)] for c in changed]


class _EpicentreCells:
    """Epicentre models: ``[contains, east_km, north_km, depth_km]``, the containment probability
    (models with ``predict_proba``) and the predicted epicentre's longitude and latitude, placed
    from the centre of the sample's patch footprint (empty where the file has no coordinates)."""

    columns = (EPICENTRE_COLUMNS[0], "probability", *EPICENTRE_COLUMNS[1:], "longitude", "latitude")

    def __init__(self, estimator, ds):
        self.estimator, self.ds = estimator, ds
        self.centres = read_patch_centres(ds)
        self.positive = None
        if hasattr(estimator, "predict_proba"):
            classes = getattr(estimator, "classes_", None)
            classes = [] if classes is None else np.asarray(classes).tolist()
            # the column of "contains the epicentre" (class 1), else the last one
            self.positive = classes.index(1) if 1 in classes else -1

    def cells(self, X, start):
        y_pred = np.asarray(self.estimator.predict(X), dtype=np.float64)
        if y_pred.shape != (len(X), len(EPICENTRE_COLUMNS)):
            raise ValueError(f"{type(self.estimator).__name__} predicted an array of shape {y_pred.shape}; an "
                             f"epicentre model predicts (n, 4): {', '.join(EPICENTRE_COLUMNS)}")
        proba = (np.asarray(self.estimator.predict_proba(X))[:, self.positive]
                 if self.positive is not None else None)
        out = []
        for j, i in enumerate(range(start, start + len(X))):
            contains, east, north, depth = y_pred[j]
            centre = self.centres.get((str(self.ds.groups[i]), str(self.ds.patches[i])))
            if centre is None:
                place = ["", ""]
            else:
                lon, lat = offset_lonlat(*centre, east, north)
                place = [f"{float(lon):.6f}", f"{float(lat):.6f}"]
            out.append([int(contains), "" if proba is None else f"{proba[j]:.6g}",
                        _value(east), _value(north), _value(depth), *place])
        return out


def prediction_cells(estimator, manifest, ds, masks=None):
    """The cells writer of the model's registry task (``masks``: change models only)."""
    task = manifest["model"]["registry_task"]
    if task == "change":
        return _ChangeCells(estimator, masks)
    if task == "epicentre":
        return _EpicentreCells(estimator, ds)
    return _LabelCells(estimator, manifest)


class MasksFile:
    """The predicted change masks of a split, written batch by batch to an HDF5 file.

    Datasets: ``masks`` uint8 ``(n, H, W)`` (1: changed) at the model's input resolution, and
    one entry per mask in ``index``, ``event_id``, ``patch``, ``split`` and ``sample`` (the
    CSV's index columns). ``attrs`` become the file's attributes.
    """

    def __init__(self, path, ds, shape, attrs):
        self.ds = ds
        self.file = h5py.File(path, "w")
        n = len(ds)
        for name, value in attrs.items():
            self.file.attrs[name] = value
        self.masks = self.file.create_dataset(
            "masks", shape=(n, *shape), dtype=np.uint8, chunks=(1, *shape) if n else None,
            compression="gzip" if n else None)
        self.masks.attrs["description"] = "predicted change masks, 1 = changed; row i is the CSV's row i"
        self.columns = {"index": self.file.create_dataset("index", shape=(n,), dtype=np.int64)}
        for name in ("event_id", "patch", "split", "sample"):
            self.columns[name] = self.file.create_dataset(name, shape=(n,), dtype=h5py.string_dtype())

    def write(self, start, masks):
        stop = start + len(masks)
        ds = self.ds
        self.masks[start:stop] = masks.astype(np.uint8, copy=False)
        self.columns["index"][start:stop] = np.arange(start, stop)
        self.columns["event_id"][start:stop] = ds.groups[start:stop].astype(object)
        self.columns["patch"][start:stop] = ds.patches[start:stop].astype(object)
        self.columns["split"][start:stop] = ds.file_splits[start:stop].astype(object)
        self.columns["sample"][start:stop] = np.array([sample_kind(ds, i) for i in range(start, stop)], dtype=object)

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
