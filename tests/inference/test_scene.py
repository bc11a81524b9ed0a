"""Scene prediction on GeoTIFF pairs the tests write themselves (UTM 37N, as in Turkey).

``write_scene_pair`` is also what ``docs/images/scene_map.py`` renders the docs' map from.
"""
import csv
import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin

from skquake.inference import predict_scene, predict_scene_arrays
from skquake.inference._scene_grid import sample_units

CRS = "EPSG:32637"
TRANSFORM = from_origin(500000.0, 4200000.0, 10.0, 10.0)


# ----------------------------------------------------------------------------- helpers
def write_tif(path, array, *, crs=CRS, transform=TRANSFORM, nodata=None, descriptions=("VV", "VH"), tags=None):
    with rasterio.open(path, "w", driver="GTiff", height=array.shape[1], width=array.shape[2],
                       count=array.shape[0], dtype="float32", crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(array.astype(np.float32))
        if descriptions:
            ds.descriptions = descriptions
        if tags:
            ds.update_tags(**tags)
    return path


def scene_arrays(height=96, width=160, seed=0):
    """Linear sigma0 speckle; the post scene brightens (x4) in the top-left 48 x 48 corner."""
    rng = np.random.default_rng(seed)
    pre = rng.gamma(4.0, 0.05 / 4.0, size=(2, height, width)).astype(np.float32)
    post = rng.gamma(4.0, 0.05 / 4.0, size=(2, height, width)).astype(np.float32)
    post[:, :48, :48] *= 4.0
    return pre, post


def write_scene_pair(folder, height=96, width=160, seed=0, **kwargs):
    pre, post = scene_arrays(height, width, seed)
    return (write_tif(folder / "pre.tif", pre, **kwargs), write_tif(folder / "post.tif", post, **kwargs))


class MeanRegressor(RegressorMixin, BaseEstimator):
    """Stand-in regressor: the mean of channel ``channel`` of each tile (no learning)."""

    def __init__(self, size=16, channels=4, channel=2):
        self.size, self.channels, self.channel = size, channels, channel

    def fit(self, X=None, y=None):
        self.input_shape_ = (self.channels, self.size, self.size)
        return self

    def predict(self, X):
        assert X.shape[1:] == self.input_shape_ and X.dtype == np.float32
        return X[:, self.channel].mean(axis=(1, 2))


class ChangeClassifier(ClassifierMixin, BaseEstimator):
    """Stand-in detector: probability = share of pixels whose VV brightened more than 3 dB."""

    def fit(self, X=None, y=None):
        self.input_shape_, self.classes_ = (4, 16, 16), np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = log_ratio_mask(X).mean(axis=(1, 2))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.predict_proba(X).argmax(1)


def log_ratio_mask(X):
    """The change model of the tests: VV log-ratio post / pre above 3 dB, per pixel."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (10 * np.log10(X[:, 2] / X[:, 0]) > 3.0).astype(np.float32)


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.crs, ds.transform


@pytest.fixture
def pair(tmp_path):
    return write_scene_pair(tmp_path)


# ----------------------------------------------------------------------------- georeferencing, tiles
def test_outputs_keep_the_scene_georeferencing(pair, tmp_path):
    out = predict_scene(ChangeClassifier().fit(), *pair, tmp_path / "out", change_model=log_ratio_mask)
    assert set(out) == {"probability", "csv", "geojson", "change_mask"}
    prob, crs, transform = read(out["probability"])
    # 96 x 160 scene, tiles of 16 every 8 px: 11 x 19 tiles; one grid pixel per step, centred on its tile
    assert prob.shape == (11, 19) and crs.to_string() == CRS
    assert transform == TRANSFORM @ rasterio.Affine.translation(4, 4) @ rasterio.Affine.scale(8)
    centre = transform @ (0.5, 0.5)
    assert centre == TRANSFORM @ (8, 8)  # the centre of tile (0, 0)
    mask, crs, transform = read(out["change_mask"])
    assert mask.shape == (96, 160) and crs.to_string() == CRS and transform == TRANSFORM
    with rasterio.open(out["probability"]) as ds:
        assert ds.tags()["skquake_units_pre"] == "linear" and ds.tags()["skquake_step"] == "8"


def test_tiles_above_threshold_in_csv_and_geojson(pair, tmp_path):
    out = predict_scene(ChangeClassifier().fit(), *pair, tmp_path / "out", threshold=0.7)
    prob, _, _ = read(out["probability"])
    with open(out["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {(int(r), int(c)) for r, c in zip(*np.nonzero(prob >= 0.7))}
    assert {(int(r["tile_row"]), int(r["tile_col"])) for r in rows} == expected
    # the change is in the top-left 48 x 48 corner: tiles 0..4 (origin <= 32) only
    assert expected and all(r <= 4 and c <= 4 for r, c in expected)
    collection = json.loads(out["geojson"].read_text())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32637"
    assert len(collection["features"]) == len(rows)
    for row, feature in zip(rows, collection["features"]):
        y, x = int(row["row_off"]), int(row["col_off"])
        assert (y, x) == (8 * int(row["tile_row"]), 8 * int(row["tile_col"]))
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == list(TRANSFORM @ (x, y)) and ring[2] == list(TRANSFORM @ (x + 16, y + 16))
        assert float(row["value"]) == pytest.approx(feature["properties"]["value"])
        assert (float(row["centre_x"]), float(row["centre_y"])) == TRANSFORM @ (x + 8, y + 8)


def test_tile_values_are_the_tiles_of_the_scene(pair):
    pre, post = scene_arrays()
    out = predict_scene_arrays(MeanRegressor().fit(), pre, post, TRANSFORM, overlap=0.0)
    values = out["magnitude"]
    assert values.shape == (6, 10)  # 96 / 16, 160 / 16
    expected = post[0].reshape(6, 16, 10, 16).mean(axis=(1, 3))
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert out["tile_transform"] == TRANSFORM @ rasterio.Affine.scale(16)
    # 0.75 overlap: a tile every 4 px; tile (i, j) starts at (4 i, 4 j)
    values = predict_scene_arrays(MeanRegressor().fit(), pre, post, overlap=0.75)["magnitude"]
    assert values.shape == (21, 37)
    np.testing.assert_allclose(values[5, 7], post[0, 20:36, 28:44].mean(), rtol=1e-5)


def test_files_and_arrays_give_the_same_maps(pair, tmp_path):
    pre, post = scene_arrays()
    arrays = predict_scene_arrays(ChangeClassifier().fit(), pre, post, TRANSFORM, change_model=log_ratio_mask)
    files = predict_scene(ChangeClassifier().fit(), *pair, tmp_path / "out", change_model=log_ratio_mask)
    np.testing.assert_array_equal(read(files["probability"])[0], arrays["probability"])
    np.testing.assert_array_equal(read(files["change_mask"])[0], arrays["change_mask"])
    with open(files["csv"], newline="") as f:
        assert len(list(csv.DictReader(f))) == len(arrays["tiles"])


def test_pool_reads_tiles_of_pool_times_the_model_size():
    pre, post = scene_arrays()
    out = predict_scene_arrays(MeanRegressor(size=8).fit(), pre, post, pool=2, overlap=0.0)
    np.testing.assert_allclose(out["magnitude"], post[0].reshape(6, 16, 10, 16).mean(axis=(1, 3)), rtol=1e-5)


def test_single_mode_uses_the_post_scene_only(tmp_path):
    _, post = scene_arrays()
    path = write_tif(tmp_path / "post.tif", post)
    out = predict_scene(MeanRegressor(channels=2, channel=0).fit(), None, path, tmp_path / "out",
                        mode="single", overlap=0.0)
    np.testing.assert_allclose(read(out["magnitude"])[0], post[0].reshape(6, 16, 10, 16).mean(axis=(1, 3)),
                               rtol=1e-5)
    # the pre scene is not read in single mode
    again = predict_scene(MeanRegressor(channels=2, channel=0).fit(), tmp_path / "missing.tif", path,
                          tmp_path / "out2", mode="single", overlap=0.0)
    np.testing.assert_array_equal(read(again["magnitude"])[0], read(out["magnitude"])[0])


# ----------------------------------------------------------------------------- the change mask
def test_merged_change_mask_has_no_seams():
    pre, post = scene_arrays()
    constant = predict_scene_arrays(ChangeClassifier().fit(), pre, post,
                                    change_model=lambda X: np.full((len(X), 16, 16), 0.7))
    assert (constant["change_mask"] == 1).all()
    # a per-pixel rule gives, merged over overlapping tiles, the rule applied to the whole scene
    merged = predict_scene_arrays(ChangeClassifier().fit(), pre, post, overlap=0.75,
                                  change_model=log_ratio_mask)["change_mask"]
    direct = log_ratio_mask(np.concatenate([pre, post])[None])[0]
    np.testing.assert_array_equal(merged, direct)
    assert direct[:48, :48].mean() > 0.5 and direct[48:, 48:].mean() < 0.25


def test_tile_centres_win_over_tile_borders():
    # a model that sees change only near its tiles' left and right borders: with centre weights
    # the neighbouring tile, whose centre is nearer, wins everywhere inside the scene
    def borders(X):
        masks = np.ones((len(X), 16, 16), dtype=np.float32)
        masks[:, :, 4:12] = 0.0
        return masks

    pre, post = scene_arrays()
    mask = predict_scene_arrays(ChangeClassifier().fit(), pre, post, change_model=borders)["change_mask"]
    assert (mask[:, 4:156] == 0).all() and (mask[:, :4] == 1).all() and (mask[:, 156:] == 1).all()


def test_change_model_estimator_and_pooled_masks():
    class Change(BaseEstimator):
        def predict(self, X):
            return log_ratio_mask(X)[:, None]  # (n, 1, h, w)

    pre, post = scene_arrays()
    out = predict_scene_arrays(MeanRegressor(size=8).fit(), pre, post, pool=2, change_model=Change())
    assert out["change_mask"].shape == (96, 160)
    assert out["change_mask"][:40, :40].mean() > 0.9 and out["change_mask"][56:, 56:].mean() < 0.1


# ----------------------------------------------------------------------------- no-data
def test_nodata_areas_stay_nodata(tmp_path):
    pre, post = scene_arrays()
    post[:, 64:, 112:] = -9999.0  # the dataset's nodata value: a 32 x 48 hole in the corner
    pre[:, :8, :] = np.nan  # NaN in the pre scene: the first rows of each column of tiles
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post, nodata=-9999.0))

    class ZeroShare(MeanRegressor):
        def predict(self, X):  # share of filled pixels: the fill value is 0.0
            return (X == 0).any(axis=1).mean(axis=(1, 2))

    out = predict_scene(ZeroShare().fit(), *paths, tmp_path / "out", change_model=log_ratio_mask)
    values, _, _ = read(out["magnitude"])
    # tiles inside the hole are skipped (NaN); the first row of tiles is half NaN: kept, filled with 0.0
    assert np.isnan(values[8:, 14:]).all() and np.isfinite(values[:7, :13]).all()
    np.testing.assert_allclose(values[0, :13], 0.5)
    np.testing.assert_allclose(values[1:7, :13], 0.0)
    mask, _, _ = read(out["change_mask"])
    assert (mask[64:, 112:] == 255).all() and (mask[:8] == 255).all()
    assert set(np.unique(mask[8:64])) <= {0, 1}
    # max_nodata=0: any no-data pixel skips the tile
    values = predict_scene_arrays(ZeroShare().fit(), pre, np.where(post == -9999.0, np.nan, post),
                                  max_nodata=0.0)["magnitude"]
    assert np.isnan(values[0]).all() and np.isfinite(values[1:7, :13]).all()


def test_scene_edges_past_the_last_tile_are_padded_as_nodata():
    # 100 x 170 pixels: the last row of tiles (rows 88..104) is 4 / 16 outside the scene, the last
    # column (160..176) 6 / 16: both kept; the corner tile, 53 % outside, is skipped
    pre, post = scene_arrays(height=100, width=170)
    out = predict_scene_arrays(MeanRegressor().fit(), pre, post, overlap=0.5, change_model=log_ratio_mask)
    values = out["magnitude"]
    assert values.shape == (12, 21)
    assert np.isnan(values[-1, -1]) and np.isfinite(values).sum() == values.size - 1
    # pixels that only the skipped tile covers (rows 96.., columns 168..) are no-data in the mask
    mask = out["change_mask"]
    assert mask.shape == (100, 170) and (mask[96:, 168:] == 255).all()
    mask[96:, 168:] = 0
    assert set(np.unique(mask)) <= {0, 1}


# ----------------------------------------------------------------------------- units
def test_units_are_detected_from_values_and_tags(tmp_path):
    pre, post = scene_arrays()
    linear = predict_scene_arrays(ChangeClassifier().fit(), pre, post, change_model=log_ratio_mask)
    db = [10 * np.log10(a) for a in (pre, post)]
    assert sample_units(db[0], "pre") == "db" and sample_units(pre, "pre") == "linear"
    for kwargs in ({}, {"units": "db"}):
        out = predict_scene_arrays(ChangeClassifier().fit(), *db, change_model=log_ratio_mask, **kwargs)
        np.testing.assert_allclose(out["probability"], linear["probability"], atol=1e-6)
    # a units tag wins over the values: linear data tagged dB is read as dB (so it changes the maps)
    tagged = (write_tif(tmp_path / "pre.tif", pre, tags={"units": "dB"}),
              write_tif(tmp_path / "post.tif", post, tags={"units": "dB"}))
    out = predict_scene(ChangeClassifier().fit(), *tagged, tmp_path / "out")
    with rasterio.open(out["probability"]) as ds:
        assert ds.tags()["skquake_units_post"] == "db"
    # band units come first; and declared units override both
    with rasterio.open(tagged[0], "r+") as ds:
        ds.units = ("linear", "linear")
    out = predict_scene(ChangeClassifier().fit(), *tagged, tmp_path / "out2")
    with rasterio.open(out["probability"]) as ds:
        assert (ds.tags()["skquake_units_pre"], ds.tags()["skquake_units_post"]) == ("linear", "db")
    out = predict_scene(ChangeClassifier().fit(), *tagged, tmp_path / "out3", units="linear")
    np.testing.assert_array_equal(read(out["probability"])[0], linear["probability"])


@pytest.mark.parametrize("values, message", [
    (np.r_[np.full(70, 0.1), np.full(30, -12.0)], "30% of its sampled pixels are negative"),
    (np.full(10, np.nan), "all no-data"),
])
def test_ambiguous_units_are_refused(values, message):
    with pytest.raises(ValueError, match=message + ".*units='linear' or units='db'"):
        sample_units(values, "pre.tif")
    pre = np.broadcast_to(np.resize(values, 16 * 16).reshape(1, 16, 16), (2, 16, 16))
    with pytest.raises(ValueError, match="cannot tell the units of pre_array"):
        predict_scene_arrays(ChangeClassifier().fit(), pre, np.ones((2, 16, 16)))


# ----------------------------------------------------------------------------- grids, windowed reads
@pytest.mark.parametrize("change, shown", [
    ({"crs": "EPSG:32636"}, "EPSG:32636"),
    ({"transform": from_origin(500010.0, 4200000.0, 10.0, 10.0)}, "500010.0"),
    ({"shape": (96, 150)}, "150 x 96 pixels"),
])
def test_scenes_on_different_grids_are_refused(tmp_path, change, shown):
    pre, post = scene_arrays()
    if "shape" in change:
        post = post[:, : change["shape"][0], : change["shape"][1]]
    kwargs = {k: v for k, v in change.items() if k != "shape"}
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post, **kwargs))
    with pytest.raises(ValueError, match="different grids") as info:
        predict_scene(ChangeClassifier().fit(), *paths, tmp_path / "out")
    message = str(info.value)
    assert "pre.tif: EPSG:32637, 160 x 96 pixels" in message and shown in message and "Co-register" in message
    assert not (tmp_path / "out").exists()


def test_a_large_scene_is_read_one_strip_at_a_time(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    height, width = 400, 1200
    paths = [write_tif(tmp_path / f"{n}.tif", rng.gamma(4.0, 0.0125, size=(2, height, width))) for n in ("pre", "post")]
    reads = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        reads.append(out.shape)
        return out

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    out = predict_scene(ChangeClassifier().fit(), *paths, tmp_path / "out", change_model=log_ratio_mask)
    strips = [shape for shape in reads if shape[1:] != (64, 64)]  # the rest: the samples of units detection
    assert all(shape[0] == 2 and shape[1] <= 16 and shape[2] == width for shape in strips)
    assert len(strips) == 2 * 49 and len(reads) - len(strips) == 2 * 16  # 49 rows of tiles, 2 scenes
    assert read(out["change_mask"])[0].shape == (height, width)


# ----------------------------------------------------------------------------- a fitted skquake model
def quakeset_scene(path, rows=4, cols=6):
    """A scene laid out from a QuakeSet file's test patches: positives in the top-left 2 x 2 patches."""
    from skquake.datasets import load_quakeset

    X, y, _ = load_quakeset(path, "test")
    pos, neg = X[y == 1], X[y == 0]
    size = X.shape[-1]
    image = np.empty((4, rows * size, cols * size), dtype=np.float32)
    patches = np.empty((rows, cols) + X.shape[1:], dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            source = pos if i < 2 and j < 2 else neg
            patches[i, j] = source[(i * cols + j) % len(source)]
            image[:, i * size: (i + 1) * size, j * size: (j + 1) * size] = patches[i, j]
    return image[:2], image[2:], patches


def test_a_fitted_shallow_pipeline_maps_a_scene(tiny_quakeset, tmp_path):
    from skquake.datasets import load_quakeset
    from skquake.models import create_model

    X, y, _ = load_quakeset(tiny_quakeset, "train")
    model = create_model("rfc-change", rf__n_estimators=10, random_state=0).fit(X, y)
    pre, post, patches = quakeset_scene(tiny_quakeset)
    paths = (write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post))
    out = predict_scene(model, *paths, tmp_path / "out", change_model=log_ratio_mask)
    prob, crs, transform = read(out["probability"])
    assert prob.shape == (7, 11) and crs.to_string() == CRS
    assert transform == TRANSFORM @ rasterio.Affine.translation(8, 8) @ rasterio.Affine.scale(16)
    # tiles (2i, 2j) are exactly the patches: the map holds the model's own predictions
    expected = model.predict_proba(patches.reshape((-1,) + patches.shape[2:]))[:, 1].reshape(4, 6)
    np.testing.assert_allclose(prob[::2, ::2], expected, rtol=1e-6)
    assert prob[:3, :3].mean() > prob[5:, 5:].mean()


def test_a_fitted_model_gives_its_input_size(tiny_quakeset):
    from skquake.datasets import load_quakeset
    from skquake.models import create_model

    X, y, _ = load_quakeset(tiny_quakeset, "train", mode="single")
    model = create_model("rfc-change", rf__n_estimators=5).fit(X, y)
    _, post, _ = quakeset_scene(tiny_quakeset)
    out = predict_scene_arrays(model, None, post, mode="single", overlap=0.0)
    assert out["probability"].shape == (4, 6)
    with pytest.raises(ValueError, match=r"takes 2 channels, but mode='bitemporal' makes 4 .*pass mode='single'"):
        predict_scene_arrays(model, post, post)
    with pytest.raises(ValueError, match="tile_size=16 does not match RandomForestClassifier|tile_size=16 does not"
                                         " match Pipeline's input: 32 x 32 pixels at pool=1 are 32 scene pixels"):
        predict_scene_arrays(model, None, post, mode="single", tile_size=16)
    with pytest.raises(NotFittedError):
        predict_scene_arrays(create_model("rfc-change"), None, post, mode="single")


def test_a_deep_net_trained_on_pooled_data_maps_a_scene(tiny_quakeset):
    from skquake.datasets import load_quakeset
    from skquake.models.deep import QuakeRegressor
    from skquake.utils import average_pool

    X, y, _ = load_quakeset(tiny_quakeset, "train", target="magnitude", pool=4)
    net = QuakeRegressor("test_vit", module__patch_size=8, module__depth=1, module__embed_dim=16, max_epochs=1,
                         batch_size=16, random_state=0).fit(X, y)
    assert net.input_shape_ == (4, 8, 8)
    pre, post, patches = quakeset_scene(tiny_quakeset, rows=2, cols=3)
    out = predict_scene_arrays(net, pre, post, pool=4, threshold=-100.0, batch_size=2)
    values = out["magnitude"]
    assert values.shape == (3, 5) and len(out["tiles"]) == 15  # 32-px tiles every 16 px
    expected = net.predict(average_pool(patches.reshape((-1,) + patches.shape[2:]), 4)).reshape(2, 3)
    np.testing.assert_allclose(values[::2, ::2], expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- bad inputs
class NoShape(RegressorMixin, BaseEstimator):
    def fit(self, X=None, y=None):
        self.fitted_ = True
        return self

    def predict(self, X):
        return X.mean(axis=(1, 2, 3))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"overlap": 1.0}, ValueError, "'overlap' parameter of predict_scene_arrays must be"),
    ({"threshold": float("nan")}, ValueError, "'threshold' parameter"),
    ({"units": "dbm"}, ValueError, "'units' parameter"),
    ({"mode": "triple"}, ValueError, "'mode' parameter"),
    ({"batch_size": 0}, ValueError, "'batch_size' parameter"),
    ({"change_model": 3}, ValueError, "'change_model' parameter"),
    ({"estimator": NoShape().fit()}, ValueError, "NoShape does not say its input size .*pass tile_size="),
    ({"estimator": NoShape().fit(), "tile_size": 15, "pool": 2}, ValueError,
     "tile_size=15 is not a multiple of pool=2"),
    ({"estimator": BaseEstimator()}, ValueError, "'estimator' parameter"),
    ({"change_model": lambda X: np.zeros((len(X), 8, 8))}, ValueError,
     r"change_model returned an array of shape \(\d+, 8, 8\) for \d+ tile\(s\) of 16 x 16 pixels"),
    ({"pre_array": np.ones((3, 96, 160))}, ValueError, r"pre_array must be an array of shape \(2, H, W\)"),
    ({"pre_array": np.ones((2, 90, 160))}, ValueError, "pre_array has shape .* and post_array"),
    ({"pre_array": None}, ValueError, "mode='bitemporal' needs the pre scene"),
    ({"post_array": np.ones((2, 8, 8))}, ValueError, r"the scene is 8 x 8 pixels, smaller than one tile \(16 x 16"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    pre, post = scene_arrays()
    args = {"estimator": ChangeClassifier().fit(), "pre_array": pre, "post_array": post, **kwargs}
    if "post_array" in kwargs and "pre_array" not in kwargs:
        args["pre_array"] = np.ones_like(kwargs["post_array"])
    with pytest.raises(error, match=message):
        predict_scene_arrays(**args)


def test_classifier_without_probabilities_is_refused():
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from skquake.preprocessing import Flatten

    pre, post = scene_arrays()
    X = np.stack([np.concatenate([pre, post])[:, :16, :16], np.concatenate([pre, post])[:, 16:32, :16]])
    svc = make_pipeline(Flatten(), SVC()).fit(X, [0, 1])
    with pytest.raises(ValueError, match="classifier without predict_proba .*probability=True"):
        predict_scene_arrays(svc, pre, post, tile_size=16)


def test_bad_files_are_refused(tmp_path, pair):
    pre, _ = scene_arrays()
    model = ChangeClassifier().fit()
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        predict_scene(model, tmp_path / "missing.tif", pair[1], tmp_path / "out")
    one_band = write_tif(tmp_path / "one.tif", pre[:1], descriptions=("VV",))
    with pytest.raises(ValueError, match="one.tif has 1 band.*needs 2 \\(VV, VH\\)"):
        predict_scene(model, one_band, pair[1], tmp_path / "out")
    named = write_tif(tmp_path / "named.tif", pre, descriptions=("HH", "HV"))
    with pytest.raises(ValueError, match=r"named.tif: cannot find the VV band from the band descriptions \['HH', 'HV'"):
        predict_scene(model, named, pair[1], tmp_path / "out")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="out_dir=.*file' is a file"):
        predict_scene(model, *pair, tmp_path / "file")


