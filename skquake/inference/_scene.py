"""Predicting on a new Sentinel-1 scene: tiles of a pre / post GRD pair through a fitted model.

:func:`predict_scene` reads two co-registered GeoTIFFs (or open rasterio datasets) strip by
strip, cuts each strip into tiles of the model's input size with overlap, predicts the tiles in
batches and writes, window by window, georeferenced outputs in the scene's CRS:

* ``probability.tif`` (a classifier: probability of the positive class) or ``magnitude.tif``
  (a regressor), one pixel per tile step, float32, NaN where a tile was skipped;
* ``tiles.csv`` and ``tiles.geojson``: the tiles whose value is at least ``threshold``, with
  their polygon in the scene's CRS;
* ``change_mask.tif`` where a ``change_model`` is given: a full-resolution uint8 mask
  (1 changed, 0 unchanged, 255 no-data), overlapping tiles merged with centre weights.

:func:`predict_scene_arrays` does the same on arrays in memory and returns arrays.

Conventions, the ones the models were trained with (:mod:`skquake.datasets`): the model input
is linear sigma0 (dB input is converted; every skquake model converts to dB itself), bitemporal
tiles are ``[t0 VV, t0 VH, t1 VV, t1 VH]`` (pre, then post), single tiles the post scene's
``[VV, VH]``; a tile with more than ``max_nodata`` of its pixels no-data (NaN or the dataset's
nodata value, in any band of either scene) is skipped, the no-data pixels of the others are
filled with 0.0, QuakeSet's ``fill_value``, before pooling.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted

from ..utils import (
    HasMethods,
    Interval,
    StrictInterval,
    StrOptions,
    atomic_output,
    average_pool,
    check_input_file,
    fill_nan,
    import_optional,
    validate_params,
)
from ._scene_grid import ArrayScene, ChangeMerger, RasterScene, TileGrid, detect_units, grid_description

__all__ = ["FILL_VALUE", "OUTPUT_FILES", "predict_scene", "predict_scene_arrays"]

#: Value of the no-data pixels of a kept tile: QuakeSet's ``fill_value`` (what the models saw).
FILL_VALUE = 0.0
#: Channels of a tile per mode, in the QuakeSet order.
MODE_CHANNELS = {"bitemporal": ("t0_VV", "t0_VH", "t1_VV", "t1_VH"), "single": ("VV", "VH")}
#: Output key -> file name in ``out_dir``.
OUTPUT_FILES = {"probability": "probability.tif", "magnitude": "magnitude.tif",
                "change_mask": "change_mask.tif", "csv": "tiles.csv", "geojson": "tiles.geojson"}
CHANGE_NODATA = 255
CSV_COLUMNS = ("tile_row", "tile_col", "row_off", "col_off", "size", "value", "centre_x", "centre_y")

_PARAMETERS = {
    "estimator": [HasMethods(["predict"])],
    "tile_size": [None, StrictInterval(Integral, 1, None, closed="left")],
    "overlap": [StrictInterval(Real, 0, 1, closed="left")],
    "pool": [StrictInterval(Integral, 1, None, closed="left")],
    "mode": [StrOptions(set(MODE_CHANNELS))],
    "units": [StrOptions({"auto", "linear", "db"})],
    "threshold": [StrictInterval(Real, None, None, closed="neither")],
    "change_model": [None, HasMethods(["predict"]), callable],
    "batch_size": [StrictInterval(Integral, 1, None, closed="left")],
    "max_nodata": [Interval(Real, 0, 1, closed="both")],
}


# ----------------------------------------------------------------------------- the model
def _model_input(estimator, mode, tile_size, pool):
    """``(tile edge in scene pixels, model input shape (C, H, W))``, checked against ``mode``."""
    check_is_fitted(estimator)
    name = type(estimator).__name__
    shape = getattr(estimator, "input_shape_", None)
    if shape is None and hasattr(estimator, "steps"):  # a Pipeline: its first step (ToImages) knows
        shape = getattr(estimator.steps[0][1], "input_shape_", None)
    channels = MODE_CHANNELS[mode]
    if shape is None:
        if tile_size is None:
            raise ValueError(f"{name} does not say its input size (no input_shape_); pass tile_size=")
        if tile_size % pool:
            raise ValueError(f"tile_size={tile_size} is not a multiple of pool={pool}")
        return tile_size, (len(channels), tile_size // pool, tile_size // pool)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 2:
        raise ValueError(f"{name} was fitted on input of shape {shape}; scene prediction needs a model "
                         "fitted on square images (C, H, H)")
    if shape[0] != len(channels):
        other = next(m for m, c in MODE_CHANNELS.items() if len(c) == shape[0]) if shape[0] in (2, 4) else None
        raise ValueError(f"{name} takes {shape[0]} channels, but mode={mode!r} makes {len(channels)} "
                         f"({', '.join(channels)})" + (f"; pass mode={other!r}" if other else ""))
    tile = shape[1] * pool
    if tile_size is not None and tile_size != tile:
        raise ValueError(f"tile_size={tile_size} does not match {name}'s input: {shape[1]} x {shape[2]} "
                         f"pixels at pool={pool} are {tile} scene pixels; leave tile_size=None")
    return tile, shape


def _output_kind(estimator):
    name = type(estimator).__name__
    if is_classifier(estimator):
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"{name} is a classifier without predict_proba (an SVC needs probability=True); "
                             "a detection map needs probabilities")
        return "probability"
    if is_regressor(estimator):
        return "magnitude"
    raise ValueError(f"{name} is neither a classifier (detection) nor a regressor (magnitude)")


def _tile_values(estimator, kind, X):
    if kind == "magnitude":
        return np.asarray(estimator.predict(X), dtype=np.float32).reshape(len(X))
    classes = list(estimator.classes_)
    positive = classes.index(1) if 1 in classes else len(classes) - 1
    return np.asarray(estimator.predict_proba(X))[:, positive].astype(np.float32)


def _change_masks(change_model, X, pool):
    """Per-pixel masks ``(n, tile, tile)`` at scene resolution, from ``change_model`` on ``X``."""
    predict = change_model.predict if hasattr(change_model, "predict") else change_model
    masks = np.asarray(predict(X), dtype=np.float32)
    n, _, h, w = X.shape
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.shape != (n, h, w):
        raise ValueError(f"change_model returned an array of shape {masks.shape} for {n} tile(s) of "
                         f"{h} x {w} pixels; expected per-pixel masks of shape ({n}, {h}, {w}) or ({n}, 1, {h}, {w})")
    return masks.repeat(pool, axis=1).repeat(pool, axis=2) if pool > 1 else masks


# ----------------------------------------------------------------------------- the tile loop
def _run(estimator, scenes, grid, pool, kind, change_model, batch_size, max_nodata, sink):
    """Predict every tile of ``grid``, one strip of tiles at a time, and hand the results to ``sink``."""
    g = grid
    merger = ChangeMerger(g) if change_model is not None else None
    for r in range(g.n_rows):
        strip = np.concatenate([s.read_strip(r * g.step, g.tile, g.padded_width) for s in scenes])
        invalid = np.isnan(strip).any(axis=0)
        keep = [c for c in range(g.n_cols)
                if invalid[:, c * g.step: c * g.step + g.tile].mean() <= max_nodata]
        fill_nan(strip, FILL_VALUE, copy=False)
        values = np.full(g.n_cols, np.nan, dtype=np.float32)
        for start in range(0, len(keep), batch_size):
            cols = keep[start: start + batch_size]
            X = np.stack([strip[:, :, c * g.step: c * g.step + g.tile] for c in cols])
            X = average_pool(X, pool) if pool > 1 else X
            values[cols] = _tile_values(estimator, kind, X)
            if merger is not None:
                for c, mask in zip(cols, _change_masks(change_model, X, pool)):
                    merger.add(c, mask)
        sink.tile_row(r, values)
        if merger is not None:
            sink.change_rows(*merger.finish_rows(r, invalid))


def _tile_record(grid, transform, row, col, value):
    y, x, size = row * grid.step, col * grid.step, grid.tile
    record = {"tile_row": row, "tile_col": col, "row_off": y, "col_off": x, "size": size,
              "value": float(value), "centre_x": None, "centre_y": None}
    if transform is not None:
        corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
        record["polygon"] = [tuple(float(v) for v in transform @ corner) for corner in corners]
        record["centre_x"], record["centre_y"] = (float(v) for v in transform @ (x + size / 2, y + size / 2))
    return record


class _ArraySink:
    def __init__(self, grid, kind, transform, threshold, change):
        self.grid, self.kind, self.transform, self.threshold = grid, kind, transform, threshold
        self.values = np.full((grid.n_rows, grid.n_cols), np.nan, dtype=np.float32)
        self.tiles = []
        self.change = np.empty((grid.height, grid.width), dtype=np.uint8) if change else None

    def tile_row(self, row, values):
        self.values[row] = values
        self.tiles += [_tile_record(self.grid, self.transform, row, c, v)
                       for c, v in enumerate(values) if v >= self.threshold]

    def change_rows(self, first, mask):
        self.change[first: first + len(mask)] = mask


class _FileSink:
    """Writes each tile row and each finished strip of the change mask as soon as it is known."""

    def __init__(self, grid, kind, transform, threshold, crs, paths, tags, overwrite):
        self.grid, self.kind, self.transform, self.threshold = grid, kind, transform, threshold
        self.crs, self.paths, self.tags, self.overwrite = crs, paths, tags, overwrite
        self.n_tiles = 0

    def __enter__(self):
        # Every output is a temporary file until all are complete (atomic_output): an error or
        # an interruption leaves none behind, and an existing output is refused before any work.
        rasterio = import_optional("rasterio", extra="geo")
        grid, kind, transform, crs, tags = self.grid, self.kind, self.transform, self.crs, self.tags
        self.stack = contextlib.ExitStack().__enter__()
        try:
            self._open(rasterio, grid, kind, transform, crs, tags)
        except BaseException:
            self.stack.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.geojson.write("\n]}\n")
        return self.stack.__exit__(*exc)

    def _open(self, rasterio, grid, kind, transform, crs, tags):
        tmp = {key: self.stack.enter_context(atomic_output(path, overwrite=self.overwrite))
               for key, path in self.paths.items()}
        base = {"driver": "GTiff", "count": 1, "crs": crs, "compress": "deflate"}
        self.values = self.stack.enter_context(rasterio.open(
            tmp[kind], "w", height=grid.n_rows, width=grid.n_cols, dtype="float32", nodata=np.nan,
            transform=grid.tile_transform(transform), **base))
        self.values.update_tags(**tags, skquake_output=kind)
        self.change = None
        if "change_mask" in tmp:
            self.change = self.stack.enter_context(rasterio.open(
                tmp["change_mask"], "w", height=grid.height, width=grid.width, dtype="uint8",
                nodata=CHANGE_NODATA, transform=transform, tiled=True, blockxsize=256, blockysize=256, **base))
            self.change.update_tags(**tags, skquake_output="change_mask")
        self.csv_file = self.stack.enter_context(tmp["csv"].open("w", newline="", encoding="utf-8"))
        self.csv = csv.writer(self.csv_file)
        self.csv.writerow(CSV_COLUMNS)
        self.geojson = self.stack.enter_context(tmp["geojson"].open("w", encoding="utf-8"))
        epsg = crs.to_epsg() if crs is not None else None
        header = {"type": "FeatureCollection", "name": "skquake_tiles"}
        if epsg:  # GeoJSON's legacy crs member: GDAL and QGIS read the tiles in the scene's CRS
            header["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
        self.geojson.write(json.dumps(header)[:-1] + ', "features": [\n')

    def tile_row(self, row, values):
        from rasterio.windows import Window  # optional: the geo extra

        self.values.write(values[None, None, :], window=Window(0, row, self.grid.n_cols, 1))
        for col, value in enumerate(values):
            if value >= self.threshold:
                record = _tile_record(self.grid, self.transform, row, col, value)
                self.csv.writerow([record[k] for k in CSV_COLUMNS])
                feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [record.pop("polygon")]},
                           "properties": {k: record[k] for k in CSV_COLUMNS[:6]}}
                self.geojson.write(("" if self.n_tiles == 0 else ",\n") + json.dumps(feature))
                self.n_tiles += 1

    def change_rows(self, first, mask):
        from rasterio.windows import Window  # optional: the geo extra

        self.change.write(mask[None], window=Window(0, first, mask.shape[1], mask.shape[0]))


# ----------------------------------------------------------------------------- public API
def _prepare(estimator, scenes, mode, tile_size, overlap, pool, units):
    """Check the model against the mode, detect units, and lay the tile grid over the scene."""
    tile, _ = _model_input(estimator, mode, tile_size, pool)
    kind = _output_kind(estimator)
    for scene in scenes:
        scene.units = detect_units(units, scene)
    step = max(1, round(tile * (1.0 - overlap)))
    grid = TileGrid(scenes[-1].height, scenes[-1].width, tile, step)
    return kind, grid


def _scenes_for(mode, pre, post):
    if mode == "single":
        return [post]
    if pre is None:
        raise ValueError("mode='bitemporal' needs the pre scene; pass pre=, or mode='single' for the post scene only")
    return [pre, post]


@validate_params({**_PARAMETERS, "pre_array": [None, "array-like"], "post_array": ["array-like"],
                  "transform": "no_validation", "nodata": [None, Real]},
                 prefer_skip_nested_validation=True)
def predict_scene_arrays(estimator, pre_array, post_array, transform=None, *, nodata=None, tile_size=None,
                         overlap=0.5, pool=1, mode="bitemporal", units="auto", threshold=0.5,
                         change_model=None, batch_size=32, max_nodata=0.5):
    """Predict a scene held in arrays, tile by tile; the outputs of :func:`predict_scene` as arrays.

    Parameters
    ----------
    estimator : fitted estimator
        A classifier with ``predict_proba`` (detection) or a regressor (magnitude), fitted on
        images: its input size comes from ``input_shape_`` (deep nets) or from the first step of
        a pipeline (``ToImages``); otherwise pass ``tile_size``.
    pre_array, post_array : array-like of shape (2, H, W)
        The two scenes, bands ``[VV, VH]``, on the same grid; ``pre_array`` may be None with
        ``mode="single"``.
    transform : affine.Affine, optional
        The scenes' transform: tile polygons and the tile grid's transform are then given.
    nodata : float, optional
        A value that marks no-data besides NaN.
    tile_size, overlap, pool, mode, units, threshold, change_model, batch_size, max_nodata
        As in :func:`predict_scene`.

    Returns
    -------
    dict
        ``"probability"`` (classifier) or ``"magnitude"`` (regressor): float32 array of shape
        ``(n_tile_rows, n_tile_cols)``, NaN for skipped tiles; ``"tiles"``: a list of dicts
        (the rows of ``tiles.csv``, plus ``"polygon"`` with a transform) of the tiles whose value
        is at least ``threshold``; ``"tile_transform"``: the tile grid's transform (None
        without ``transform``); ``"change_mask"`` with a ``change_model``: uint8 array
        ``(H, W)``, 1 changed, 0 unchanged, 255 no-data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skquake.inference import predict_scene_arrays
    >>> pre, post = np.random.default_rng(0).gamma(4.0, 0.0125, size=(2, 2, 64, 96))  # (2, H, W) each
    >>> model = DummyClassifier().fit(np.zeros((4, 4, 16, 16)), [0, 1, 1, 1])  # always p = 0.75
    >>> out = predict_scene_arrays(model, pre, post, tile_size=16, overlap=0.5)
    >>> out["probability"].shape, float(out["probability"][0, 0]), len(out["tiles"])
    ((7, 11), 0.75, 77)
    """
    post = ArrayScene(post_array, "post_array", nodata)
    pre = None if pre_array is None else ArrayScene(pre_array, "pre_array", nodata)
    if pre is not None and pre.array.shape != post.array.shape:
        raise ValueError(f"pre_array has shape {pre.array.shape} and post_array {post.array.shape}; "
                         "the scenes must be co-registered on the same grid")
    scenes = _scenes_for(mode, pre, post)
    kind, grid = _prepare(estimator, scenes, mode, tile_size, overlap, pool, units)
    sink = _ArraySink(grid, kind, transform, threshold, change_model is not None)
    _run(estimator, scenes, grid, pool, kind, change_model, batch_size, max_nodata, sink)
    out = {kind: sink.values, "tiles": sink.tiles,
           "tile_transform": None if transform is None else grid.tile_transform(transform)}
    if change_model is not None:
        out["change_mask"] = sink.change
    return out


def _opened(source, name, stack):
    """An open rasterio dataset for a path or a dataset (a dataset is left open)."""
    if hasattr(source, "read") and hasattr(source, "transform"):
        return source
    rasterio = import_optional("rasterio", extra="geo")
    path = check_input_file(source, what=f"{name} scene")
    return stack.enter_context(rasterio.open(path))


def _check_same_grid(pre, post):
    if (pre.crs, pre.transform, pre.width, pre.height) != (post.crs, post.transform, post.width, post.height):
        raise ValueError(f"the pre and post scenes are on different grids: pre {pre.name}: {grid_description(pre)}; "
                         f"post {post.name}: {grid_description(post)}. Co-register them first (same CRS, "
                         "transform and size), e.g. with SNAP's coregistration or rasterio.warp.reproject")


@validate_params({**_PARAMETERS, "pre": "no_validation", "post": "no_validation",
                  "out_dir": [str, os.PathLike], "overwrite": ["boolean"]},
                 prefer_skip_nested_validation=True)
def predict_scene(estimator, pre, post, out_dir, *, tile_size=None, overlap=0.5, pool=1, mode="bitemporal",
                  units="auto", threshold=0.5, change_model=None, batch_size=32, max_nodata=0.5,
                  overwrite=False):
    """Predict a pair of Sentinel-1 GRD scenes tile by tile and write georeferenced maps.

    The scenes are read one strip of tiles at a time (windowed reads), so memory is bounded by
    a strip, however large the scene; outputs are written as they are computed, and appear in
    ``out_dir`` only when all are complete.

    Parameters
    ----------
    estimator : fitted estimator
        A classifier with ``predict_proba`` (detection: the probability of class 1, else of the
        last of ``classes_``) or a regressor (magnitude), fitted on images: its input size comes
        from ``input_shape_`` (deep nets) or from the first step of a pipeline (``ToImages``);
        otherwise pass ``tile_size``.
    pre, post : str, path or rasterio dataset
        Two co-registered GeoTIFFs with bands VV and VH (found by their band descriptions; without
        descriptions band 1 is VV, band 2 VH). ``pre`` is not read with ``mode="single"`` (it
        may be None).
        Scenes on different grids (CRS, transform, size) are refused: co-registration is the
        user's step.
    out_dir : str or path
        Folder of the outputs (created if missing).
    tile_size : int, optional
        Tile edge in scene pixels; by default the model's input size times ``pool``.
    overlap : float in [0, 1), default=0.5
        Fraction of a tile shared with the next one; the tile step is ``tile * (1 - overlap)``.
    pool : int, default=1
        Average pooling of each tile before the model, as ``load_quakeset(pool=...)`` did for
        the training data.
    mode : {"bitemporal", "single"}, default="bitemporal"
        Tiles ``[t0 VV, t0 VH, t1 VV, t1 VH]`` (pre, then post) or the post scene's ``[VV, VH]``.
    units : {"auto", "linear", "db"}, default="auto"
        The scenes' sigma0 units. ``"auto"``: a ``units`` tag or band unit (``dB``, ``linear``),
        else the values: mostly negative is dB, none negative is linear, else refused.
        The model receives linear sigma0, as in QuakeSet.
    threshold : float, default=0.5
        Tiles with a value at least this go to ``tiles.csv`` / ``tiles.geojson`` (a probability
        for a classifier, a magnitude for a regressor, e.g. 4.0).
    change_model : estimator with ``predict``, or callable, optional
        Gets the same batches of tiles as ``estimator`` and returns per-pixel masks (or scores in
        [0, 1]) of shape ``(n, H, W)`` or ``(n, 1, H, W)``; they are merged with centre weights
        and thresholded at 0.5 into ``change_mask.tif``.
    batch_size : int, default=32
        Tiles per call to the model.
    max_nodata : float in [0, 1], default=0.5
        Tiles with a larger fraction of no-data pixels are skipped (NaN in the tile grid).
    overwrite : bool, default=False
        Replace existing outputs.

    Returns
    -------
    dict
        Output key -> path: ``"probability"`` or ``"magnitude"``, ``"csv"``, ``"geojson"``, and
        ``"change_mask"`` with a ``change_model`` (file names in ``OUTPUT_FILES``).
    """
    out_dir = Path(out_dir)
    if out_dir.is_file():
        raise NotADirectoryError(f"out_dir={str(out_dir)!r} is a file; pass a folder for the outputs")
    with contextlib.ExitStack() as stack:
        post_ds = _opened(post, "post", stack)
        pre_ds = None if pre is None or mode == "single" else _opened(pre, "pre", stack)
        if pre_ds is not None:
            _check_same_grid(pre_ds, post_ds)
        post_scene = RasterScene(post_ds, post_ds.name)
        pre_scene = None if pre_ds is None else RasterScene(pre_ds, pre_ds.name)
        scenes = _scenes_for(mode, pre_scene, post_scene)
        kind, grid = _prepare(estimator, scenes, mode, tile_size, overlap, pool, units)
        keys = [kind, "csv", "geojson"] + (["change_mask"] if change_model is not None else [])
        paths = {key: out_dir / OUTPUT_FILES[key] for key in keys}
        out_dir.mkdir(parents=True, exist_ok=True)
        tags = {"skquake_model": type(estimator).__name__, "skquake_mode": mode, "skquake_tile_size": grid.tile,
                "skquake_step": grid.step, "skquake_pool": pool,
                **{f"skquake_units_{n}": s.units for n, s in zip(("pre", "post")[-len(scenes):], scenes)}}
        with _FileSink(grid, kind, post_ds.transform, threshold, post_ds.crs, paths, tags, overwrite) as sink:
            _run(estimator, scenes, grid, pool, kind, change_model, batch_size, max_nodata, sink)
    return paths
