"""Epicentre and hypocentre targets (QuakeSet tasks 3 and 7): where the epicentre is, per sample.

Each event's epicentre (longitude, latitude) and hypocentre depth come from a table the user
passes (CSV or Parquet keyed by event id: the public release's ``epicenters.parquet`` or an
export of the ISC bulletin) or, failing that, from the event attributes
(:data:`~skquake.datasets._footprint.EPICENTRE_ATTRS`, written by the synthetic generator).
Each patch's footprint comes from the event's ``x`` / ``y`` datasets
(:mod:`skquake.datasets._footprint`), and the targets follow: whether the footprint contains
the epicentre, the epicentre's east / north offset from the footprint's centre and the depth.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path

import numpy as np

from ..utils import StrictInterval, check_input_file, import_optional, validate_params
from ._footprint import EPICENTRE_ATTRS, epicentre_on_patch, footprint_centre, patch_coordinates
from ._quakeset import _PARAMETER_CONSTRAINTS, QuakeSet, QuakeSetFormatError
from ._hdf5 import open_index
from ._source import check_hdf5_source, load_quakeset

__all__ = ["EPICENTRE_COLUMNS", "TABLE_COLUMNS", "MissingEpicentresError", "check_epicentre_array", "epicentre_targets",
           "load_epicentre", "read_epicentres", "read_patch_centres"]

#: The columns of ``y`` of :func:`load_epicentre`.
EPICENTRE_COLUMNS = ("contains", "east_km", "north_km", "depth_km")
#: The columns of an epicentre table: event id, longitude and latitude in degrees (EPSG:4326),
#: hypocentre depth in km.
TABLE_COLUMNS = ("event_id", "longitude", "latitude", "depth_km")
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SHOWN = 5  # event ids named in an error


class MissingEpicentresError(QuakeSetFormatError):
    """A file's events have no epicentre attributes and no table was given (the real file):
    callers that take the table under another name (``--epicentres``) catch this type."""


def check_epicentre_array(y, name="y", *, located=None, columns=(1, 2, 3)):
    """``y`` as a float64 ``(n, 4)`` copy in the ``EPICENTRE_COLUMNS`` convention, and its contains mask.

    The one check of the convention that the readers produce, the epicentre estimators learn
    and the epicentre metrics score: a numeric ``(n, 4)`` array whose column 0
    (``contains``) is 0 or 1 on every row.

    Parameters
    ----------
    y : array-like of shape (n, 4)
    name : str, default="y"
        How the messages call it (``"y_pred"``, ``"EpicentreEstimator: y"``).
    located : True or array-like of bool of shape (n,), optional
        Rows on which position and depth (columns 1-3) must be finite (``True``: the rows
        whose own ``contains`` is 1); elsewhere they are not looked at (NaN for "cannot be
        determined").
    columns : sequence of int, default=(1, 2, 3)
        The columns ``located`` applies to (a metric of the depth needs only column 3).

    Returns
    -------
    y : ndarray of shape (n, 4), float64
    contains : ndarray of shape (n,), bool

    Raises
    ------
    ValueError
        Naming the expected columns, the shape found, or the column and rows at fault.

    Examples
    --------
    >>> nan = float("nan")
    >>> y, contains = check_epicentre_array([[1, 0.5, -2.0, 10.0], [0, nan, nan, nan]])
    >>> contains.tolist()
    [True, False]
    >>> check_epicentre_array([[2, 0, 0, 0]], "y_pred")
    Traceback (most recent call last):
    ...
    ValueError: y_pred's column 0 ('contains') must be 0 or 1, got [2.0] at rows [0]
    """
    expected = f"(n_samples, 4) with the columns {EPICENTRE_COLUMNS}"
    try:
        y = np.array(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {expected}") from None
    if y.ndim != 2 or y.shape[1] != len(EPICENTRE_COLUMNS):
        raise ValueError(f"{name} must have shape {expected}, got shape {y.shape}")
    bad = ~np.isin(y[:, 0], (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name}'s column 0 ({EPICENTRE_COLUMNS[0]!r}) must be 0 or 1, got "
                         f"{y[bad, 0][:3].tolist()} at rows {np.flatnonzero(bad)[:3].tolist()}")
    contains = y[:, 0] == 1.0
    where = f"{EPICENTRE_COLUMNS[0]}=1" if located is True else f"the true {EPICENTRE_COLUMNS[0]}=1"
    if located is True:
        located = contains
    elif located is not None:
        located = np.asarray(located, dtype=bool)
        if located.shape != (len(y),):
            raise ValueError(f"{name} has {len(y)} rows but located has shape {located.shape}")
    if located is not None:
        for j in columns:
            missing = located & ~np.isfinite(y[:, j])
            if missing.any():
                raise ValueError(
                    f"{name}'s column {j} ({EPICENTRE_COLUMNS[j]!r}) must be finite where {where}, got "
                    f"{y[missing, j][:3].tolist()} at rows "
                    f"{np.flatnonzero(missing)[:3].tolist()}")
    return y, contains


def _event_key(value) -> str:
    """An event id as the file's group name: ``611645479``, ``"611645479"`` and ``611645479.0`` agree."""
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).decode("utf-8")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and text.lstrip("+-").replace(".", "", 1).isdigit() else text