def test_bands_are_found_by_their_descriptions(tmp_path):
    pre, post = scene_arrays()
    paths = (write_tif(tmp_path / "pre.tif", pre[::-1], descriptions=("Sigma0_VH", "Sigma0_VV")),
             write_tif(tmp_path / "post.tif", post, descriptions=None))
    out = predict_scene(MeanRegressor(channel=0).fit(), *paths, tmp_path / "out", overlap=0.0)
    np.testing.assert_allclose(read(out["magnitude"])[0], pre[0].reshape(6, 16, 10, 16).mean(axis=(1, 3)), rtol=1e-5)


def test_outputs_are_all_or_nothing(pair, tmp_path):
    out_dir = tmp_path / "out"
    first = predict_scene(ChangeClassifier().fit(), *pair, out_dir)
    before = {p: p.read_bytes() for p in first.values()}
    with pytest.raises(FileExistsError, match="probability.tif already exists; pass overwrite=True"):
        predict_scene(ChangeClassifier().fit(), *pair, out_dir)
    calls = []

    def failing(X):
        calls.append(len(X))
        if len(calls) == 3:
            raise RuntimeError("change model failed")
        return log_ratio_mask(X)

    with pytest.raises(RuntimeError, match="change model failed"):
        predict_scene(ChangeClassifier().fit(), *pair, out_dir, change_model=failing, overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in first.values())
    assert all(p.read_bytes() == content for p, content in before.items())


def test_a_missing_geo_extra_is_named(pair, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "rasterio", None)
    with pytest.raises(ImportError, match=r"pip install 'skquake\[geo\]'"):
        predict_scene(ChangeClassifier().fit(), *pair, tmp_path / "out")


def test_open_datasets_are_read_and_left_open(pair, tmp_path):
    with rasterio.open(pair[0]) as pre, rasterio.open(pair[1]) as post:
        out = predict_scene(ChangeClassifier().fit(), pre, post, tmp_path / "out")
        assert not pre.closed and not post.closed
    by_path = predict_scene(ChangeClassifier().fit(), *pair, tmp_path / "out2")
    np.testing.assert_array_equal(read(out["probability"])[0], read(by_path["probability"])[0])
