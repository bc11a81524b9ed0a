"""Scene prediction with change detectors and epicentre models: their maps, points and estimate."""
import csv
import doctest
import json
import pathlib
import re

import numpy as np
import pytest
from sklearn.utils.metaestimators import available_if

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin

from skquake.cli import main
from skquake.inference import predict_scene, predict_scene_arrays
from skquake.inference._scene_grid import TileGrid
from skquake.inference._scene_outputs import EpicentreCombiner, EpicentrePlacer
from skquake.models.change import LogRatioChangeDetector, PCAKMeansChangeDetector
from skquake.models.epicentre import EpicentreEstimator
from skquake.utils import offset_lonlat

from .test_scene import (
    CRS,
    TRANSFORM,
    log_ratio_mask,
    quakeset_scene,
    read,
    scene_arrays,
    write_tif,
)

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
UTM33 = "EPSG:32633"
GEOGRAPHIC = from_origin(15.0, 45.0, 1e-4, 1e-4)  # ~11 m x 8 m pixels at 45 N


def change_scene(height=64, width=96, seed=0):
    """Speckle pairs; the post scene is 10 x brighter (+10 dB) in a 16 x 16 square at (8, 8)."""
    pre, post = np.random.default_rng(seed).gamma(4.4, 1 / 4.4, size=(2, 2, height, width)).astype(np.float32)
    post[:, 8:24, 8:24] *= 10.0
    return pre, post


def fitted_detector(detector):
    pre, post = change_scene(seed=1)
    return detector.fit(np.concatenate([pre, post])[None, :, :16, :16])  # 16 x 16 training pairs


# ----------------------------------------------------------------------------- change detectors
@pytest.mark.parametrize("detector", [LogRatioChangeDetector(), PCAKMeansChangeDetector(random_state=0)],
                         ids=lambda d: type(d).__name__)
def test_change_mask_of_one_tile_is_the_detectors_mask(detector, tmp_path):
    pre, post = change_scene(height=64, width=64)
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post))
    detector = fitted_detector(detector)
    out = predict_scene(detector, *paths, tmp_path / "out", tile_size=64, overlap=0.0, threshold=0.05)
    assert set(out) == {"change_fraction", "change_mask", "csv", "geojson"}
    expected = detector.predict(np.concatenate([pre, post])[None])[0]
    mask, crs, transform = read(out["change_mask"])
    np.testing.assert_array_equal(mask, expected)
    assert crs.to_string() == CRS and transform == TRANSFORM
    assert mask[10:22, 10:22].all() and 0 < mask.mean() < 0.5
    fraction, crs, transform = read(out["change_fraction"])
    assert fraction.dtype == np.float32 and fraction.shape == (1, 1) and crs.to_string() == CRS
    assert transform == TRANSFORM @ rasterio.Affine.scale(64)
    np.testing.assert_allclose(fraction[0, 0], expected.mean(), rtol=1e-6)
    with open(out["csv"], newline="") as f:
        (row,) = csv.DictReader(f)
    assert float(row["value"]) == pytest.approx(expected.mean())
    with rasterio.open(out["change_fraction"]) as ds:
        assert ds.tags()["skquake_output"] == "change_fraction"


def test_change_fraction_is_each_tiles_flagged_share():
    pre, post = change_scene()
    detector = fitted_detector(LogRatioChangeDetector())
    out = predict_scene_arrays(detector, pre, post, TRANSFORM, overlap=0.0, threshold=0.28)
    # the tile size is the training pairs' (16); without overlap every pixel is its one tile's mask
    masks = detector.predict(np.stack([np.concatenate([pre, post])[:, 16 * i: 16 * i + 16, 16 * j: 16 * j + 16]
                                       for i in range(4) for j in range(6)]))
    np.testing.assert_array_equal(out["change_mask"], masks.reshape(4, 6, 16, 16).swapaxes(1, 2).reshape(64, 96))
    np.testing.assert_allclose(out["change_fraction"], masks.mean(axis=(1, 2)).reshape(4, 6), rtol=1e-6)
    listed = {(t["tile_row"], t["tile_col"]) for t in out["tiles"]}
    assert listed == {(int(r), int(c)) for r, c in zip(*np.nonzero(out["change_fraction"] >= 0.28))}
    assert listed and len(listed) < 24
    # the changed square fills tile (0, 0) from (8, 8), a quarter of tiles (0, 1), (1, 0) and (1, 1)
    assert (out["change_mask"][8:24, 8:24] == 1).mean() > 0.95
    # overlapping tiles are merged (centre weights), the grid follows the overlap
    merged = predict_scene_arrays(detector, pre, post, overlap=0.5)
    assert merged["change_fraction"].shape == (7, 11) and merged["change_mask"].shape == (64, 96)
    assert (merged["change_mask"][8:24, 8:24] == 1).mean() > 0.9


