"""What scene prediction writes, per kind of model: the files, their rows, and where epicentres go.

* :data:`OUTPUT_FILES` and :func:`output_keys`: the outputs of each kind ("probability",
  "magnitude", "change", "epicentre");
* :func:`tile_record`, :func:`epicentre_record`: the rows of ``tiles.csv`` / ``epicentres.csv``;
* :class:`EpicentrePlacer`: a tile's centre plus the predicted east / north offset, as a point in
  the scene's CRS;
* :class:`EpicentreCombiner`: the scene's one epicentre estimate, kept up to date row by row;
* :class:`ArraySink`, :class:`FileSink`: where each row of tiles and each finished strip of the
  change mask go (arrays in memory, or georeferenced files written as they come).
"""
from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections import deque

import numpy as np

from ..utils import atomic_output, import_optional, lonlat_offset, offset_lonlat

__all__ = ["CHANGE_NODATA", "MAP_KEYS", "OUTPUT_FILES", "ArraySink", "EpicentreCombiner", "EpicentrePlacer",
           "FileSink", "output_keys"]

#: Output key -> file name in ``out_dir``.
OUTPUT_FILES = {
    "probability": "probability.tif", "magnitude": "magnitude.tif", "change_fraction": "change_fraction.tif",
    "containment": "containment.tif", "change_mask": "change_mask.tif", "csv": "tiles.csv",
    "geojson": "tiles.geojson", "epicentres_csv": "epicentres.csv", "epicentres_geojson": "epicentres.geojson",
    "summary": "epicentre.json",
}
#: Kind of model -> the key of its tile map (one pixel per tile step).
MAP_KEYS = {"probability": "probability", "magnitude": "magnitude", "change": "change_fraction",
            "epicentre": "containment"}
CHANGE_NODATA = 255
TILE_COLUMNS = ("tile_row", "tile_col", "row_off", "col_off", "size", "value", "centre_x", "centre_y")
EPICENTRE_COLUMNS = ("tile_row", "tile_col", "row_off", "col_off", "size", "containment", "centre_x",
                     "centre_y", "east_km", "north_km", "depth_km", "x", "y")


def output_keys(kind, change_mask):
    """The keys of :data:`OUTPUT_FILES` that a model of ``kind`` writes."""
    listed = ["epicentres_csv", "epicentres_geojson", "summary"] if kind == "epicentre" else ["csv", "geojson"]
    return [MAP_KEYS[kind], *listed] + (["change_mask"] if change_mask else [])


def tile_record(grid, transform, row, col, value):
    """A row of ``tiles.csv``, plus the tile's ``"polygon"`` (closed ring) where ``transform`` is known."""
    y, x, size = row * grid.step, col * grid.step, grid.tile
    # the map's float32 value, written as its shortest decimal (0.6, not 0.6000000238418579)
    record = {"tile_row": row, "tile_col": col, "row_off": y, "col_off": x, "size": size,
              "value": float(str(np.float32(value))), "centre_x": None, "centre_y": None}
    if transform is not None:
        corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
        record["polygon"] = [tuple(float(v) for v in transform @ corner) for corner in corners]
        record["centre_x"], record["centre_y"] = (float(v) for v in transform @ (x + size / 2, y + size / 2))
    return record


def epicentre_record(grid, transform, placer, row, col, values):
    """A row of ``epicentres.csv``: the tile, its containment, the predicted offset and depth, the point."""
    east, north, depth = (float(v) for v in values[1:])
    record = tile_record(grid, transform, row, col, values[0])
    containment = record.pop("value")
    record.pop("polygon", None)
    x, y = placer.place(record["centre_x"], record["centre_y"], east, north)
    return {**record, "containment": containment, "east_km": east, "north_km": north, "depth_km": depth,
            "x": float(x), "y": float(y)}


