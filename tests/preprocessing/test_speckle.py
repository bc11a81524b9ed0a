"""Speckle filters: the Lee and boxcar formulas, no-data left out, the transformer."""
import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from skquake.preprocessing import SpeckleFilter, local_mean, speckle_filter
from skquake.utils import InvalidParameterError

rng = np.random.default_rng(0)
SPECKLE = rng.gamma(4.4, 1 / 4.4, size=(2, 4, 40, 40)).astype(np.float32)  # mean 1, 4.4 looks


def test_mean_is_the_boxcar_where_every_pixel_has_data():
    out = speckle_filter(SPECKLE, method="mean", size=5)
    np.testing.assert_allclose(out, uniform_filter(SPECKLE, (1, 1, 5, 5), mode="reflect"), rtol=1e-5)
    assert out.dtype == np.float32 and out.shape == SPECKLE.shape
    # 25 looks averaged: the coefficient of variation falls by ~5 (neighbouring windows overlap).
    assert out.std() < SPECKLE.std() / 4


def test_lee_by_hand():
    x = SPECKLE[0, 0].astype(np.float64)
    m = uniform_filter(x, 5, mode="reflect")
    var = uniform_filter(x * x, 5, mode="reflect") - m * m
    cu2 = 1 / 4.4
    ci2 = var / m**2
    k = np.where(ci2 > cu2, (1 - cu2 / ci2) / (1 + cu2), 0.0)
    np.testing.assert_allclose(speckle_filter(x, method="lee", size=5, looks=4.4), m + k * (x - m), rtol=1e-9)
    # Homogeneous speckle is smoothed; a bright point target is kept.
    y = x.copy()
    y[20, 20] = 200.0
    out = speckle_filter(y, method="lee", size=5)
    assert out[20, 20] > 150 and out[5:15, 5:15].std() < x[5:15, 5:15].std() / 2


def test_no_data_is_left_out_and_kept():
    x = SPECKLE[0, :1].copy()
    x[0, :, 30:] = 0.0
    x[0, 5, 5] = np.nan
    for method in ("mean", "lee"):
        out = speckle_filter(x, method=method, size=5)
        assert (out[0, :, 30:] == 0).all() and np.isnan(out[0, 5, 5])
        # The pixels next to the edge average valid neighbours only: not darkened by the zeros.
        assert out[0, :, 29].mean() > 0.8
    valid = np.isfinite(x) & (x > 0)
    expected = local_mean(x, valid, 5)
    np.testing.assert_allclose(speckle_filter(x, method="mean", size=5)[valid], expected[valid], rtol=1e-6)


def test_local_mean_of_signed_values():
    x = np.array([[1.0, -3.0, 100.0, 2.0]])
    np.testing.assert_allclose(local_mean(x, x < 50, size=3), [[-1 / 3, -1.0, -0.5, 2.0]])
    assert local_mean(x, np.zeros_like(x, bool), size=3).tolist() == [[0.0] * 4]


def test_none_and_size_one_copy():
    for kwargs in ({"method": "none"}, {"method": "lee", "size": 1}):
        out = speckle_filter(SPECKLE, **kwargs)
        np.testing.assert_array_equal(out, SPECKLE)
        assert out is not SPECKLE


def test_transformer_matches_the_function_and_validates():
    Xt = SpeckleFilter(method="mean", size=3).fit_transform(SPECKLE)
    np.testing.assert_array_equal(Xt, speckle_filter(SPECKLE, method="mean", size=3))
    flat = SpeckleFilter(size=3, input_shape=(4, 40, 40)).fit(SPECKLE.reshape(2, -1))
    np.testing.assert_allclose(flat.transform(SPECKLE.reshape(2, -1)),
                               speckle_filter(SPECKLE, size=3).reshape(2, -1))
    with pytest.raises(InvalidParameterError, match="method"):
        SpeckleFilter(method="gamma-map").fit(SPECKLE)
    with pytest.raises(InvalidParameterError, match="size"):
        SpeckleFilter(size=0).fit(SPECKLE)
    with pytest.raises(InvalidParameterError, match="looks"):
        speckle_filter(SPECKLE, looks=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        speckle_filter(np.ones(5))
