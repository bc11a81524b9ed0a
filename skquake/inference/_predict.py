"""``predict_file``: a saved model's predictions on a QuakeSet file, streamed to a CSV file."""
from __future__ import annotations

import csv
import os
from numbers import Integral

import numpy as np

from ..datasets import SPLITS, QuakeSet
from ..models import load_model
from ..utils import StrictInterval, StrOptions, atomic_output, average_pool, validate_params

__all__ = ["predict_file"]


def _columns(estimator, manifest):
    """The prediction columns: the target's name, then the class probabilities if any."""
    registry_task = manifest["model"]["registry_task"]
    target = "magnitude" if registry_task == "magnitude" else "label"
    classes = getattr(estimator, "classes_", None)
    if manifest.get("interval") is not None:  # skquake fit --interval: prediction -/+ half_width
        return [target, "lower", "upper"], None
    if classes is None or not hasattr(estimator, "predict_proba"):
        return [target], None
    classes = list(np.asarray(classes).tolist())
    # Two classes: the probability of the positive one (an earthquake); more: one column each.
    names = ["probability"] if len(classes) == 2 else [f"probability_{c}" for c in classes]
    return [target, *names], classes


def _check_input(ds, manifest, model_path):
    """The file's images, pooled as the model was trained, must have the model's input shape."""
    record = manifest["input"]
    pool, shape = int(record["pool"]), record["shape"]
    c, h, w = ds.image_shape
    if shape is None:
        return pool
    if h % pool or w % pool or [c, h // pool, w // pool] != list(shape):
        raise ValueError(
            f"{ds.path} has {ds.mode} images of {c} x {h} x {w}; {model_path} takes {record['mode']} images "
            f"of {shape[0]} x {shape[1] * pool} x {shape[2] * pool} (pooled by {pool} to {shape[0]} x {shape[1]} x "
            f"{shape[2]}): predict with a model trained on images of this size"
        )
    return pool


@validate_params(
    {
        "model": [str, os.PathLike],
        "data": [str, os.PathLike],
        "out": [str, os.PathLike],
        "split": [StrOptions(set(SPLITS))],
        "batch_size": [StrictInterval(Integral, 1, None, closed="left")],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def predict_file(model, data, out, *, split="test", batch_size=64, overwrite=False) -> int:
    """Write the predictions of the saved ``model`` on a QuakeSet file to the CSV file ``out``.

    The file is read lazily, ``batch_size`` samples at a time, in the model's input mode and
    pooled as it was trained (both from the model file's manifest), and each batch's rows are
    written as they come: memory holds one batch. The CSV appears only once complete.

    Parameters
    ----------
    model : path-like
        A ``.skq`` file (:func:`skquake.models.save_model`, ``skquake fit``).
    data : path-like
        A QuakeSet HDF5 file whose images have the size the model was trained on.
    out : path-like
        The CSV file to write; never replaced.
    split : {"train", "val", "test", "all"}, default="test"
    batch_size : int, default=64
    overwrite : bool, default=False
        Replace an existing ``out`` (written to a temporary file, renamed into place at the end).

    Returns
    -------
    int
        The number of rows written.

    Notes
    -----
    Columns: ``index`` (the sample's position in the split), ``event_id``, ``patch``,
    ``split`` (the file's split), ``sample`` (``pre/post`` or ``before/pre``), the prediction
    (``label`` or ``magnitude``), and for a classifier with ``predict_proba`` the probability
    of the positive class (``probability``; one ``probability_<class>`` column per class when
    there are more than two); for a model saved with an interval (``skquake fit
    --interval``), ``lower`` and ``upper``: the prediction minus and plus the interval's
    half-width recorded in the manifest.
    """
    estimator, manifest = load_model(model, return_manifest=True)
    columns, classes = _columns(estimator, manifest)
    half_width = (manifest.get("interval") or {}).get("half_width")
    mode = manifest["input"]["mode"]
    with QuakeSet(data, split=split, mode=mode) as ds, atomic_output(out, overwrite=overwrite) as tmp:
        pool = _check_input(ds, manifest, model)
        c, h, w = ds.image_shape
        n = len(ds)
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["index", "event_id", "patch", "split", "sample", *columns])
            batch = np.empty((min(batch_size, max(n, 1)), c, h // pool, w // pool), dtype=np.float32)
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                X = batch[: stop - start]
                for j, i in enumerate(range(start, stop)):
                    average_pool(ds.read_image(i), pool, out=X[j])
                y_pred = estimator.predict(X)
                proba = estimator.predict_proba(X) if classes is not None else None
                for j, i in enumerate(range(start, stop)):
                    row = [i, ds.groups[i], ds.patches[i], ds.file_splits[i],
                           "before/pre" if ds.labels[i] == 0 else "pre/post", _value(y_pred[j])]
                    if proba is not None:
                        row += [f"{p:.6g}" for p in (proba[j, 1:] if len(classes) == 2 else proba[j])]
                    if half_width is not None:
                        row += [_value(y_pred[j] - half_width), _value(y_pred[j] + half_width)]
                    writer.writerow(row)
    return n


def _value(v):
    v = np.asarray(v).item()
    return f"{v:.6g}" if isinstance(v, float) else v