def test_change_fraction_counts_pixels_with_data_only(tmp_path):
    pre, post = change_scene()
    post[:, :, 48:56] = -9999.0  # a no-data band through tiles of column 1 (32..64 at tile 32)
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post, nodata=-9999.0))
    detector = fitted_detector(LogRatioChangeDetector())
    out = predict_scene(detector, *paths, tmp_path / "out", tile_size=32, overlap=0.0)
    mask, _, _ = read(out["change_mask"])
    fraction, _, _ = read(out["change_fraction"])
    assert (mask[:, 48:56] == 255).all()
    tile = mask[:32, 32:64]
    np.testing.assert_allclose(fraction[0, 1], (tile == 1).sum() / (tile != 255).sum(), rtol=1e-6)


def test_change_detector_refuses_a_second_change_model_and_single_mode(tmp_path):
    pre, post = change_scene()
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post))
    detector = fitted_detector(LogRatioChangeDetector())
    with pytest.raises(ValueError, match="is a change detector: it makes change_mask.tif itself; drop change_model="):
        predict_scene(detector, *paths, tmp_path / "out", change_model=log_ratio_mask)
    with pytest.raises(ValueError, match="takes 4 channels, but mode='single' makes 2 .*pass mode='bitemporal'"):
        predict_scene(detector, None, paths[1], tmp_path / "out", mode="single")
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- epicentre models
class FixedEpicentre(EpicentreEstimator):
    """Stand-in epicentre model: containment = share of pixels whose VV brightened more than 3 dB;
    the epicentre ``offset`` (east, north) km from every tile's centre, ``depth`` km deep."""

    classifier = regressor = None  # EpicentreEstimator's tags read them

    def __init__(self, offset=(0.3, -0.2), depth=10.0, proba=True):
        self.offset, self.depth, self.proba = offset, depth, proba

    def fit(self, X=None, y=None):
        self.input_shape_, self.classes_ = (4, 16, 16), np.array([0, 1])
        return self

    def _share(self, X):
        return log_ratio_mask(X).mean(axis=(1, 2))

    def predict(self, X):
        n = len(X)
        return np.column_stack([self._share(X) >= 0.5, np.tile([*self.offset, self.depth], (n, 1))])

    @available_if(lambda self: self.proba)
    def predict_proba(self, X):
        p = self._share(X)
        return np.column_stack([1 - p, p])


def check_points(records, place):
    assert records
    for r in records:
        x, y = place(r["centre_x"], r["centre_y"])
        assert (r["x"], r["y"]) == pytest.approx((x, y), abs=1e-9, rel=1e-12)
        assert (r["east_km"], r["north_km"], r["depth_km"]) == pytest.approx((0.3, -0.2, 10.0))


