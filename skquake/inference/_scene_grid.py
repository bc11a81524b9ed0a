"""The pieces of scene prediction that know nothing about estimators or files.

* :class:`TileGrid`: where the tiles of a scene lie, and the tile grid's own georeferencing;
* :func:`detect_units` / :func:`sample_units`: linear sigma0 or decibels, from a declaration,
  a tag or the values;
* :class:`ArrayScene`, :class:`RasterScene`: read a strip of rows of a scene (VV, VH) as
  float32 linear sigma0 with NaN for no-data, from an array or through windowed rasterio reads;
* :class:`ChangeMerger`: merges overlapping per-tile change masks with centre weights, strip by
  strip, so that a full-resolution mask never sits in memory.
"""
from __future__ import annotations

import math

import numpy as np

from ..utils import from_decibels

__all__ = ["ArrayScene", "ChangeMerger", "RasterScene", "TileGrid", "detect_units", "sample_units"]

#: Values of a ``units`` tag (lower-cased) that mean decibels, and linear sigma0.
DB_WORDS = {"db", "decibel", "decibels", "sigma0_db", "sigma0 db"}
LINEAR_WORDS = {"linear", "sigma0", "intensity", "linear sigma0", "sigma0_linear"}


class TileGrid:
    """Tiles of ``tile`` x ``tile`` scene pixels every ``step`` pixels over an ``height`` x ``width`` scene.

    Tile ``(i, j)`` starts at scene row ``i * step`` and column ``j * step``. Rows and columns of
    tiles are added until the scene is covered, so the last tiles may reach past its edge (the
    part outside is no-data). The tile grid raster has one pixel per tile, centred on its tile's
    centre: its transform is the scene's, shifted by ``(tile - step) / 2`` pixels and scaled by
    ``step`` (with no overlap, simply scaled).
    """

    def __init__(self, height, width, tile, step):
        if height < tile or width < tile:
            raise ValueError(f"the scene is {height} x {width} pixels, smaller than one tile "
                             f"({tile} x {tile} pixels); pass a larger scene or a model with smaller input")
        self.height, self.width, self.tile, self.step = int(height), int(width), int(tile), int(step)
        self.n_rows = math.ceil((self.height - self.tile) / self.step) + 1
        self.n_cols = math.ceil((self.width - self.tile) / self.step) + 1
        #: width of a strip, with the part past the scene's right edge
        self.padded_width = (self.n_cols - 1) * self.step + self.tile

    @property
    def offset(self):
        """Shift, in scene pixels, of the tile grid's first pixel from the scene's corner."""
        return (self.tile - self.step) / 2

    def tile_transform(self, transform):
        """The tile grid's affine transform, from the scene's (an ``affine.Affine``)."""
        from affine import Affine  # optional: comes with rasterio (the geo extra)

        return transform @ Affine.translation(self.offset, self.offset) @ Affine.scale(self.step)

    def __repr__(self):
        return (f"TileGrid({self.height} x {self.width} pixels, {self.n_rows} x {self.n_cols} tiles of "
                f"{self.tile} px every {self.step} px)")


def tile_weights(size):
    """Centre weights of a ``size`` x ``size`` tile: a tent, highest at the centre, > 0 at the edges.

    Edges keep a small weight so that pixels only one tile covers (the scene's border) are
    still merged; elsewhere the tile whose centre is nearest dominates, which hides the seams
    that tile borders (where a net sees no context) would leave.
    """
    ramp = 1.0 - np.abs((np.arange(size) + 0.5) / size * 2.0 - 1.0)
    ramp = np.maximum(ramp, 1e-3).astype(np.float32)
    return np.outer(ramp, ramp)


# ----------------------------------------------------------------------------- units
def _units_from_tags(tags):
    for value in tags:
        word = str(value).strip().lower()
        if word in DB_WORDS:
            return "db"
        if word in LINEAR_WORDS:
            return "linear"
    return None


