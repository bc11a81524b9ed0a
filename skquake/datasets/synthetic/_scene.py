"""Synthetic Sentinel-1 scene pairs (GeoTIFF) laid out from a QuakeSet file's patches.

A new earthquake reaches a user as two GRD scenes, not as a QuakeSet file. To try the monitoring
path (``skquake predict --pre --post``) offline, :func:`make_scene_pair` writes such a pair:
patches of a QuakeSet file (synthetic or real) tiled side by side on a projected grid, the
patches of affected samples in one corner block, so that a detection map has something to find.
"""
from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ...utils import StrictInterval, atomic_output, import_optional, validate_params
from .._quakeset import QuakeSet

__all__ = ["make_scene_pair"]


@validate_params(
    {
        "quakeset": [str, os.PathLike],
        "out_dir": [str, os.PathLike],
        "rows": [StrictInterval(Integral, 1, None, closed="left")],
        "cols": [StrictInterval(Integral, 1, None, closed="left")],
        "affected": [StrictInterval(Integral, 0, None, closed="left")],
        "split": [str],
        "crs": [str],
        "pixel_size": [StrictInterval(Real, 0, None, closed="neither")],
        "random_state": "no_validation",
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_scene_pair(quakeset, out_dir, *, rows=6, cols=8, affected=2, split="test", crs="EPSG:32637",
                    pixel_size=10.0, random_state=0, overwrite=False):
    """Write ``pre.tif`` and ``post.tif``: a GeoTIFF pair tiled from a QuakeSet file's samples.

    Each of the ``rows x cols`` tiles is one bitemporal sample of ``split`` (its ``pre`` image in
    ``pre.tif``, its ``post`` image in ``post.tif``); the top-left ``affected x affected`` tiles
    are samples of an earthquake (label 1), the others are not. Bands are VV and VH, linear
    sigma0 (tag ``units=linear``), float32, NaN for no-data, on a north-up grid in ``crs`` with
    ``pixel_size`` metres per pixel.

    Parameters
    ----------
    quakeset : str or path-like
        A QuakeSet file (``skquake make-quakeset`` or the real ``earthquakes.h5``).
    out_dir : str or path-like
        Folder of the two files (created if missing).
    rows, cols : int, default=6, 8
        Tiles down and across.
    affected : int, default=2
        Side of the corner block of earthquake samples (0: none).
    split : str, default="test"
        Which samples to draw from (``"train"``, ``"val"``, ``"test"``, ``"all"``).
    crs : str, default="EPSG:32637"
        The grid's coordinate reference system (UTM 37N: Turkey).
    pixel_size : float, default=10.0
        Metres per pixel (Sentinel-1 GRD's pixel spacing).
    random_state : int, default=0
        Which samples fill the tiles.
    overwrite : bool, default=False
        Replace existing files.

    Returns
    -------
    tuple of pathlib.Path
        ``(pre, post)``.

    Examples
    --------
    >>> from skquake.datasets import make_quakeset
    >>> data = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=12, patch_size=16)
    >>> pre, post = make_scene_pair(data, getfixture("tmp_path") / "scene", rows=2, cols=3, affected=1)
    >>> pre.name, post.name
    ('pre.tif', 'post.tif')
    """
    rasterio = import_optional("rasterio", extra="geo")
    transform_module = import_optional("rasterio.transform", extra="geo")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} is a file, not a folder; pass a folder (created if missing)")
    with QuakeSet(quakeset, split=split, mode="bitemporal", fill_value=np.nan) as ds:
        tiles = _pick_samples(ds.labels, rows, cols, min(affected, rows, cols), random_state, quakeset, split)
        _, size_y, size_x = ds.image_shape
        image = np.empty((4, rows * size_y, cols * size_x), dtype=np.float32)
        for (i, j), index in np.ndenumerate(tiles):
            image[:, i * size_y:(i + 1) * size_y, j * size_x:(j + 1) * size_x] = ds[int(index)]["image"]
    out_dir.mkdir(parents=True, exist_ok=True)
    # A grid origin in the middle of the UTM zone's false easting, at a Turkish latitude.
    transform = transform_module.from_origin(500000.0, 4200000.0, float(pixel_size), float(pixel_size))
    paths = []
    for name, bands in (("pre.tif", image[:2]), ("post.tif", image[2:])):
        path = out_dir / name
        with atomic_output(path, overwrite=overwrite) as tmp:
            with rasterio.open(tmp, "w", driver="GTiff", height=bands.shape[1], width=bands.shape[2], count=2,
                               dtype="float32", crs=crs, transform=transform, nodata=np.nan) as dst:
                dst.write(bands)
                dst.descriptions = ("VV", "VH")
                dst.update_tags(units="linear")
        paths.append(path)
    return tuple(paths)


def _pick_samples(labels, rows, cols, affected, random_state, path, split):
    """Sample indices per tile: earthquake samples in the corner block, others elsewhere."""
    rng = np.random.default_rng(random_state)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos = affected * affected
    if n_pos and not len(positives) or rows * cols > n_pos and not len(negatives):
        raise ValueError(f"{path}: split {split!r} has {len(positives)} earthquake and {len(negatives)} other "
                         "samples; the scene needs both (choose another split, or affected=0)")
    tiles = np.empty((rows, cols), dtype=np.int64)
    corner = np.zeros((rows, cols), dtype=bool)
    corner[:affected, :affected] = True
    # With replacement only when the split is smaller than the scene.
    tiles[corner] = rng.choice(positives, n_pos, replace=n_pos > len(positives)) if n_pos else []
    n_neg = rows * cols - n_pos
    tiles[~corner] = rng.choice(negatives, n_neg, replace=n_neg > len(negatives)) if n_neg else []
    return tiles
