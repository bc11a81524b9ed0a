"""Predicting on a new Sentinel-1 scene: tiles of a pre / post GRD pair through a fitted model.

:func:`predict_scene` reads two co-registered GeoTIFFs (or open rasterio datasets) strip by
strip, cuts each strip into tiles of the model's input size with overlap, predicts the tiles in
batches and writes, window by window, georeferenced outputs in the scene's CRS. What it writes
depends on the model's kind (:func:`_output_kind`, the one place that decides):

* a classifier (detection): ``probability.tif``, the probability of the positive class, one
  pixel per tile step, float32, NaN where a tile was skipped; ``tiles.csv`` and
  ``tiles.geojson``: the tiles whose value is at least ``threshold``, with their polygon;
* a regressor (magnitude): ``magnitude.tif``, ``tiles.csv``, ``tiles.geojson`` alike;
* a change detector (:class:`~skquake.models.change.ChangeDetectorMixin`): ``change_mask.tif``,
  its masks merged at full resolution, and ``change_fraction.tif``, the changed fraction of
  each tile, with the tiles of a changed fraction of at least ``threshold`` listed;
* an epicentre model (``skquake.models.epicentre``): ``containment.tif``, the probability that
  a tile contains the epicentre; ``epicentres.csv`` / ``epicentres.geojson``: each listed
  tile's predicted epicentre as a point in the scene's CRS, with its depth; ``epicentre.json``:
  the scene's one estimate (see :func:`predict_scene`);
* ``change_mask.tif`` besides the other outputs where a ``change_model`` is given:
  a full-resolution uint8 mask (1 changed, 0 unchanged, 255 no-data), overlapping tiles
  merged with centre weights.

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
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted

from ..models.change import ChangeDetectorMixin
from ..models.epicentre import EpicentreMixin
from ..utils import (
    HasMethods,
    Interval,
    StrictInterval,
    StrOptions,
    average_pool,
    check_input_file,
    fill_nan,
    import_optional,
    validate_params,
)
from ._scene_grid import (
    ArrayScene,
    ChangeMerger,
    RasterScene,
    TileGrid,
    detect_units,
    grid_description,
)
from ._scene_outputs import (
    MAP_KEYS,
    OUTPUT_FILES,
    ArraySink,
    EpicentrePlacer,
    FileSink,
    output_keys,
)

__all__ = ["FILL_VALUE", "OUTPUT_FILES", "predict_scene", "predict_scene_arrays"]

#: Value of the no-data pixels of a kept tile: QuakeSet's ``fill_value`` (what the models saw).
FILL_VALUE = 0.0
#: Channels of a tile per mode, in the QuakeSet order.
MODE_CHANNELS = {"bitemporal": ("t0_VV", "t0_VH", "t1_VV", "t1_VH"), "single": ("VV", "VH")}
#: Values per tile: the map's value first (an epicentre model's then east, north, depth).
_WIDTHS = {"probability": 1, "magnitude": 1, "change": 1, "epicentre": 4}

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
def _check_channels(name, n_channels, mode):
    channels = MODE_CHANNELS[mode]
    if n_channels != len(channels):
        other = next(m for m, c in MODE_CHANNELS.items() if len(c) == n_channels) if n_channels in (2, 4) else None
        raise ValueError(f"{name} takes {n_channels} channels, but mode={mode!r} makes {len(channels)} "
                         f"({', '.join(channels)})" + (f"; pass mode={other!r}" if other else ""))


def _model_input(estimator, mode, tile_size, pool):
    """``(tile edge in scene pixels, model input shape (C, H, W))``, checked against ``mode``."""
    check_is_fitted(estimator)
    name = type(estimator).__name__
    shape = getattr(estimator, "input_shape_", None)
    if shape is None and hasattr(estimator, "steps"):  # a Pipeline: its first step (ToImages) knows
        shape = getattr(estimator.steps[0][1], "input_shape_", None)
    channels = MODE_CHANNELS[mode]
    if shape is None:
        pairs = getattr(estimator, "pair_shape_", None)
        if pairs is not None:
            # A change detector that works pixel by pixel (the classical ones, the novelty one):
            # any tile size, by default the size of its training pairs.
            _check_channels(name, int(pairs[0]), mode)
            tile_size = int(pairs[1]) * pool if tile_size is None else tile_size
        if tile_size is None:
            raise ValueError(f"{name} does not say its input size (no input_shape_); pass tile_size=")
        if tile_size % pool:
            raise ValueError(f"tile_size={tile_size} is not a multiple of pool={pool}")
        return tile_size, (len(channels), tile_size // pool, tile_size // pool)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 2:
        raise ValueError(f"{name} was fitted on input of shape {shape}; scene prediction needs a model "
                         "fitted on square images (C, H, H)")
    _check_channels(name, shape[0], mode)
    tile = shape[1] * pool
    if tile_size is not None and tile_size != tile:
        raise ValueError(f"tile_size={tile_size} does not match {name}'s input: {shape[1]} x {shape[2]} "
                         f"pixels at pool={pool} are {tile} scene pixels; leave tile_size=None")
    return tile, shape


def _is_epicentre_model(estimator):
    """An epicentre estimator, or a pipeline that ends with one."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return isinstance(final, EpicentreMixin)


