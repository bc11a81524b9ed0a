"""``predict_file``: a saved model's predictions on a QuakeSet file, streamed to a CSV file (and,
for a change model, its masks to an HDF5 file)."""
from __future__ import annotations

import csv
import os
from contextlib import ExitStack
from numbers import Integral
from pathlib import Path

import numpy as np

from ..datasets import SPLITS, QuakeSet
from ..models import load_model
from ..utils import StrictInterval, StrOptions, atomic_output, average_pool, validate_params
from ._outputs import MasksFile, prediction_cells, sample_kind

__all__ = ["predict_file"]


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
        "masks": [str, os.PathLike, None],
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def predict_file(model, data, out, *, split="test", batch_size=64, masks=None, overwrite=False) -> int:
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
    masks : path-like, optional
        Change models: also write the predicted masks to this HDF5 file (see Notes), batch by
        batch, all or nothing as ``out``. Refused for other models.
    overwrite : bool, default=False
        Replace an existing ``out`` (and ``masks``) (written to a temporary file, renamed into
        place at the end).

    Returns
    -------
    int
        The number of rows written.

    Notes
    -----
    Columns: ``index`` (the sample's position in the split), ``event_id``, ``patch``,
    ``split`` (the file's split), ``sample`` (``pre/post`` or ``before/pre``), then the
    prediction, by the model's registry task:

    - detection, magnitude: ``label`` or ``magnitude``, and for a classifier with
      ``predict_proba`` the probability of the positive class (``probability``; one
      ``probability_<class>`` column per class when there are more than two); for a model
      saved with an interval (``skquake fit --interval``), ``lower`` and ``upper``: the
      prediction minus and plus the interval's half-width recorded in the manifest.
    - change: ``changed_fraction`` and ``changed_pixels``, of the predicted mask at the
      model's input resolution (pooled as in training). ``masks`` writes the masks themselves:
      ``masks`` uint8 ``(n, H, W)`` (``H, W`` the pooled size), row ``i`` for the CSV's row
      ``i``, with the datasets ``index``, ``event_id``, ``patch``, ``split`` and ``sample``.
    - epicentre: ``contains`` (0 or 1), ``probability`` (of containing the epicentre; empty for
      a model without ``predict_proba``), ``east_km``, ``north_km`` (the predicted epicentre's
      offset from the centre of the patch footprint), ``depth_km``, and that epicentre's
      ``longitude`` and ``latitude`` (degrees, :func:`skquake.utils.offset_lonlat` from the
      footprint centre of the event's ``x`` / ``y`` datasets; empty for an event without
      them). Position and depth are predicted for every row; ``contains`` says whether they
      apply.
    """
    estimator, manifest = load_model(model, return_manifest=True)
    registry_task = manifest["model"]["registry_task"]
    if masks is not None:
        if registry_task != "change":
            raise ValueError(f"masks={str(masks)!r} writes the predicted masks of a change model; {model} holds "
                             f"a model of task {manifest['task']!r} ({registry_task}), which predicts no masks")
        if Path(masks).resolve() == Path(out).resolve():
            raise ValueError(f"masks={str(masks)!r} is the CSV file out; give the masks file another name")
    mode = manifest["input"]["mode"]
    with ExitStack() as stack:
        ds = stack.enter_context(QuakeSet(data, split=split, mode=mode))
        pool = _check_input(ds, manifest, model)
        c, h, w = ds.image_shape
        n = len(ds)
        tmp = stack.enter_context(atomic_output(out, overwrite=overwrite))
        writer = None
        if masks is not None:
            attrs = {"model": manifest["model"]["name"], "task": manifest["task"], "model_file": str(model),
                     "data": str(data), "split": split, "pool": pool}
            writer = stack.enter_context(MasksFile(stack.enter_context(atomic_output(masks, overwrite=overwrite)),
                                                   ds, (h // pool, w // pool), attrs))
        cells = prediction_cells(estimator, manifest, ds, masks=writer)
        f = stack.enter_context(open(tmp, "w", newline="", encoding="utf-8"))
        rows = csv.writer(f)
        rows.writerow(["index", "event_id", "patch", "split", "sample", *cells.columns])
        batch = np.empty((min(batch_size, max(n, 1)), c, h // pool, w // pool), dtype=np.float32)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            X = batch[: stop - start]
            for j, i in enumerate(range(start, stop)):
                average_pool(ds.read_image(i), pool, out=X[j])
            for i, tail in zip(range(start, stop), cells.cells(X, start)):
                rows.writerow([i, ds.groups[i], ds.patches[i], ds.file_splits[i], sample_kind(ds, i), *tail])
    return n