class EpicentrePlacer:
    """Places a tile's predicted epicentre (an east / north offset in km) in the scene's CRS.

    The epicentre models predict the offset of the epicentre from the tile's centre on the
    local tangent plane (east, north), as QuakeSet's footprints define it. In a projected CRS
    the offset is added to the centre's coordinates, converted from km to the CRS's linear
    unit (metres, feet): the CRS's x and y axes are taken as east and north, which holds up to
    the grid convergence (the angle between grid north and true north, zero on a UTM zone's
    central meridian), an error of the offset times that angle. In a geographic CRS (degrees:
    EPSG:4326 and the like) the point is :func:`skquake.utils.offset_lonlat` of the centre.
    Other CRSs (none, geocentric, engineering, other angular units) are refused: reproject the
    scenes first.
    """

    def __init__(self, crs, what):
        if crs is None:
            raise ValueError(f"{what} has no CRS: an epicentre model's points are placed in the scene's CRS; "
                             "give the scenes a projected (e.g. UTM) or geographic (EPSG:4326) CRS")
        if not hasattr(crs, "is_geographic"):
            crs = import_optional("rasterio.crs", extra="geo").CRS.from_user_input(crs)
        self.crs = crs
        if crs.is_geographic:
            unit = crs.units_factor[0]
            if not unit.lower().startswith("degree"):
                raise ValueError(f"{what} is in the geographic CRS {crs.to_string()} with angles in {unit!r}; "
                                 "an epicentre's offset is placed in degrees: reproject the scenes (e.g. to "
                                 "EPSG:4326 or a UTM zone) with rasterio.warp.reproject first")
            self.per_km = None
        elif crs.is_projected:
            metres = crs.linear_units_factor[1]
            self.per_km = 1000.0 / metres  # CRS units in a km
        else:
            raise ValueError(f"{what} is in the CRS {crs.to_string()}, neither projected nor geographic: an "
                             "epicentre's east / north offset cannot be placed in it; reproject the scenes to a "
                             "projected (e.g. UTM) or geographic (EPSG:4326) CRS with rasterio.warp.reproject")

    def place(self, x, y, east_km, north_km):
        """The point ``east_km`` / ``north_km`` away from ``(x, y)``, in the CRS."""
        if self.per_km is None:
            return offset_lonlat(x, y, east_km, north_km)
        return x + east_km * self.per_km, y + north_km * self.per_km

    def mean(self, x, y, weights):
        """The weighted mean of nearby points: in a geographic CRS, on the first point's tangent plane."""
        x, y, w = (np.asarray(v, dtype=np.float64) for v in (x, y, weights))
        if self.per_km is None:  # averaging offsets keeps it right across the antimeridian
            east, north = lonlat_offset(x[0], y[0], x, y)
            return offset_lonlat(x[0], y[0], np.average(east, weights=w), np.average(north, weights=w))
        return np.average(x, weights=w), np.average(y, weights=w)