def test_epicentres_are_tile_centre_plus_offset_in_a_projected_crs(tmp_path):
    pre, post = scene_arrays()
    kwargs = {"crs": UTM33}
    paths = (write_tif(tmp_path / "pre.tif", pre, **kwargs), write_tif(tmp_path / "post.tif", post, **kwargs))
    out = predict_scene(FixedEpicentre().fit(), *paths, tmp_path / "out", threshold=0.6)
    assert set(out) == {"containment", "epicentres_csv", "epicentres_geojson", "summary", "epicentre"}
    containment, crs, transform = read(out["containment"])
    assert containment.shape == (11, 19) and crs.to_string() == UTM33
    assert transform == TRANSFORM @ rasterio.Affine.translation(4, 4) @ rasterio.Affine.scale(8)
    with open(out["epicentres_csv"], newline="") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    # threshold filtering: the rows are the tiles of the map at or above it
    assert {(int(r["tile_row"]), int(r["tile_col"])) for r in rows} == \
        {(int(i), int(j)) for i, j in zip(*np.nonzero(containment >= 0.6))}
    assert all(r["containment"] >= 0.6 and r["tile_row"] <= 4 and r["tile_col"] <= 4 for r in rows) and rows
    for r in rows:
        assert (r["centre_x"], r["centre_y"]) == TRANSFORM @ (8 * r["tile_col"] + 8, 8 * r["tile_row"] + 8)
    check_points(rows, lambda x, y: (x + 300.0, y - 200.0))  # metres
    collection = json.loads(out["epicentres_geojson"].read_text())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32633"
    assert [f["geometry"] for f in collection["features"]] == \
        [{"type": "Point", "coordinates": [r["x"], r["y"]]} for r in rows]
    assert collection["features"][0]["properties"]["depth_km"] == 10.0
    # one estimate: the same as in epicentre.json, from tiles overlapping the most probable one
    estimate = out["epicentre"]
    assert json.loads(out["summary"].read_text())["epicentre"] == estimate
    best = max(rows, key=lambda r: r["containment"])
    assert (estimate["tile_row"], estimate["tile_col"]) == (best["tile_row"], best["tile_col"])
    assert estimate["crs"] == UTM33 and estimate["n_listed"] == len(rows) and estimate["depth_km"] == 10.0
    assert 1 <= estimate["n_tiles"] <= 9
    assert abs(estimate["x"] - best["x"]) < 16 * 10 and abs(estimate["y"] - best["y"]) < 16 * 10


def test_epicentres_in_a_geographic_crs_use_offset_lonlat(tmp_path):
    pre, post = scene_arrays()
    arrays = predict_scene_arrays(FixedEpicentre().fit(), pre, post, GEOGRAPHIC, crs="EPSG:4326", threshold=0.6)
    check_points(arrays["epicentres"], lambda x, y: offset_lonlat(x, y, 0.3, -0.2))
    assert 15.0 < arrays["epicentre"]["x"] < 15.02 and 44.99 < arrays["epicentre"]["y"] < 45.0
    kwargs = {"crs": "EPSG:4326", "transform": GEOGRAPHIC}
    paths = (write_tif(tmp_path / "pre.tif", pre, **kwargs), write_tif(tmp_path / "post.tif", post, **kwargs))
    files = predict_scene(FixedEpicentre().fit(), *paths, tmp_path / "out", threshold=0.6)
    np.testing.assert_array_equal(read(files["containment"])[0], arrays["containment"])
    assert files["epicentre"] == pytest.approx(arrays["epicentre"])
    collection = json.loads(files["epicentres_geojson"].read_text())
    # GeoJSON's own CRS (longitude, latitude), not EPSG:4326's latitude-first URN
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:OGC:1.3:CRS84"
    assert [f["geometry"]["coordinates"] for f in collection["features"]] == \
        [[r["x"], r["y"]] for r in arrays["epicentres"]]


def test_containment_is_the_prediction_without_predict_proba():
    pre, post = scene_arrays()
    model = FixedEpicentre(proba=False).fit()
    assert not hasattr(model, "predict_proba")
    out = predict_scene_arrays(model, pre, post, TRANSFORM, crs=UTM33)
    with_proba = predict_scene_arrays(FixedEpicentre().fit(), pre, post, TRANSFORM, crs=UTM33)
    np.testing.assert_array_equal(out["containment"], with_proba["containment"] >= 0.5)
    assert {(r["tile_row"], r["tile_col"]) for r in out["epicentres"]} == \
        {(r["tile_row"], r["tile_col"]) for r in with_proba["epicentres"]}


