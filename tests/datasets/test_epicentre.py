"""Epicentre targets: tables (CSV, Parquet), event attributes, footprints, old layouts, bad input."""
import csv
import shutil

import h5py
import numpy as np
import pytest

from skquake.datasets import (
    EPICENTRE_COLUMNS,
    QuakeSet,
    QuakeSetFormatError,
    load_epicentre,
    load_quakeset,
    read_epicentres,
)
from skquake.datasets._footprint import epicentre_on_patch
from skquake.datasets.synthetic import write_epicentre_table
from skquake.utils import InvalidParameterError, lonlat_offset

ATTRS = ("epicentre_longitude", "epicentre_latitude", "depth_km")


@pytest.fixture
def copy(tiny_quakeset, tmp_path):
    return shutil.copy(tiny_quakeset, tmp_path / "earthquakes.h5")


def _edit(path, edit):
    with h5py.File(path, "a") as f:
        edit(f)


def _old_layout(f):
    """What the real file looks like to skquake: 1-D x / y shared by the patches, no masks,
    no epicentre attributes (patch_0's grid becomes the event's)."""
    f.attrs.pop("generator_version")
    for event in f.values():
        for name in ("x", "y"):
            first = event[name][0]
            del event[name]
            event[name] = first
        for name in ATTRS:
            del event.attrs[name]
        for patch in [k for k in event if k not in ("x", "y")]:
            for mask in [k for k in event[patch] if k.startswith("mask_")]:
                del event[patch][mask]


def _first_event(path):
    with h5py.File(path, "r") as f:
        return sorted(f)[0]


def test_targets(tiny_quakeset):
    X, y, groups = load_epicentre(tiny_quakeset, split="all", pool=2)
    X0, labels, groups0 = load_quakeset(tiny_quakeset, split="all", pool=2)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(groups, groups0)
    assert EPICENTRE_COLUMNS == ("contains", "east_km", "north_km", "depth_km")
    assert y.dtype == np.float64 and y.shape == (len(X), 4)
    pos = labels == 1
    assert np.isfinite(y[pos]).all() and set(np.unique(y[pos, 0])) == {0.0, 1.0}
    assert np.all(y[~pos, 0] == 0) and np.isnan(y[~pos, 1:]).all()
    assert (y[pos, 3] >= 1).all() and (y[pos, 3] <= 70).all()
    Xs, ys, _ = load_epicentre(tiny_quakeset, split="test", mode="single")
    assert Xs.shape[1] == 2
    test = QuakeSet(tiny_quakeset, split="all").file_splits == "test"
    np.testing.assert_array_equal(ys, y[test])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_round_trip(tiny_quakeset, copy, tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    table = write_epicentre_table(tiny_quakeset, tmp_path / f"epicentres{suffix}")
    assert read_epicentres(tiny_quakeset, table=table) == read_epicentres(tiny_quakeset)
    with pytest.raises(FileExistsError):
        write_epicentre_table(tiny_quakeset, table)
    # a file without attributes reads the same targets from the table
    _edit(copy, lambda f: [f[e].attrs.pop(a) for e in f for a in ATTRS])
    np.testing.assert_array_equal(load_epicentre(copy, split="all", table=table)[1],
                                  load_epicentre(tiny_quakeset, split="all")[1])


def test_table_columns_and_ids_in_other_forms(tiny_quakeset, tmp_path):
    epicentres = read_epicentres(tiny_quakeset)
    path = tmp_path / "isc.csv"
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["eventid", "lat", "lon", "depth", "mb"])
        writer.writerow(["1", "0", "0", "5", "4.1"])  # an event the file does not have: ignored
        for event, (lon, lat, depth) in epicentres.items():
            writer.writerow([f"{event}.0", repr(lat), repr(lon), repr(depth), "5"])  # ids as floats
    mapping = {"eventid": "event_id", "lat": "latitude", "lon": "longitude", "depth": "depth_km"}
    assert read_epicentres(tiny_quakeset, table=path, columns=mapping) == epicentres
    # Parquet with integer ids
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    values = list(epicentres.values())
    pq.write_table(pa.table({"event_id": [int(e) for e in epicentres], "longitude": [v[0] for v in values],
                             "latitude": [v[1] for v in values], "depth_km": [v[2] for v in values]}),
                   tmp_path / "release.parquet")
    assert read_epicentres(tiny_quakeset, table=tmp_path / "release.parquet") == epicentres
    # the mapping read_epicentres returns is a table too
    np.testing.assert_array_equal(load_epicentre(tiny_quakeset, split="val", table=epicentres)[1],
                                  load_epicentre(tiny_quakeset, split="val")[1])


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_bad_tables(tiny_quakeset, tmp_path):
    epicentres = read_epicentres(tiny_quakeset)
    events = list(epicentres)
    rows = [[e, *map(repr, v)] for e, v in epicentres.items()]
    header = ["event_id", "longitude", "latitude", "depth_km"]
    table = _write_csv(tmp_path / "no_depth.csv", ["event_id", "longitude", "lat"], [r[:3] for r in rows])
    with pytest.raises(ValueError, match=r"no_depth.csv has no column 'latitude', 'depth_km' \(columns found: "
                                         r"'event_id', 'longitude', 'lat'\)"):
        read_epicentres(tiny_quakeset, table=table)
    table = _write_csv(tmp_path / "partial.csv", header, rows[3:])
    message = (rf"partial.csv has no row for 3 of the {len(events)} events of .*tiny.h5 that are needed, e\.g\. "
               + ", ".join(repr(e) for e in events[:3]))
    with pytest.raises(ValueError, match=message):
        read_epicentres(tiny_quakeset, table=table)
    with pytest.raises(ValueError, match="partial.csv has no row for"):
        load_epicentre(tiny_quakeset, split="all", table=table)
    table = _write_csv(tmp_path / "twice.csv", header, rows + rows[:1])
    with pytest.raises(ValueError, match=f"twice.csv: event '{events[0]}' appears more than once"):
        read_epicentres(tiny_quakeset, table=table)
    table = _write_csv(tmp_path / "nan.csv", header, [[rows[0][0], "nan", *rows[0][2:]]] + rows[1:])
    with pytest.raises(ValueError, match=f"nan.csv: event '{events[0]}' has longitude 'nan'; expected a finite"):
        read_epicentres(tiny_quakeset, table=table)
    table = _write_csv(tmp_path / "utm.csv", header, [[rows[0][0], "500000.0", *rows[0][2:]]] + rows[1:])
    with pytest.raises(ValueError, match=r"utm.csv: event .* has longitude 500000.0 .*expected degrees \(EPSG:4326\)"):
        read_epicentres(tiny_quakeset, table=table)
    (tmp_path / "table.txt").write_text("event_id\n")
    with pytest.raises(ValueError, match=r"table.txt: unknown format '.txt'; expected a CSV \(.csv\) or Parquet"):
        read_epicentres(tiny_quakeset, table=tmp_path / "table.txt")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_epicentres(tiny_quakeset, table=tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"maps to \['lat'\], which are not epicentre table columns"):
        read_epicentres(tiny_quakeset, table=tmp_path / "partial.csv", columns={"y": "lat"})
    with pytest.raises(InvalidParameterError, match="'columns' parameter of read_epicentres"):
        read_epicentres(tiny_quakeset, table=tmp_path / "partial.csv", columns=["lat"])
    with pytest.raises(ValueError, match="unknown format"):
        write_epicentre_table(tiny_quakeset, tmp_path / "out.xlsx")