def _output_kind(estimator):
    """What the model's tiles give, and so which outputs: the one dispatch point of the scene path."""
    name = type(estimator).__name__
    if isinstance(estimator, ChangeDetectorMixin):
        return "change"
    if _is_epicentre_model(estimator):
        return "epicentre"
    if is_classifier(estimator):
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"{name} is a classifier without predict_proba (an SVC needs probability=True); "
                             "a detection map needs probabilities")
        return "probability"
    if is_regressor(estimator):
        return "magnitude"
    raise ValueError(f"{name} is neither a classifier (detection), a regressor (magnitude), a change detector "
                     "(skquake.models.change) nor an epicentre model (skquake.models.epicentre)")


def _positive_proba(estimator, X):
    """The probability of class 1 (else of the last of ``classes_``)."""
    classes = list(getattr(estimator, "classes_", []))
    positive = classes.index(1) if 1 in classes else -1
    return np.asarray(estimator.predict_proba(X))[:, positive]


def _tile_values(estimator, kind, X, masks):
    """``(n, k)`` float64 per tile: the map's value first; ``masks``: a change detector's, at model size."""
    n = len(X)
    if kind == "magnitude":
        return np.asarray(estimator.predict(X), dtype=np.float64).reshape(n, 1)
    if kind == "probability":
        return _positive_proba(estimator, X).astype(np.float64).reshape(n, 1)
    if kind == "change":
        # The changed share of the pixels with data at both dates (the detectors' valid_pixels:
        # a filled no-data pixel is 0), which the detectors never flag.
        valid = np.all(X > 0, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((masks * valid).sum(axis=(1, 2)) / valid.sum(axis=(1, 2))).reshape(n, 1)
    predicted = np.asarray(estimator.predict(X), dtype=np.float64)
    if predicted.shape != (n, 4):
        raise ValueError(f"{type(estimator).__name__}.predict returned an array of shape {predicted.shape} for "
                         f"{n} tile(s); an epicentre model predicts ({n}, 4): [contains, east_km, north_km, depth_km]")
    # without probabilities, the 0 / 1 prediction is the containment
    contains = _positive_proba(estimator, X) if hasattr(estimator, "predict_proba") else predicted[:, 0]
    return np.column_stack([contains, predicted[:, 1:]])


def _change_masks(change_model, X):
    """Per-pixel masks ``(n, h, w)`` float32 at the model's input size, from ``change_model`` on ``X``."""
    predict = change_model.predict if hasattr(change_model, "predict") else change_model
    masks = np.asarray(predict(X), dtype=np.float32)
    n, _, h, w = X.shape
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.shape != (n, h, w):
        raise ValueError(f"change_model returned an array of shape {masks.shape} for {n} tile(s) of "
                         f"{h} x {w} pixels; expected per-pixel masks of shape ({n}, {h}, {w}) or ({n}, 1, {h}, {w})")
    return masks


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
        values = np.full((g.n_cols, _WIDTHS[kind]), np.nan)
        for start in range(0, len(keep), batch_size):
            cols = keep[start: start + batch_size]
            X = np.stack([strip[:, :, c * g.step: c * g.step + g.tile] for c in cols])
            X = average_pool(X, pool) if pool > 1 else X
            masks = _change_masks(change_model, X) if merger is not None else None
            values[cols] = _tile_values(estimator, kind, X, masks)
            if merger is not None:
                for c, mask in zip(cols, masks.repeat(pool, axis=1).repeat(pool, axis=2) if pool > 1 else masks):
                    merger.add(c, mask)
        sink.tile_row(r, values)
        if merger is not None:
            sink.change_rows(*merger.finish_rows(r, invalid))


# ----------------------------------------------------------------------------- public API
def _prepare(estimator, scenes, mode, tile_size, overlap, pool, units, change_model):
    """Check the model against the mode, detect units, and lay the tile grid over the scene.

    Returns ``(kind, grid, change_model)``: a change detector is its own change model.
    """
    tile, _ = _model_input(estimator, mode, tile_size, pool)
    kind = _output_kind(estimator)
    if kind == "change":
        if change_model is not None:
            raise ValueError(f"{type(estimator).__name__} is a change detector: it makes change_mask.tif itself; "
                             "drop change_model= (it adds a change mask to another model's maps)")
        change_model = estimator
    for scene in scenes:
        scene.units = detect_units(units, scene)
    step = max(1, round(tile * (1.0 - overlap)))
    grid = TileGrid(scenes[-1].height, scenes[-1].width, tile, step)
    return kind, grid, change_model


def _scenes_for(mode, pre, post):
    if mode == "single":
        return [post]
    if pre is None:
        raise ValueError("mode='bitemporal' needs the pre scene; pass pre=, or mode='single' for the post scene only")
    return [pre, post]


def _placer(kind, crs, what):
    """Where an epicentre model's points go (None for the other kinds); refused before any work."""
    return EpicentrePlacer(crs, what) if kind == "epicentre" else None


@validate_params({**_PARAMETERS, "pre_array": [None, "array-like"], "post_array": ["array-like"],
                  "transform": "no_validation", "crs": "no_validation", "nodata": [None, Real]},
                 prefer_skip_nested_validation=True)
def predict_scene_arrays(estimator, pre_array, post_array, transform=None, *, crs=None, nodata=None,
                         tile_size=None, overlap=0.5, pool=1, mode="bitemporal", units="auto", threshold=0.5,
                         change_model=None, batch_size=32, max_nodata=0.5):
    """Predict a scene held in arrays, tile by tile; the outputs of :func:`predict_scene` as arrays.

    Parameters
    ----------
    estimator : fitted estimator
        As in :func:`predict_scene`: a classifier with ``predict_proba``, a regressor, a change
        detector or an epicentre model, fitted on images.
    pre_array, post_array : array-like of shape (2, H, W)
        The two scenes, bands ``[VV, VH]``, on the same grid; ``pre_array`` may be None with
        ``mode="single"``.
    transform : affine.Affine, optional
        The scenes' transform: tile polygons and the tile grid's transform are then given.
    crs : rasterio CRS or str, optional
        The scenes' CRS (anything ``rasterio.crs.CRS.from_user_input`` takes, e.g.
        ``"EPSG:32633"``); an epicentre model needs it, with ``transform``, to place its points.
    nodata : float, optional
        A value that marks no-data besides NaN.
    tile_size, overlap, pool, mode, units, threshold, change_model, batch_size, max_nodata
        As in :func:`predict_scene`.

    Returns
    -------
    dict
        The tile map, float32 of shape ``(n_tile_rows, n_tile_cols)``, NaN for skipped tiles:
        ``"probability"`` (classifier), ``"magnitude"`` (regressor), ``"change_fraction"``
        (change detector) or ``"containment"`` (epicentre model). The listed tiles: ``"tiles"``,
        a list of dicts (the rows of ``tiles.csv``, plus ``"polygon"`` with a transform) of the
        tiles whose value is at least ``threshold``; for an epicentre model ``"epicentres"``
        instead (the rows of ``epicentres.csv``) and ``"epicentre"``, the combined estimate
        (the ``"epicentre"`` of ``epicentre.json``, None when no tile is listed).
        ``"tile_transform"``: the tile grid's transform (None without ``transform``).
        ``"change_mask"`` with a change detector or a ``change_model``: uint8 array ``(H, W)``,
        1 changed, 0 unchanged, 255 no-data.

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

    A change detector maps the changed pixels and each tile's changed fraction:

    >>> from skquake.models.change import LogRatioChangeDetector
    >>> post[:, 8:24, 8:24] *= 10.0  # +10 dB in a square of the first tile
    >>> detector = LogRatioChangeDetector().fit(np.concatenate([pre, post])[None])
    >>> out = predict_scene_arrays(detector, pre, post, tile_size=32, overlap=0.0)
    >>> out["change_fraction"].shape, out["change_mask"].shape, float(out["change_mask"][10:22, 10:22].mean())
    ((2, 3), (64, 96), 1.0)
    """
    post = ArrayScene(post_array, "post_array", nodata)
    pre = None if pre_array is None else ArrayScene(pre_array, "pre_array", nodata)
    if pre is not None and pre.array.shape != post.array.shape:
        raise ValueError(f"pre_array has shape {pre.array.shape} and post_array {post.array.shape}; "
                         "the scenes must be co-registered on the same grid")
    scenes = _scenes_for(mode, pre, post)
    kind, grid, change_model = _prepare(estimator, scenes, mode, tile_size, overlap, pool, units, change_model)
    if kind == "epicentre" and (transform is None or crs is None):
        raise ValueError("an epicentre model places its epicentres in the scene's CRS: pass the arrays' "
                         "transform= and crs= (e.g. crs='EPSG:32633')")
    placer = _placer(kind, crs, "the arrays")
    sink = ArraySink(grid, kind, transform, threshold, placer, change_model is not None)
    _run(estimator, scenes, grid, pool, kind, change_model, batch_size, max_nodata, sink)
    out = {MAP_KEYS[kind]: sink.values, "epicentres" if kind == "epicentre" else "tiles": sink.records,
           "tile_transform": None if transform is None else grid.tile_transform(transform)}
    if kind == "epicentre":
        out["epicentre"] = sink.combiner.result()
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
        Fitted on images; what it is decides the outputs:

        - a classifier with ``predict_proba`` (detection: the probability of class 1, else of
          the last of ``classes_``): ``probability.tif``, ``tiles.csv``, ``tiles.geojson``;
        - a regressor (magnitude): ``magnitude.tif``, ``tiles.csv``, ``tiles.geojson``;
        - a change detector (``skquake.models.change``, bitemporal): ``change_mask.tif``, its
          per-pixel masks (``predict``) merged as for ``change_model``, and
          ``change_fraction.tif``, the share of each tile's pixels with data that its mask
          flags; ``tiles.csv`` / ``tiles.geojson`` list the tiles of a changed fraction of at
          least ``threshold``. The masks are merged, not the scores: a classical detector's
          threshold is decided per tile (Otsu, k-means), so its scores are comparable only
          within a tile, while every tile's mask is a decision on the same scale;
        - an epicentre model (``skquake.models.epicentre``: an ``EpicentreEstimator``, a
          pipeline ending with one, a ``DeepEpicentreEstimator``): ``containment.tif``, the
          probability that a tile contains the epicentre (the 0 / 1 prediction without
          ``predict_proba``); ``epicentres.csv`` / ``epicentres.geojson``: for each tile of a
          containment of at least ``threshold``, the predicted epicentre, the tile's centre
          moved by the predicted east / north offset, as a point in the scene's CRS, with its
          depth (a projected CRS: the offset in the CRS's linear unit, its axes taken as east
          and north; a geographic one: :func:`skquake.utils.offset_lonlat`; any other is
          refused); ``epicentre.json``: the scene's estimate, the containment-weighted mean of
          the points and depths of the listed tiles that overlap the most probable one (tiles
          that see the same ground agree on one epicentre, farther ones would drag the mean
          into the ground between them).

        The input size comes from ``input_shape_`` (deep nets), from the first step of a
        pipeline (``ToImages``) or, for a change detector that works pixel by pixel, from the
        pairs it was fitted on (``pair_shape_``; ``tile_size`` may change it); otherwise pass
        ``tile_size``.
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
        Tiles with a value at least this are listed: a probability for a classifier, a
        magnitude for a regressor (e.g. 4.0), a changed fraction for a change detector, a
        containment probability for an epicentre model.
    change_model : estimator with ``predict``, or callable, optional
        Gets the same batches of tiles as ``estimator`` and returns per-pixel masks (or scores in
        [0, 1]) of shape ``(n, H, W)`` or ``(n, 1, H, W)``; they are merged with centre weights
        and thresholded at 0.5 into ``change_mask.tif``. Not with a change detector as
        ``estimator``, which is its own change model.
    batch_size : int, default=32
        Tiles per call to the model.
    max_nodata : float in [0, 1], default=0.5
        Tiles with a larger fraction of no-data pixels are skipped (NaN in the tile grid).
    overwrite : bool, default=False
        Replace existing outputs.

    Returns
    -------
    dict
        Output key -> path (file names in ``OUTPUT_FILES``): the tile map (``"probability"``,
        ``"magnitude"``, ``"change_fraction"`` or ``"containment"``), the listed tiles
        (``"csv"`` and ``"geojson"``; an epicentre model: ``"epicentres_csv"``,
        ``"epicentres_geojson"`` and ``"summary"``, ``epicentre.json``), and ``"change_mask"``
        with a change detector or a ``change_model``. An epicentre model adds ``"epicentre"``:
        the scene's estimate (a dict: ``x``, ``y`` in the scene's CRS, ``depth_km``, ``crs``,
        the most probable tile's ``containment``, ``tile_row`` and ``tile_col``, ``n_tiles``
        averaged, ``n_listed``), or None when no tile reaches ``threshold``.
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
        kind, grid, change_model = _prepare(estimator, scenes, mode, tile_size, overlap, pool, units, change_model)
        placer = _placer(kind, post_ds.crs, post_ds.name)
        paths = {key: out_dir / OUTPUT_FILES[key] for key in output_keys(kind, change_model is not None)}
        out_dir.mkdir(parents=True, exist_ok=True)
        tags = {"skquake_model": type(estimator).__name__, "skquake_mode": mode, "skquake_tile_size": grid.tile,
                "skquake_step": grid.step, "skquake_pool": pool,
                **{f"skquake_units_{n}": s.units for n, s in zip(("pre", "post")[-len(scenes):], scenes)}}
        with FileSink(grid, kind, post_ds.transform, threshold, placer, post_ds.crs, paths, tags, overwrite) as sink:
            _run(estimator, scenes, grid, pool, kind, change_model, batch_size, max_nodata, sink)
    if kind == "epicentre":
        return {**paths, "epicentre": sink.combiner.result()}
    return paths