class EpicentreCombiner:
    """The scene's one epicentre estimate from the tiles listed, fed one row of tiles at a time.

    The anchor is the listed tile of highest containment (the first, in row-major order, on a
    tie). The estimate is the containment-weighted mean of the points and depths of the listed
    tiles whose footprint overlaps the anchor's (the anchor included): overlapping tiles see
    the same ground and estimate the same epicentre, and averaging them smooths their errors,
    while farther tiles (false alarms, or a second event) would drag a global mean into the
    empty ground between them. Only the last ``tile / step`` rows of records are kept, so memory
    stays bounded however many tiles pass the threshold.
    """

    def __init__(self, grid, placer):
        self.grid, self.placer = grid, placer
        self.recent = deque(maxlen=-(-grid.tile // grid.step))  # the rows that can overlap a new anchor
        self.anchor, self.group, self.n_listed = None, [], 0

    def _overlaps(self, record):
        g, a = self.grid, self.anchor
        return (abs(record["tile_row"] - a["tile_row"]) * g.step < g.tile
                and abs(record["tile_col"] - a["tile_col"]) * g.step < g.tile)

    def add_row(self, records):
        self.recent.append(records)
        self.n_listed += len(records)
        top = max(records, key=lambda r: r["containment"], default=None)
        if top is not None and (self.anchor is None or top["containment"] > self.anchor["containment"]):
            self.anchor = top
            self.group = [r for rows in self.recent for r in rows if self._overlaps(r)]
        elif self.anchor is not None:
            self.group += [r for r in records if self._overlaps(r)]

    def result(self):
        """The estimate as a dict (None when no tile was listed)."""
        if self.anchor is None:
            return None
        group = self.group
        weights = np.array([r["containment"] for r in group])
        weights = weights if weights.sum() > 0 else np.ones(len(group))  # a threshold <= 0 lists p = 0 tiles
        x, y = self.placer.mean([r["x"] for r in group], [r["y"] for r in group], weights)
        a = self.anchor
        return {"x": float(x), "y": float(y), "depth_km": float(np.average([r["depth_km"] for r in group],
                                                                             weights=weights)),
                "crs": self.placer.crs.to_string(), "containment": a["containment"], "tile_row": a["tile_row"],
                "tile_col": a["tile_col"], "n_tiles": len(group), "n_listed": self.n_listed}


# ----------------------------------------------------------------------------- sinks
class _Sink:
    """Turns each row of tile values into the map row and the records of the tiles at the threshold."""

    def __init__(self, grid, kind, transform, threshold, placer):
        self.grid, self.kind, self.transform, self.threshold = grid, kind, transform, threshold
        self.placer = placer
        self.combiner = EpicentreCombiner(grid, placer) if kind == "epicentre" else None

    def tile_row(self, row, values):
        """``values``: ``(n_cols, k)``, the map value first (epicentre: then east, north, depth)."""
        value = values[:, 0].astype(np.float32)
        cols = np.flatnonzero(value >= self.threshold)  # NaN (a skipped tile) never is
        if self.combiner is not None:
            records = [epicentre_record(self.grid, self.transform, self.placer, row, int(c),
                                        [value[c], *values[c, 1:]]) for c in cols]
            self.combiner.add_row(records)
        else:
            records = [tile_record(self.grid, self.transform, row, int(c), value[c]) for c in cols]
        self._write(row, value, records)


class ArraySink(_Sink):
    def __init__(self, grid, kind, transform, threshold, placer, change):
        super().__init__(grid, kind, transform, threshold, placer)
        self.values = np.full((grid.n_rows, grid.n_cols), np.nan, dtype=np.float32)
        self.records = []
        self.change = np.empty((grid.height, grid.width), dtype=np.uint8) if change else None

    def _write(self, row, value, records):
        self.values[row] = value
        self.records += records

    def change_rows(self, first, mask):
        self.change[first: first + len(mask)] = mask


class FileSink(_Sink):
    """Writes each tile row and each finished strip of the change mask as soon as it is known."""

    def __init__(self, grid, kind, transform, threshold, placer, crs, paths, tags, overwrite):
        super().__init__(grid, kind, transform, threshold, placer)
        self.crs, self.paths, self.tags, self.overwrite = crs, paths, tags, overwrite
        self.columns = EPICENTRE_COLUMNS if kind == "epicentre" else TILE_COLUMNS
        self.n_records = 0

    def __enter__(self):
        # Every output is a temporary file until all are complete (atomic_output): an error or
        # an interruption leaves none behind, and an existing output is refused before any work.
        rasterio = import_optional("rasterio", extra="geo")
        self.stack = contextlib.ExitStack().__enter__()
        try:
            self._open(rasterio)
        except BaseException:
            self.stack.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            try:
                self._finish()
            except BaseException:
                if not self.stack.__exit__(*sys.exc_info()):
                    raise
                return False
        return self.stack.__exit__(*exc)

    def _finish(self):
        self.geojson.write("\n]}\n")
        if self.combiner is not None:
            summary = {"epicentre": self.combiner.result(), "threshold": float(self.threshold)}
            self.tmp["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    def _open(self, rasterio):
        grid, transform, crs, tags = self.grid, self.transform, self.crs, self.tags
        self.tmp = tmp = {key: self.stack.enter_context(atomic_output(path, overwrite=self.overwrite))
                          for key, path in self.paths.items()}
        base = {"driver": "GTiff", "count": 1, "crs": crs, "compress": "deflate"}
        map_key = MAP_KEYS[self.kind]
        self.values = self.stack.enter_context(rasterio.open(
            tmp[map_key], "w", height=grid.n_rows, width=grid.n_cols, dtype="float32", nodata=np.nan,
            transform=grid.tile_transform(transform), **base))
        self.values.update_tags(**tags, skquake_output=map_key)
        self.change = None
        if "change_mask" in tmp:
            self.change = self.stack.enter_context(rasterio.open(
                tmp["change_mask"], "w", height=grid.height, width=grid.width, dtype="uint8",
                nodata=CHANGE_NODATA, transform=transform, tiled=True, blockxsize=256, blockysize=256, **base))
            self.change.update_tags(**tags, skquake_output="change_mask")
        prefix = "epicentres_" if self.kind == "epicentre" else ""
        self.csv_file = self.stack.enter_context(tmp[prefix + "csv"].open("w", newline="", encoding="utf-8"))
        self.csv = csv.writer(self.csv_file)
        self.csv.writerow(self.columns)
        self.geojson = self.stack.enter_context(tmp[prefix + "geojson"].open("w", encoding="utf-8"))
        epsg = crs.to_epsg() if crs is not None else None
        header = {"type": "FeatureCollection", "name": "skquake_epicentres" if prefix else "skquake_tiles"}
        if epsg == 4326:  # GeoJSON's own CRS; the EPSG URN would say latitude first
            header["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
        elif epsg:  # GeoJSON's legacy crs member: GDAL and QGIS read the features in the scene's CRS
            header["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
        self.geojson.write(json.dumps(header)[:-1] + ', "features": [\n')

    def _feature(self, record):
        if self.kind == "epicentre":
            return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [record["x"], record["y"]]},
                    "properties": {k: record[k] for k in self.columns[:-2]}}
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [record["polygon"]]},
                "properties": {k: record[k] for k in self.columns[:6]}}

    def _write(self, row, value, records):
        from rasterio.windows import Window  # optional: the geo extra

        self.values.write(value[None, None, :], window=Window(0, row, self.grid.n_cols, 1))
        for record in records:
            self.csv.writerow([record[k] for k in self.columns])
            self.geojson.write(("" if self.n_records == 0 else ",\n") + json.dumps(self._feature(record)))
            self.n_records += 1

    def change_rows(self, first, mask):
        from rasterio.windows import Window  # optional: the geo extra

        self.change.write(mask[None], window=Window(0, first, mask.shape[1], mask.shape[0]))