def test_file_without_epicentres_says_to_pass_a_table(copy):
    _edit(copy, _old_layout)
    event = _first_event(copy)
    with pytest.raises(QuakeSetFormatError, match=rf"earthquakes.h5: event '{event}' has no epicentre attribute "
                                                  r"'epicentre_longitude', 'epicentre_latitude', 'depth_km' .*pass "
                                                  r"table= a CSV or Parquet table with columns event_id"):
        load_epicentre(copy, split="all")
    with pytest.raises(QuakeSetFormatError, match="pass table="):
        read_epicentres(copy)
    _edit(copy, lambda f: f[event].attrs.update({"epicentre_longitude": 1.0, "epicentre_latitude": 2.0}))
    with pytest.raises(QuakeSetFormatError, match=rf"event '{event}' has no epicentre attribute 'depth_km' \("):
        read_epicentres(copy)


def test_old_layout_shares_one_grid(tiny_quakeset, copy):
    """1-D x / y (the real file's form): every patch of an event has that footprint."""
    epicentres = read_epicentres(tiny_quakeset)
    _edit(copy, _old_layout)
    _, y, _ = load_epicentre(copy, split="all", table=epicentres)
    ds = QuakeSet(copy, split="all")
    with h5py.File(copy, "r") as f:
        for i in np.flatnonzero(ds.labels == 1):
            x_coords, y_coords = f[ds.groups[i]]["x"][()], f[ds.groups[i]]["y"][()]
            assert x_coords.shape == y_coords.shape == (32,)
            expected = epicentre_on_patch(x_coords, y_coords, *epicentres[ds.groups[i]][:2])[:3]
            np.testing.assert_allclose(y[i, :3], expected)
    # patch_0 kept its own grid: its targets are those of the new layout
    first = (ds.patches == "patch_0") & (ds.labels == 1)
    np.testing.assert_allclose(y[first], load_epicentre(tiny_quakeset, split="all")[1][first])


def _coords(event, name, data):
    def edit(f):
        del f[event][name]
        if data is not None:
            f[event][name] = data
    return edit


