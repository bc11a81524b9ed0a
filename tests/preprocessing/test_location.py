"""LocationFeatures: the coarse map and the centroid follow where the change is."""
import numpy as np
import pytest

from skquake.preprocessing import LocationFeatures
from skquake.utils import InvalidParameterError


def _pair(rng, n=1, size=32, blob=None, gain=20.0):
    """Bitemporal speckled pairs; ``blob=(row, col, radius)`` brightens t1 there."""
    X = rng.gamma(4.4, 0.1 / 4.4, size=(n, 4, size, size)).astype(np.float32)
    if blob is not None:
        r, c, radius = blob
        yy, xx = np.mgrid[0:size, 0:size]
        inside = (yy - r) ** 2 + (xx - c) ** 2 <= radius**2
        X[:, 2:, inside] *= gain
    return X


def _centroid(features, X):
    names = list(features.get_feature_names_out())
    out = features.transform(X)
    return out[:, names.index("centroid_east")], out[:, names.index("centroid_north")]


@pytest.mark.parametrize(("row", "col", "east", "north"), [
    (6, 25, 1, 1),    # north-east (row 0 is north)
    (25, 6, -1, -1),  # south-west
    (6, 6, -1, 1),    # north-west
])
def test_centroid_follows_the_change(row, col, east, north):
    rng = np.random.default_rng(0)
    X = _pair(rng, n=3, blob=(row, col, 4))
    features = LocationFeatures().fit(X)
    ce, cn = _centroid(features, X)
    # the blob's centre in patch widths from the centre: (col + 0.5) / 32 - 0.5, 0.5 - (row + 0.5) / 32
    expected_e, expected_n = (col + 0.5) / 32 - 0.5, 0.5 - (row + 0.5) / 32
    assert np.all(np.sign(ce) == east) and np.all(np.sign(cn) == north)
    np.testing.assert_allclose(ce, expected_e, atol=0.08)
    np.testing.assert_allclose(cn, expected_n, atol=0.08)


def test_coarse_map_says_which_cell_changed():
    rng = np.random.default_rng(1)
    X = _pair(rng, n=2, blob=(4, 27, 3))  # in the top-right cell of a 4 x 4 grid
    features = LocationFeatures(grid=4, centroid=False).fit(X)
    names = list(features.get_feature_names_out())
    out = features.transform(X)
    means = [names.index(f"VV_mean_r{i}_c{j}") for i in range(4) for j in range(4)]
    assert np.all(np.argmax(out[:, means], axis=1) == 3)  # r0_c3
    assert out.shape == (2, 2 * 2 * 16) and features.map_ == "log_ratio"


def test_no_data_is_ignored():
    rng = np.random.default_rng(2)
    X = _pair(rng, n=2, blob=(8, 8, 4))
    clean = LocationFeatures().fit_transform(X)
    holed = X.copy()
    holed[:, :2, :, 28:] = 0.0      # t0 no-data wedge on the east edge (loaders fill with 0)
    holed[:, 2:, 30:, :] = np.nan   # t1 no-data on the south edge
    out = LocationFeatures().fit_transform(holed)
    assert np.isfinite(out).all()
    # without the mask the zero wedge is a huge "change" on the east edge; ignored, the
    # centroid stays where the blob is
    np.testing.assert_allclose(out[:, -4:-2], clean[:, -4:-2], atol=0.05)
    all_gone = X.copy()
    all_gone[0] = 0.0
    assert np.all(LocationFeatures().fit_transform(all_gone)[0] == 0.0)  # nothing valid: 0


def test_single_image_maps():
    rng = np.random.default_rng(3)
    X = rng.gamma(4.4, 0.01, size=(2, 2, 16, 16)).astype(np.float32)
    features = LocationFeatures(grid=2).fit(X)
    assert features.map_ == "texture"
    names = list(features.get_feature_names_out())
    assert names[0] == "VV_mean_r0_c0" and names[8] == "VH_mean_r0_c0" and len(names) == 2 * 2 * 4 + 4
    decibels = LocationFeatures(grid=2, map="decibels", filter_size=1, centroid=False).fit(X)
    out = decibels.transform(X)
    # cell means of the dB image: the first cell of VV is the mean of its 8 x 8 dB values
    np.testing.assert_allclose(out[:, 0], (10 * np.log10(X[:, 0, :8, :8])).mean(axis=(1, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match=r"map='log_ratio'\) needs bitemporal images of 4 channels"):
        LocationFeatures(map="log_ratio").fit(X)


def test_layouts_dtype_and_grid():
    rng = np.random.default_rng(4)
    X = _pair(rng, n=3, size=12, blob=(3, 3, 2))
    features = LocationFeatures(grid=6).fit(X)
    out = features.transform(X)
    assert out.dtype == np.float32 and features.cells_ == (6, 6)
    flat = LocationFeatures(grid=6, input_shape=(4, 12, 12)).fit(X.reshape(3, -1))
    np.testing.assert_array_equal(flat.transform(X.reshape(3, -1)), out)
    assert LocationFeatures(grid=20).fit(X).cells_ == (12, 12)  # capped at the image size
    as64 = LocationFeatures().fit(X.astype(np.float64)).transform(X.astype(np.float64))
    assert as64.dtype == np.float64  # computed in float64 either way, returned in the input's dtype
    np.testing.assert_allclose(as64, LocationFeatures().fit(X).transform(X), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="fitted on images of shape"):
        features.transform(X[:, :, :8, :8])


def test_chunks_give_the_same_features(monkeypatch):
    import skquake.preprocessing._location as location

    X = _pair(np.random.default_rng(5), n=7, size=8, blob=(2, 2, 2))
    whole = LocationFeatures().fit_transform(X)
    monkeypatch.setattr(location, "_CHUNK_VALUES", 2 * X[0].size)  # chunks of 2 samples
    np.testing.assert_array_equal(LocationFeatures().fit_transform(X), whole)


@pytest.mark.parametrize("params", [{"grid": 0}, {"filter_size": True}, {"map": "lee"}, {"centroid": "yes"}])
def test_parameters_are_validated(params):
    with pytest.raises(InvalidParameterError):
        LocationFeatures(**params).fit(np.ones((2, 4, 4, 4)))
