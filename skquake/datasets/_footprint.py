"""Patch footprints from an event's ``x`` / ``y`` datasets, and where the epicentre lies on them.

What skquake assumes the coordinate datasets of an event group hold (docs/data.md, "Footprints"):

* ``x``: the longitudes and ``y`` the latitudes of the pixel centres, in degrees (EPSG:4326),
  ``x`` along the image columns (width W) and ``y`` along its rows (height H);
* either 1-D, ``x`` of shape ``(W,)`` and ``y`` of shape ``(H,)``, one grid shared by every
  patch of the event, or 2-D, ``(P, W)`` and ``(P, H)`` with ``P`` the number of patch groups
  of the event and row ``p`` the grid of ``patch_p``;
* strictly monotonic along each axis (either direction; a longitude axis may cross the
  antimeridian), at least 2 values.

Anything else is refused with a :class:`QuakeSetFormatError` naming the file, the event and the
shapes found, never guessed at.
"""
from __future__ import annotations

import re

import h5py
import numpy as np

from ..utils import lonlat_offset

__all__ = ["EPICENTRE_ATTRS", "epicentre_on_patch", "footprint_centre", "patch_coordinates"]

#: Event attributes that hold the epicentre: longitude and latitude in degrees (EPSG:4326) and
#: the hypocentre depth in km (positive down).
EPICENTRE_ATTRS = ("epicentre_longitude", "epicentre_latitude", "depth_km")
_PATCH = re.compile(r"patch_(\d+)\Z")
_LIMITS = {"x": (-180.0, 180.0, "longitudes"), "y": (-90.0, 90.0, "latitudes")}


def _wrap(degrees):
    return (degrees + 180.0) % 360.0 - 180.0


def _expected(patches, image_hw):
    h, w = image_hw
    return (f"x of shape ({w},) and y of shape ({h},) (the pixel-centre longitudes and latitudes, "
            f"EPSG:4326, shared by the event's patches), or x of shape ({len(patches)}, {w}) and y of "
            f"shape ({len(patches)}, {h}) (one row per patch, row p for patch_p)")


def patch_coordinates(layout, event, patches, image_hw):
    """``{patch: (x, y)}``: float64 pixel-centre longitudes ``(W,)`` and latitudes ``(H,)``.

    ``layout`` is the file's :class:`~skquake.datasets._hdf5.Layout` (its ``fail`` raises),
    ``event`` the event group, ``patches`` the names of all its patch groups and ``image_hw``
    the image height and width.
    """
    key = event.name.lstrip("/")
    patches = [str(patch) for patch in patches]
    arrays = {}
    for name in ("x", "y"):
        if name not in event:
            layout.fail(f"event {key!r} has no {name!r} coordinate dataset, so its patch footprints are "
                        f"unknown; expected {_expected(patches, image_hw)}", key=f"{event.name}/{name}")
        dataset = layout.member(event, name, "a coordinate dataset", kind=h5py.Dataset)
        layout.check_real(dataset, f"{_LIMITS[name][2]} in degrees")
        arrays[name] = dataset
    h, w = image_hw
    x_shape, y_shape = arrays["x"].shape, arrays["y"].shape
    if x_shape == (w,) and y_shape == (h,):
        x, y = arrays["x"][()], arrays["y"][()]
        rows = {patch: (x, y) for patch in patches}
    elif x_shape == (len(patches), w) and y_shape == (len(patches), h):
        x, y = arrays["x"][()], arrays["y"][()]
        rows = {}
        for patch in patches:
            match = _PATCH.match(patch)
            if match is None or int(match[1]) >= len(patches):
                layout.fail(f"event {key!r} has per-patch coordinates x {x_shape} and y {y_shape}, whose "
                            f"row p belongs to patch_p, but a patch group is named {patch!r}; expected "
                            f"patch_0 ... patch_{len(patches) - 1}", key=f"{event.name}/{patch}")
            rows[patch] = (x[int(match[1])], y[int(match[1])])
    else:
        layout.fail(f"event {key!r} has coordinates x of shape {x_shape} and y of shape {y_shape} for "
                    f"{len(patches)} patch(es) of {h} x {w} pixels; expected {_expected(patches, image_hw)}",
                    key=event.name)
    for patch, (x, y) in rows.items():
        for name, values in (("x", x), ("y", y)):
            _check_axis(layout, event, patch, name, np.asarray(values, dtype=np.float64))
    return {patch: (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            for patch, (x, y) in rows.items()}


def _check_axis(layout, event, patch, name, values):
    low, high, what = _LIMITS[name]
    where = f"{name!r} of event {event.name.lstrip('/')!r} (patch {patch!r})"
    if values.size < 2:
        layout.fail(f"{where} has {values.size} value(s); expected at least 2 pixel centres",
                    key=f"{event.name}/{name}")
    if not np.all(np.isfinite(values)) or values.min() < low or values.max() > high:
        layout.fail(f"{where} holds values from {np.nanmin(values)} to {np.nanmax(values)} (or "
                    f"non-finite ones); expected {what} in degrees within [{low}, {high}] (EPSG:4326)",
                    key=f"{event.name}/{name}")
    step = np.diff(_unwrap(values) if name == "x" else values)
    if not (np.all(step > 0) or np.all(step < 0)):
        layout.fail(f"{where} is not strictly monotonic; expected the {what} of successive pixel "
                    "centres", key=f"{event.name}/{name}")


def _unwrap(longitudes):
    """Longitudes made continuous across the antimeridian, relative to the first one."""
    return longitudes[0] + _wrap(longitudes - longitudes[0])


def _fractional_index(values, target):
    """Where ``target`` falls along the monotonic ``values``, in (fractional) pixels."""
    if values[-1] < values[0]:
        values, target = -values, -target
    n = len(values)
    if target < values[0]:  # beyond the first centre: extend with the first spacing
        return (target - values[0]) / (values[1] - values[0])
    if target > values[-1]:
        return n - 1 + (target - values[-1]) / (values[-1] - values[-2])
    return float(np.interp(target, values, np.arange(n)))


def footprint_centre(x, y):
    """``(longitude, latitude)`` of the centre of a patch footprint: the middle of its pixel-centre
    grid (longitudes unwrapped across the antimeridian), where the epicentre offsets
    ``east_km`` / ``north_km`` are measured from."""
    xs = _unwrap(np.asarray(x, dtype=np.float64))
    centre_lon = _wrap(np.interp((len(x) - 1) / 2, np.arange(len(x)), xs))
    return float(centre_lon), float(np.interp((len(y) - 1) / 2, np.arange(len(y)), y))


def epicentre_on_patch(x, y, longitude, latitude):
    """``(contains, east_km, north_km, column, row)`` of an epicentre on a patch's grid.

    ``contains``: the epicentre falls inside the patch footprint, the union of its pixels
    (each extends half a spacing around its centre). ``east_km`` / ``north_km``: its offset
    from the footprint's centre on the local tangent plane. ``column`` / ``row``: its
    fractional pixel position (pixel centres at whole numbers).
    """
    xs = _unwrap(x)
    column = _fractional_index(xs, xs[0] + _wrap(longitude - xs[0]))
    row = _fractional_index(y, latitude)
    contains = -0.5 <= column < len(x) - 0.5 and -0.5 <= row < len(y) - 0.5
    centre_lon, centre_lat = footprint_centre(x, y)
    east, north = lonlat_offset(centre_lon, centre_lat, longitude, latitude)
    return bool(contains), float(east), float(north), column, row