def _read_columns(table: Path) -> dict:
    """``{column: list of values}`` of a CSV or Parquet table."""
    kind = _FORMATS.get(table.suffix.lower())
    if kind is None:
        raise ValueError(f"epicentre table {table}: unknown format {table.suffix or '(no extension)'!r}; "
                         f"expected a CSV (.csv) or Parquet (.parquet, .pq) file")
    if kind == "parquet":
        parquet = import_optional("pyarrow.parquet", extra="parquet")
        try:
            return parquet.read_table(table).to_pydict()
        except Exception as exc:  # pyarrow raises its own types for every kind of bad file
            raise ValueError(f"epicentre table {table} cannot be read as Parquet ({exc})") from exc
    with open(table, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
        names = reader.fieldnames or []
    return {name: [row.get(name) for row in rows] for name in names}


def _rename(data, columns):
    if columns is None:
        return data
    if not isinstance(columns, Mapping):
        raise TypeError(f"columns must be a mapping from the table's column names to skquake's "
                        f"({', '.join(TABLE_COLUMNS)}), got {columns!r}")
    unknown = {ours for ours in columns.values() if ours not in TABLE_COLUMNS}
    if unknown:
        raise ValueError(f"columns={dict(columns)!r} maps to {sorted(unknown)}, which are not epicentre table "
                         f"columns; map the table's names to {', '.join(TABLE_COLUMNS)}")
    return {columns.get(name, name): values for name, values in data.items()}


def _read_table(table, columns=None) -> dict:
    """``{event_id: (longitude, latitude, depth_km)}`` of a table; the errors name it."""
    table = check_input_file(table, "epicentre table")
    data = _rename(_read_columns(table), columns)
    missing = [name for name in TABLE_COLUMNS if name not in data]
    if missing:
        raise ValueError(f"epicentre table {table} has no column {', '.join(map(repr, missing))} (columns found: "
                         f"{', '.join(map(repr, data)) or 'none'}); expected {', '.join(TABLE_COLUMNS)}, or pass "
                         "columns={'its name': 'ours', ...} to map its names")
    out = {}
    for row, raw_id in enumerate(data["event_id"]):
        if raw_id is None or str(raw_id).strip() == "":
            raise ValueError(f"epicentre table {table}: row {row} has no event_id")
        key = _event_key(raw_id)
        if key in out:
            raise ValueError(f"epicentre table {table}: event {key!r} appears more than once; expected one "
                             "row per event")
        values = []
        for name in TABLE_COLUMNS[1:]:
            raw = data[name][row]
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = np.nan
            if not np.isfinite(value):
                raise ValueError(f"epicentre table {table}: event {key!r} has {name} {raw!r}; expected a "
                                 "finite number")
            values.append(value)
        out[key] = _checked(tuple(values), f"epicentre table {table}: event {key!r}")
    return out


def _checked(epicentre, where):
    longitude, latitude, _ = epicentre
    if not (-180.0 <= longitude <= 180.0 and -90.0 <= latitude <= 90.0):
        raise ValueError(f"{where} has longitude {longitude} and latitude {latitude}; expected degrees "
                         "(EPSG:4326) within [-180, 180] and [-90, 90]")
    return epicentre


def _epicentres(path, layout, f, events, table, columns):
    """``{event: (longitude, latitude, depth_km)}`` for ``events`` (keys of the open file ``f``)."""
    if table is not None:
        if isinstance(table, Mapping):
            rows = {_event_key(event): values for event, values in table.items()}
        else:
            rows = _read_table(table, columns)
        absent = [event for event in events if _event_key(event) not in rows]
        if absent:
            source = "the given mapping" if isinstance(table, Mapping) else f"epicentre table {table}"
            raise ValueError(f"{source} has no row for {len(absent)} of the {len(events)} events of {path} "
                             f"that are needed, e.g. {', '.join(map(repr, absent[:_SHOWN]))}; expected one row "
                             "per event id (the file's group names)")
        return {event: tuple(float(v) for v in rows[_event_key(event)]) for event in events}
    out = {}
    for event in events:
        group = f[event]
        missing = [name for name in EPICENTRE_ATTRS if name not in group.attrs]
        if missing:
            raise MissingEpicentresError(
                f"{layout.path}: event {event!r} has no epicentre attribute {', '.join(map(repr, missing))} "
                f"(expected {', '.join(EPICENTRE_ATTRS)}; the real earthquakes.h5 has none); pass table= a CSV "
                f"or Parquet table with columns {', '.join(TABLE_COLUMNS)} (the release's epicenters.parquet, "
                "with columns= to map its names, or an export of the ISC bulletin)", path=layout.path, key=group.name)
        values = tuple(layout.number_attr(group, name, f"event {event!r}") for name in EPICENTRE_ATTRS)
        if not np.all(np.isfinite(values)):
            layout.fail(f"event {event!r} has epicentre attributes {dict(zip(EPICENTRE_ATTRS, values))}; "
                        "expected finite numbers", key=group.name)
        try:
            out[event] = _checked(values, f"event {event!r}")
        except ValueError as exc:
            layout.fail(str(exc), key=group.name)
    return out


@validate_params(
    {"path": [str, os.PathLike], "table": [None, str, os.PathLike, Mapping], "columns": [None, Mapping]},
    prefer_skip_nested_validation=True,
)
def read_epicentres(path, table=None, columns=None):
    """The epicentre of every event of a QuakeSet file: ``{event_id: (longitude, latitude, depth_km)}``.

    Parameters
    ----------
    path : str or path-like
        The QuakeSet HDF5 file.
    table : str, path-like or None, default=None
        A CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) table with one row per event and the
        columns :data:`TABLE_COLUMNS` (``event_id``, ``longitude``, ``latitude`` in degrees,
        EPSG:4326, ``depth_km``); rows of other events are ignored. None: the event attributes
        ``epicentre_longitude``, ``epicentre_latitude`` and ``depth_km`` (synthetic files).
    columns : mapping or None, default=None
        Renames the table's columns to ours, e.g. ``{"lon": "longitude", "depth": "depth_km"}``.

    Returns
    -------
    dict
        Event id (the file's group name) -> ``(longitude, latitude, depth_km)`` floats, in the
        file's event order.

    Raises
    ------
    ValueError
        A table without one of the columns (naming those missing and those found), without a
        row for some events of the file (naming the table and the first event ids), or with a
        value that is not a finite number; a file without epicentre attributes and no table
        (a :class:`QuakeSetFormatError` saying to pass a table).

    Examples
    --------
    >>> from skquake.datasets import make_quakeset, read_epicentres
    >>> path = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=3, patch_size=8)
    >>> epicentres = read_epicentres(path)
    >>> len(epicentres), len(next(iter(epicentres.values())))
    (3, 3)
    """
    check_hdf5_source(path, "footprints and epicentres")
    with QuakeSet(path, split="all") as ds:  # validates the layout; events in the file's order
        events = list(dict.fromkeys(ds.groups.tolist()))
    with open_index(path, what="QuakeSet file", error=QuakeSetFormatError) as (f, layout, _):
        return _epicentres(layout.path, layout, f, events, table, columns)


def epicentre_targets(ds, table=None, columns=None):
    """``y`` (n, 4) in :data:`EPICENTRE_COLUMNS` order for the samples of the QuakeSet ``ds``."""
    y = np.full((len(ds), len(EPICENTRE_COLUMNS)), np.nan)
    y[:, 0] = 0.0
    positive = np.flatnonzero(ds.labels == 1)
    events = sorted(set(ds.groups[positive].tolist()))
    with open_index(ds.path, what="QuakeSet file", error=QuakeSetFormatError) as (f, layout, _):
        epicentres = _epicentres(layout.path, layout, f, events, table, columns)
        # Every patch group of an event has a positive sample, so the index lists them all.
        footprints = {event: patch_coordinates(layout, f[event], sorted(set(ds.patches[ds.groups == event])),
                                               ds.image_shape[1:]) for event in events}
    for i in positive:
        event = str(ds.groups[i])
        longitude, latitude, depth = epicentres[event]
        x, y_coords = footprints[event][str(ds.patches[i])]
        contains, east, north, _, _ = epicentre_on_patch(x, y_coords, longitude, latitude)
        y[i] = (float(contains), east, north, depth)
    return y


@validate_params(
    {
        **_PARAMETER_CONSTRAINTS,
        "pool": [StrictInterval(Integral, 1, None, closed="left")],
        "table": [None, str, os.PathLike, Mapping],
        "columns": [None, Mapping],
    },
    prefer_skip_nested_validation=True,
)
def load_epicentre(path, split="train", mode="bitemporal", pool=1, table=None, fill_value=0.0, columns=None):
    """Read a QuakeSet split with epicentre targets as ``(X, y, groups)`` (QuakeSet tasks 3 and 7).

    Parameters
    ----------
    path, split, mode, pool, fill_value
        As for :func:`load_quakeset`: ``X`` is float32 ``(n, 4, H // pool, W // pool)``
        (bitemporal, task 3) or ``(n, 2, ...)`` (single image, task 7), linear, NaN filled.
    table, columns
        Where the epicentres come from (:func:`read_epicentres`); ``table`` may also be the
        mapping :func:`read_epicentres` returns. Only the events of ``split`` need a row.

    Returns
    -------
    X : ndarray of float32
    y : ndarray of float64, shape (n, 4)
        :data:`EPICENTRE_COLUMNS`: ``contains`` (1.0 when the patch footprint contains the
        epicentre, else 0.0; 0.0 for negatives), ``east_km`` / ``north_km`` (the epicentre's
        offset from the footprint's centre on the local tangent plane, finite for every
        positive, also outside the patch; NaN for negatives), ``depth_km`` (the hypocentre
        depth; NaN for negatives).
    groups : ndarray of str, shape (n,)
        Event id of each sample.

    Examples
    --------
    >>> from skquake.datasets import load_epicentre, make_quakeset
    >>> path = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=6, patch_size=8)
    >>> X, y, groups = load_epicentre(path, split="all", pool=2)
    >>> X.shape[1:], y.shape[1], bool((y[:, 0] == 1).any())
    ((4, 4, 4), 4, True)
    """
    check_hdf5_source(path, "footprints and epicentres")
    with QuakeSet(path, split=split, mode=mode) as ds:  # the index only: targets fail before pixels
        y = epicentre_targets(ds, table=table, columns=columns)
    X, _, groups = load_quakeset(path, split=split, mode=mode, pool=pool, fill_value=fill_value)
    return X, y, groups


def read_patch_centres(ds) -> dict:
    """The footprint centres of the samples of a QuakeSet: where their epicentre offsets start.

    ``east_km`` / ``north_km`` (:func:`load_epicentre`, the epicentre models' predictions) are
    offsets from the centre of the sample's patch footprint; this gives those centres, so that
    a predicted offset becomes a longitude and latitude (:func:`skquake.utils.offset_lonlat`).

    Parameters
    ----------
    ds : QuakeSet
        An open QuakeSet (its ``path``, ``groups``, ``patches`` and ``image_shape``).

    Returns
    -------
    dict
        ``{(event_id, patch): (longitude, latitude)}`` for the samples' patches; an event
        without ``x`` / ``y`` datasets is left out.

    Raises
    ------
    QuakeSetFormatError
        An event's coordinates do not fit the footprint assumption (docs/data.md), naming the
        event and the shapes found.

    Examples
    --------
    >>> from skquake.datasets import QuakeSet, make_quakeset
    >>> path = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=2, patch_size=8)
    >>> with QuakeSet(path, split="all") as ds:
    ...     centres = read_patch_centres(ds)
    >>> len(centres) == len(set(zip(ds.groups.tolist(), ds.patches.tolist())))
    True
    """
    out = {}
    with open_index(ds.path, what="QuakeSet file", error=QuakeSetFormatError) as (f, layout, _):
        for event in dict.fromkeys(ds.groups.tolist()):
            group = f[event]
            if "x" not in group or "y" not in group:
                continue
            patches = sorted(set(ds.patches[ds.groups == event].tolist()))
            coordinates = patch_coordinates(layout, group, patches, ds.image_shape[1:])
            out.update({(event, patch): footprint_centre(x, y) for patch, (x, y) in coordinates.items()})
    return out