def test_no_tile_at_the_threshold_gives_no_estimate(tmp_path):
    pre, post = scene_arrays()
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post))
    out = predict_scene(FixedEpicentre().fit(), *paths, tmp_path / "out", threshold=1.5)
    assert out["epicentre"] is None and json.loads(out["summary"].read_text())["epicentre"] is None
    assert json.loads(out["epicentres_geojson"].read_text())["features"] == []


def test_epicentres_need_a_crs_they_can_be_placed_in(tmp_path):
    pre, post = scene_arrays()
    paths = (write_tif(tmp_path / "pre.tif", pre, crs=None), write_tif(tmp_path / "post.tif", post, crs=None))
    with pytest.raises(ValueError, match="post.tif has no CRS: an epicentre model's points"):
        predict_scene(FixedEpicentre().fit(), *paths, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="pass the arrays' transform= and crs="):
        predict_scene_arrays(FixedEpicentre().fit(), pre, post, TRANSFORM)
    with pytest.raises(ValueError, match="neither projected nor geographic"):
        EpicentrePlacer(rasterio.crs.CRS.from_epsg(4978), "scene.tif")  # geocentric
    feet = EpicentrePlacer(rasterio.crs.CRS.from_epsg(2263), "scene.tif")  # New York, US survey feet
    assert feet.place(0.0, 0.0, 1.0, 0.0) == pytest.approx((1000 / 0.3048006096, 0.0))


@pytest.mark.parametrize("tile, step", [(16, 8), (16, 4), (16, 16), (32, 12)])
def test_combined_estimate_streams_like_the_whole_list(tile, step):
    # the combiner keeps only the rows that can overlap; it must give what the whole list gives
    grid = TileGrid(200, 200, tile, step)
    placer = EpicentrePlacer(rasterio.crs.CRS.from_string(UTM33), "scene")
    rng = np.random.default_rng(tile + step)
    combiner, records = EpicentreCombiner(grid, placer), []
    for row in range(grid.n_rows):
        cols = np.flatnonzero(rng.random(grid.n_cols) < 0.3)
        row_records = [{"tile_row": row, "tile_col": int(c), "containment": float(rng.choice([0.5, 0.7, 0.9, 0.95])),
                        "x": float(rng.normal()), "y": float(rng.normal()), "depth_km": float(rng.uniform(5, 15))}
                       for c in cols]
        combiner.add_row(row_records)
        records += row_records
    best = max(records, key=lambda r: r["containment"])  # the first on ties
    group = [r for r in records if abs(r["tile_row"] - best["tile_row"]) * step < tile
             and abs(r["tile_col"] - best["tile_col"]) * step < tile]
    w = [r["containment"] for r in group]
    result = combiner.result()
    assert (result["tile_row"], result["tile_col"]) == (best["tile_row"], best["tile_col"])
    assert result["n_tiles"] == len(group) and result["n_listed"] == len(records)
    assert result["x"] == pytest.approx(np.average([r["x"] for r in group], weights=w))
    assert result["depth_km"] == pytest.approx(np.average([r["depth_km"] for r in group], weights=w))


# ----------------------------------------------------------------------------- saved models, the CLI
@pytest.fixture(scope="module")
def saved_models(tiny_quakeset, tmp_path_factory):
    from skquake.datasets import load_epicentre
    from skquake.models import create_model, save_model

    folder = tmp_path_factory.mktemp("scene-tasks")
    X, y, _ = load_epicentre(tiny_quakeset, "train")
    epicentre = create_model("epicentre-rf", epicentre__classifier__n_estimators=10,
                             epicentre__regressor__regressor__n_estimators=10).fit(X, y)
    change = create_model("change-logratio-otsu").fit(X[:4])
    return {"epicentre": (epicentre, save_model(epicentre, folder / "epi.skq", model="epicentre-rf",
                                                data=tiny_quakeset)),
            "change": (change, save_model(change, folder / "change.skq", model="change-logratio-otsu",
                                          data=tiny_quakeset))}


@pytest.fixture
def patch_scene(tiny_quakeset, tmp_path):
    pre, post, patches = quakeset_scene(tiny_quakeset)
    return write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post), patches