@pytest.mark.parametrize("make_edit, message", [
    (lambda e, n: _coords(e, "x", None),
     r"event '{e}' has no 'x' coordinate dataset, so its patch footprints are unknown; expected x of shape "
     r"\(32,\) and y of shape \(32,\) .*or x of shape \({n}, 32\) and y of shape \({n}, 32\)"),
    (lambda e, n: _coords(e, "y", np.zeros((32, 32))),  # a mesh grid
     r"event '{e}' has coordinates x of shape \({n}, 32\) and y of shape \(32, 32\) for {n} patch\(es\) of "
     r"32 x 32 pixels; expected x of shape \(32,\)"),
    (lambda e, n: _coords(e, "x", np.zeros((n + 1, 32))),
     r"event '{e}' has coordinates x of shape \({n1}, 32\) and y of shape \({n}, 32\)"),
    (lambda e, n: _coords(e, "x", np.linspace(500000, 500310, 32 * n).reshape(n, 32)),  # UTM metres
     r"'x' of event '{e}' \(patch 'patch_0'\) holds values from 500000.0 to .*expected longitudes in degrees "
     r"within \[-180.0, 180.0\] \(EPSG:4326\)"),
    (lambda e, n: _coords(e, "y", np.full((n, 32), 40.0)),
     r"'y' of event '{e}' \(patch 'patch_0'\) is not strictly monotonic"),
    (lambda e, n: _coords(e, "x", np.full((n, 32), "a", dtype="S1")),
     r"'/{e}/x' has dtype \|S1; expected longitudes in degrees"),
])
def test_bad_coordinates_name_file_event_and_shapes(copy, make_edit, message):
    ds = QuakeSet(copy, split="all")
    event = str(ds.groups[0])
    n = len(set(ds.patches[ds.groups == event]))
    _edit(copy, make_edit(event, n))
    with pytest.raises(QuakeSetFormatError, match="earthquakes.h5: " + message.format(e=event, n=n, n1=n + 1)):
        load_epicentre(copy, split="all")


def test_patch_not_named_by_its_row(copy):
    ds = QuakeSet(copy, split="all")
    event = next(e for e in ds.groups if (ds.groups == e).sum() >= 2)
    _edit(copy, lambda f: f[event].move("patch_0", "patch_9"))
    with pytest.raises(QuakeSetFormatError, match=rf"event '{event}' has per-patch coordinates .* a patch group "
                                                  r"is named 'patch_9'; expected patch_0 \.\.\. patch_"):
        load_epicentre(copy, split="all")


def test_footprint_geometry():
    lat = np.array([45.002, 45.001, 45.0])  # north up
    lon = np.array([10.0, 10.001, 10.002])
    contains, east, north, column, row = epicentre_on_patch(lon, lat, 10.001, 45.001)
    assert contains and (column, row) == (1.0, 1.0) and abs(east) < 1e-9 and abs(north) < 1e-9
    # the footprint extends half a pixel beyond the outer centres
    assert epicentre_on_patch(lon, lat, 9.99951, 45.001)[0]
    assert not epicentre_on_patch(lon, lat, 9.99949, 45.001)[0]
    assert not epicentre_on_patch(lon, lat, 10.001, 45.00251)[0]
    contains, east, north, column, row = epicentre_on_patch(lon, lat, 10.001, 45.1)
    assert not contains and row == pytest.approx(-98.0)
    np.testing.assert_allclose((east, north), lonlat_offset(10.001, 45.001, 10.001, 45.1), atol=1e-9)
    # south-up grids and the antimeridian
    assert epicentre_on_patch(lon, lat[::-1], 10.0, 45.0)[3:] == (0.0, 0.0)
    across = np.array([179.999, -180.0, -179.999])
    contains, east, _, column, _ = epicentre_on_patch(across, lat, 180.0, 45.001)
    assert contains and column == pytest.approx(1.0) and abs(east) < 1e-6


def test_bad_arguments(tiny_quakeset):
    with pytest.raises(InvalidParameterError, match="'mode' parameter of load_epicentre"):
        load_epicentre(tiny_quakeset, mode="triple")
    with pytest.raises(InvalidParameterError, match="'table' parameter of load_epicentre"):
        load_epicentre(tiny_quakeset, table=3)
    with pytest.raises(InvalidParameterError, match="'pool' parameter of load_epicentre"):
        load_epicentre(tiny_quakeset, pool=0)


def test_command_writes_the_table_with_the_file(tmp_path, capsys):
    from skquake.cli import main as skquake_main

    argv = ["make-quakeset", str(tmp_path / "q.h5"), "--n-events", "4", "--patch-size", "8",
            "--epicentre-table", str(tmp_path / "q.csv")]
    assert skquake_main(argv) == 0
    assert read_epicentres(tmp_path / "q.h5", table=tmp_path / "q.csv") == read_epicentres(tmp_path / "q.h5")
    argv[1] = str(tmp_path / "other.h5")
    assert skquake_main(argv) == 2  # the table exists: refused before the file is written
    assert "q.csv already exists; pass --overwrite" in capsys.readouterr().err
    assert not (tmp_path / "other.h5").exists()