def sample_units(values, name):
    """``"db"`` or ``"linear"`` from pixel values (NaN ignored).

    Linear sigma0 is never negative, while decibels of land backscatter are mostly negative
    (about -25 to -5 dB): a sample whose valid values are mostly negative is in dB, one without
    any negative value is linear, and anything between is refused as ambiguous.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError(f"cannot tell the units of {name}: the sampled pixels are all no-data; "
                         "declare them with units='linear' or units='db'")
    negative = float(np.mean(values < 0))
    if negative > 0.5:
        return "db"
    if negative == 0.0:
        return "linear"
    raise ValueError(f"cannot tell the units of {name}: {negative:.0%} of its sampled pixels are negative "
                     "(linear sigma0 has none, decibels mostly); declare them with units='linear' or units='db'")


def detect_units(units, scene):
    """The units of ``scene``: ``units`` when declared, else its tag, else its values."""
    if units != "auto":
        return units
    return _units_from_tags(scene.unit_tags()) or sample_units(scene.sample(), scene.name)


# ----------------------------------------------------------------------------- sources
class _Scene:
    """Shared part of the sources: units, conversion to linear sigma0, strips with padding."""

    units = "linear"

    def read_strip(self, row, height, width):
        """Rows ``row .. row + height`` and columns ``0 .. width`` as float32 linear sigma0 ``(2, height, width)``.

        Rows and columns outside the scene are NaN (no-data), like no-data pixels inside it.
        """
        out = np.full((2, height, width), np.nan, dtype=np.float32)
        rows = max(0, min(height, self.height - row))
        if rows:
            out[:, :rows, : self.width] = self._read(row, rows)
        if self.units == "db":
            out = from_decibels(out)
        return out


class ArrayScene(_Scene):
    """A scene held as an array ``(2, H, W)``, bands ``[VV, VH]``; NaN (or ``nodata``) is no-data."""

    def __init__(self, array, name, nodata=None):
        array = np.asarray(array)
        if array.ndim != 3 or array.shape[0] != 2:
            raise ValueError(f"{name} must be an array of shape (2, H, W) with bands [VV, VH] (as rasterio "
                             f"reads them), got shape {array.shape}")
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}")
        self.array, self.name, self.nodata = array, name, nodata
        self.height, self.width = array.shape[1:]

    def unit_tags(self):
        return ()

    def sample(self):
        # every k-th pixel: about 256 x 256 values, without copying the whole scene
        return self._masked(self.array[:, :: max(1, self.height // 256), :: max(1, self.width // 256)])

    def _read(self, row, rows):
        return self._masked(self.array[:, row: row + rows])

    def _masked(self, block):
        block = block.astype(np.float32)
        if self.nodata is not None:
            block[block == np.float32(self.nodata)] = np.nan
        return block


class RasterScene(_Scene):
    """A scene in an open rasterio dataset; bands VV and VH found from the band descriptions.

    Every read is a window of at most one strip of rows (:meth:`read_strip`) or a small
    sample window (:meth:`sample`): the scene is never read whole.
    """

    #: edge of the windows read to detect units, and how many along each axis
    SAMPLE_SIZE, SAMPLES = 64, 4

    def __init__(self, dataset, name):
        self.dataset, self.name = dataset, name
        self.height, self.width = dataset.height, dataset.width
        self.bands = self._find_bands(dataset, name)
        self.nodata = [dataset.nodatavals[b - 1] for b in self.bands]

    @staticmethod
    def _find_bands(dataset, name):
        if dataset.count < 2:
            raise ValueError(f"{name} has {dataset.count} band(s); a Sentinel-1 GRD scene needs 2 (VV, VH)")
        descriptions = [str(d or "").upper() for d in dataset.descriptions]
        if not any(descriptions):
            return (1, 2)  # no descriptions: the usual order, band 1 = VV, band 2 = VH
        found = []
        for pol in ("VV", "VH"):
            matches = [i + 1 for i, d in enumerate(descriptions) if pol in d]
            if len(matches) != 1:
                raise ValueError(f"{name}: cannot find the {pol} band from the band descriptions "
                                 f"{list(dataset.descriptions)}; name exactly one band with {pol} "
                                 "(or remove the descriptions: band 1 is then VV, band 2 VH)")
            found += matches
        return tuple(found)

    def unit_tags(self):
        ds = self.dataset
        tags = [ds.units[b - 1] for b in self.bands if ds.units[b - 1]]
        for source in [ds.tags()] + [ds.tags(b) for b in self.bands]:
            tags += [v for k, v in source.items() if k.lower() in ("units", "unit")]
        return tags

    def sample(self):
        from rasterio.windows import Window  # optional: the geo extra

        size = min(self.SAMPLE_SIZE, self.height, self.width)
        rows = np.linspace(0, self.height - size, self.SAMPLES).astype(int)
        cols = np.linspace(0, self.width - size, self.SAMPLES).astype(int)
        return np.concatenate([self._masked(Window(c, r, size, size)).ravel() for r in rows for c in cols])

    def _read(self, row, rows):
        from rasterio.windows import Window  # optional: the geo extra

        return self._masked(Window(0, row, self.width, rows))

    def _masked(self, window):
        block = self.dataset.read(self.bands, window=window, out_dtype=np.float32)
        for band, nodata in zip(block, self.nodata):
            if nodata is not None and not np.isnan(nodata):
                band[band == np.float32(nodata)] = np.nan
        return block


def grid_description(dataset):
    """One line saying which grid a rasterio dataset is on: CRS, size and transform."""
    t = dataset.transform
    return (f"{dataset.crs.to_string() if dataset.crs else 'no CRS'}, {dataset.width} x {dataset.height} "
            f"pixels, transform ({t.a}, {t.b}, {t.c}, {t.d}, {t.e}, {t.f})")


# ----------------------------------------------------------------------------- change mask
class ChangeMerger:
    """Centre-weighted merge of overlapping per-tile change masks, finished strip by strip.

    Holds ``tile`` rows of the scene's width (two float32 buffers): the rows of the tile row
    being predicted. After tile row ``i``, its first ``step`` rows receive no more tiles and
    are final (:meth:`finish_rows`).
    """

    def __init__(self, grid):
        self.grid = grid
        self.weights = tile_weights(grid.tile)
        self.sum = np.zeros((grid.tile, grid.padded_width), dtype=np.float32)
        self.total = np.zeros_like(self.sum)

    def add(self, col, mask):
        x = col * self.grid.step
        self.sum[:, x: x + self.grid.tile] += self.weights * mask
        self.total[:, x: x + self.grid.tile] += self.weights

    def finish_rows(self, tile_row, invalid):
        """``(first scene row, uint8 mask rows)`` final after ``tile_row``; 255 where no-data.

        ``invalid`` flags the strip's no-data pixels (``(tile, padded_width)``).
        """
        g = self.grid
        first = tile_row * g.step
        last = tile_row == g.n_rows - 1
        n = min(g.tile if last else g.step, g.height - first)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = self.sum[:n] / self.total[:n]
        mask = np.where(score >= 0.5, 1, 0).astype(np.uint8)
        mask[(self.total[:n] == 0) | invalid[:n]] = 255
        # slide the buffers down one step: the rows left still await the next tile row
        for buf in (self.sum, self.total):
            buf[:-g.step] = buf[g.step:]
            buf[-g.step:] = 0
        return first, mask[:, : g.width]