def test_a_registered_epicentre_model_maps_its_predictions(saved_models, patch_scene, tmp_path):
    model, _ = saved_models["epicentre"]
    *paths, patches = patch_scene
    out = predict_scene(model, *paths, tmp_path / "out", threshold=0.0)
    containment, _, _ = read(out["containment"])
    X = patches.reshape((-1,) + patches.shape[2:])
    # tiles (2i, 2j) are exactly the patches (32-px tiles every 16 px): the model's own predictions
    np.testing.assert_allclose(containment[::2, ::2], model.predict_proba(X)[:, 1].reshape(4, 6), rtol=1e-6)
    with open(out["epicentres_csv"], newline="") as f:
        rows = {(int(r["tile_row"]), int(r["tile_col"])): r for r in csv.DictReader(f)}
    assert len(rows) == containment.size  # threshold 0: every tile
    predicted = model.predict(X).reshape(4, 6, 4)
    for (i, j), row in rows.items():
        if i % 2 == 0 and j % 2 == 0:
            east, north, depth = predicted[i // 2, j // 2, 1:]
            assert float(row["east_km"]) == pytest.approx(east) and float(row["depth_km"]) == pytest.approx(depth)
            assert float(row["x"]) == pytest.approx(float(row["centre_x"]) + 1000 * east)
            assert float(row["y"]) == pytest.approx(float(row["centre_y"]) + 1000 * north)


def test_predict_command_with_a_saved_change_model(saved_models, patch_scene, tmp_path, capsys):
    model, path = saved_models["change"]
    *scenes, patches = patch_scene
    out = tmp_path / "maps"
    assert main(["predict", str(path), "--pre", str(scenes[0]), "--post", str(scenes[1]), "--out", str(out),
                 "--overlap", "0", "--threshold", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "change_mask.tif" in printed and "change_fraction.tif" in printed and "tiles.geojson" in printed
    mask, crs, _ = read(out / "change_mask.tif")
    assert mask.shape == (128, 192) and crs.to_string() == CRS
    # 32-px tiles without overlap are the patches: the mask is the saved detector's, patch by patch
    expected = model.predict(patches.reshape((-1,) + patches.shape[2:]))
    np.testing.assert_array_equal(mask, expected.reshape(4, 6, 32, 32).swapaxes(1, 2).reshape(128, 192))
    assert (out / "tiles.csv").exists() and read(out / "change_fraction.tif")[0].shape == (4, 6)


def test_predict_command_with_a_saved_epicentre_model(saved_models, patch_scene, tmp_path, capsys):
    _, path = saved_models["epicentre"]
    *scenes, _ = patch_scene
    out = tmp_path / "maps"
    assert main(["predict", str(path), "--pre", str(scenes[0]), "--post", str(scenes[1]), "--out", str(out),
                 "--threshold", "0.0"]) == 0
    printed = capsys.readouterr().out
    assert "epicentres.csv" in printed and "epicentre.json" in printed
    summary = json.loads((out / "epicentre.json").read_text())["epicentre"]
    assert summary["crs"] == CRS and summary["n_listed"] == 7 * 11
    line = next(line for line in printed.splitlines() if line.startswith("epicentre: "))
    assert f"x={summary['x']:.1f}, y={summary['y']:.1f} ({CRS}), depth {summary['depth_km']:.3g} km" in line
    # no tile reaches the threshold: said in words, not as "None"
    assert main(["predict", str(path), "--pre", str(scenes[0]), "--post", str(scenes[1]), "--out", str(out),
                 "--threshold", "2", "--overwrite"]) == 0
    assert "epicentre: none (no tile reached --threshold 2)" in capsys.readouterr().out


def test_the_docs_example_runs_as_written(tmp_path, monkeypatch):
    block = re.search(r"<!-- scene-tasks-example -->\n```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert block, "docs/monitoring.md has no python block after <!-- scene-tasks-example -->"
    monkeypatch.chdir(tmp_path)
    test = doctest.DocTestParser().get_doctest(block.group(1), {}, "scene-tasks-example", str(DOCS), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0 and runner.tries > 10, "".join(report)
