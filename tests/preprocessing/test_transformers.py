import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from skquake.preprocessing import (
    AveragePooling,
    ChangeFeatures,
    ChannelSelector,
    Decibels,
    Flatten,
    NaNFiller,
    SpatialStatistics,
    ToImages,
)
from skquake.utils import average_pool

rng = np.random.default_rng(0)
X4 = rng.gamma(1.0, 0.05, size=(5, 4, 8, 12)).astype(np.float32)  # bitemporal, linear
X2 = X4[:, 2:].copy()  # single-image


ALL = [ToImages(), Flatten(), NaNFiller(), Decibels(), AveragePooling(), ChannelSelector(dates="post"),
       ChangeFeatures(), SpatialStatistics()]


@pytest.mark.parametrize("tr", ALL, ids=lambda t: type(t).__name__)
def test_flattened_input_with_input_shape_matches_4d(tr):
    out4 = clone(tr).fit_transform(X4)
    flat = clone(tr).set_params(input_shape=(4, 8, 12)).fit(X4.reshape(5, -1))
    out2 = flat.transform(X4.reshape(5, -1))
    if isinstance(tr, ToImages):
        assert out2.shape == X4.shape  # its job: un-flatten
    else:
        assert out2.ndim == 2 or isinstance(tr, ToImages)
    np.testing.assert_allclose(np.asarray(out2).reshape(out4.shape), out4)
    assert flat.n_features_in_ == 4 * 8 * 12
    assert flat.input_shape_ == (4, 8, 12)
    names = flat.get_feature_names_out()
    assert len(names) == np.asarray(out4).reshape(5, -1).shape[1]


@pytest.mark.parametrize("tr", ALL, ids=lambda t: type(t).__name__)
def test_flattened_length_mismatch_names_shapes(tr):
    with pytest.raises(ValueError, match=r"input_shape=\(4, 8, 8\).*256.*\(5, 384\)"):
        clone(tr).set_params(input_shape=(4, 8, 8)).fit(X4.reshape(5, -1))
    with pytest.raises(ValueError, match=r"input_shape=\(4, 8, 8\).*\(4, 8, 12\)"):
        clone(tr).set_params(input_shape=(4, 8, 8)).fit(X4)


@pytest.mark.parametrize("tr", ALL, ids=lambda t: type(t).__name__)
def test_transform_rejects_other_shape_than_fit(tr):
    fitted = clone(tr).fit(X4)
    with pytest.raises(ValueError, match=r"\(4, 8, 8\).*fitted on images of shape \(4, 8, 12\)"):
        fitted.transform(X4[:, :, :, :8])


@pytest.mark.parametrize("bad", [(4, 8), (4, 8, 0), "abc", (4.5, 8, 12)])
def test_bad_input_shape_param(bad):
    with pytest.raises(ValueError, match=r"input_shape'? (parameter of )?(Decibels: )?.*must be"):
        Decibels(input_shape=bad).fit(X4.reshape(5, -1))


def test_3d_input_rejected():
    with pytest.raises(ValueError, match=r"\(n, C, H, W\).*\(5, 8, 12\)"):
        Flatten().fit(X4[:, 0])


def test_nan_filler_values_and_no_mutation():
    X = X4.copy()
    X[0, 1, 2, 3] = np.nan
    out = NaNFiller(fill_value=-1.0).fit_transform(X)
    assert out[0, 1, 2, 3] == -1.0 and not np.isnan(out).any()
    assert np.isnan(X[0, 1, 2, 3])  # input untouched
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="fill_value"):
        NaNFiller(fill_value=np.nan).fit(X)


def test_decibels_values():
    X = np.array([[1.0, 0.1, 0.0, -0.01]])
    out = Decibels().fit_transform(X)
    np.testing.assert_allclose(out, [[0.0, -10.0, -90.0, -90.0]], atol=1e-6)
    with pytest.raises(ValueError, match="negative values"):
        Decibels(clip_negative=False).fit_transform(X)
    assert Decibels().fit_transform(X4).dtype == np.float32
    with pytest.raises(ValueError, match="eps"):
        Decibels(eps=0).fit(X)


def test_average_pooling_values_and_max_size():
    out = AveragePooling(pool_size=2).fit_transform(X4)
    np.testing.assert_allclose(out, X4.reshape(5, 4, 4, 2, 6, 2).mean(axis=(3, 5)), rtol=1e-6)
    # max_size: the factor is raised until both sides fit; smaller images pass unchanged
    big = AveragePooling(pool_size=1, max_size=4).fit(X4)
    assert big.pool_factor_ == 3 and big.output_shape_ == (4, 2, 4)
    small = AveragePooling(pool_size=1, max_size=128).fit(X4)
    assert small.pool_factor_ == 1
    np.testing.assert_array_equal(small.transform(X4), X4)
    # edge rows / columns that do not fill a block are dropped
    odd = AveragePooling(pool_size=5).fit_transform(X4)
    np.testing.assert_allclose(odd, average_pool(X4[:, :, :5, :10], 5), rtol=1e-6)
    with pytest.raises(ValueError, match="pool_size"):
        AveragePooling(pool_size=0).fit(X4)


def test_pooling_in_pipeline_equals_pooling_while_reading():
    # what load_quakeset(pool=4) gives, then the pipeline's no-op pooling
    full = rng.gamma(1.0, 0.05, size=(3, 4, 32, 32)).astype(np.float32)
    steps = lambda: make_pipeline(AveragePooling(pool_size=1, max_size=8), Decibels(), Flatten())  # noqa: E731
    np.testing.assert_allclose(steps().fit_transform(full), steps().fit_transform(average_pool(full, 4)), rtol=1e-5)


def test_channel_selector():
    np.testing.assert_array_equal(ChannelSelector(dates="pre").fit_transform(X4), X4[:, :2])
    np.testing.assert_array_equal(ChannelSelector(dates="post").fit_transform(X4), X4[:, 2:])
    np.testing.assert_array_equal(ChannelSelector(polarizations="VH").fit_transform(X4), X4[:, [1, 3]])
    np.testing.assert_array_equal(ChannelSelector(dates="post", polarizations="VV").fit_transform(X4), X4[:, [2]])
    # single-image input is the later image
    np.testing.assert_array_equal(ChannelSelector(dates="post").fit_transform(X2), X2)
    np.testing.assert_array_equal(ChannelSelector(polarizations="VV").fit_transform(X2), X2[:, :1])
    with pytest.raises(ValueError, match=r"dates='pre' needs bitemporal.*\(2, 8, 12\)"):
        ChannelSelector(dates="pre").fit(X2)
    with pytest.raises(ValueError, match=r"4 \(bitemporal\) or 2 \(single-image\) channels, got shape \(3, 8, 12\)"):
        ChannelSelector(dates="post").fit(X4[:, :3])
    with pytest.raises(ValueError, match=r"'dates' parameter of ChannelSelector must be a str among .*'t0'"):
        ChannelSelector(dates="t0").fit(X4)
    sel = ChannelSelector(dates="post").fit(X4)
    assert sel.get_feature_names_out()[0] == f"x{2 * 8 * 12}"


def test_channel_selector_on_per_channel_table():
    # 2-D input without input_shape: columns are channels
    table = X4.mean(axis=(2, 3))
    sel = ChannelSelector(dates="pre").fit(table)
    np.testing.assert_array_equal(sel.transform(table), table[:, :2])
    assert list(sel.get_feature_names_out(["a", "b", "c", "d"])) == ["a", "b"]


def test_change_features():
    out = ChangeFeatures().fit_transform(X4)
    np.testing.assert_allclose(out, X4[:, 2:] - X4[:, :2])
    # log-ratio on linear input == difference of decibels
    lr = ChangeFeatures(kind="log_ratio").fit_transform(X4)
    db = Decibels().fit_transform(X4)
    np.testing.assert_allclose(lr, db[:, 2:] - db[:, :2], rtol=1e-4, atol=1e-3)
    keep = ChangeFeatures(keep_dates=True).fit(X4)
    assert keep.transform(X4).shape == (5, 6, 8, 12)
    assert keep.get_feature_names_out()[-1] == "diff_VH_y7_x11"
    with pytest.raises(ValueError, match="already in dB"):
        ChangeFeatures(kind="log_ratio").fit_transform(db)
    with pytest.raises(ValueError, match=r"4 channels.*got shape \(2, 8, 12\)"):
        ChangeFeatures().fit(X2)


def test_change_features_pass_single_image_input_through_when_asked():
    tr = ChangeFeatures(keep_dates=True, non_bitemporal="passthrough")
    np.testing.assert_array_equal(clone(tr).fit_transform(X2), X2)
    assert clone(tr).fit(X2).passthrough_ and not clone(tr).fit(X4).passthrough_
    assert clone(tr).fit_transform(X4).shape == (5, 6, 8, 12)  # bitemporal input: unchanged behaviour
    flat = clone(tr).set_params(input_shape=(2, 8, 12)).fit(X2.reshape(5, -1))
    assert flat.get_feature_names_out()[0] == "x0"  # copies its input features
    with pytest.raises(ValueError, match=r"'non_bitemporal' parameter of ChangeFeatures must be a str among .*'drop'"):
        ChangeFeatures(non_bitemporal="drop").fit(X4)


def test_spatial_statistics_values_nan_and_names():
    X = X4.copy()
    X[0, 1, :4] = np.nan  # no-data area
    X[1, 3] = np.nan  # a whole channel without data
    st = SpatialStatistics(quantiles=(0.05, 0.5, 0.95), fill_value=-1.0).fit(X)
    out = st.transform(X)
    assert out.shape == (5, 4 * 5) and out.dtype == X.dtype
    assert st.statistic_names_ == ["mean", "std", "q5", "q50", "q95"]
    flat = X.reshape(5, 4, -1).astype(np.float64)
    with warnings.catch_warnings():  # numpy's all-NaN warnings, in the reference only
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.stack([np.nanmean(flat, -1), np.nanstd(flat, -1),
                             *np.nanquantile(flat, [0.05, 0.5, 0.95], axis=-1)], -1)
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(out.reshape(5, 4, 5)[ok], expected[ok], rtol=1e-5)
    np.testing.assert_array_equal(out.reshape(5, 4, 5)[1, 3], -1.0)  # all-NaN channel -> fill_value
    # Without NaN the fast path gives the same numbers.
    clean = SpatialStatistics(quantiles=(0.05, 0.5, 0.95)).fit_transform(X4)
    expected = np.stack([X4.reshape(5, 4, -1).mean(-1), X4.reshape(5, 4, -1).std(-1),
                         *np.quantile(X4.reshape(5, 4, -1), [0.05, 0.5, 0.95], axis=-1)], -1)
    np.testing.assert_allclose(clean.reshape(5, 4, 5), expected, rtol=1e-5)
    # Position does not matter: the same pixels, shuffled in space, give the same features.
    perm = rng.permutation(8 * 12)
    moved = X4.reshape(5, 4, -1)[:, :, perm].reshape(X4.shape)
    np.testing.assert_allclose(SpatialStatistics().fit_transform(moved), SpatialStatistics().fit_transform(X4),
                               rtol=1e-5)
    # Names follow the channels of the step before.
    pipe = make_pipeline(Decibels(), ChangeFeatures(keep_dates=True), SpatialStatistics(quantiles=(0.95,))).fit(X4)
    names = list(pipe.get_feature_names_out())
    assert names[:3] == ["t0_VV_mean", "t0_VV_std", "t0_VV_q95"] and names[-1] == "diff_VH_q95"
    assert len(names) == pipe.transform(X4).shape[1] == 6 * 3


@pytest.mark.parametrize("params, match", [
    (dict(quantiles=(0.5, 1.5)), "quantiles must be numbers in"),
    (dict(quantiles=("a",)), "quantiles must be numbers in"),
    (dict(quantiles=(), moments=False), "nothing to compute"),
    (dict(moments="yes"), r"'moments' parameter of SpatialStatistics must be an instance of 'bool'.*Got 'yes'"),
    (dict(fill_value=np.nan), r"'fill_value' parameter of SpatialStatistics must be a float in the range \(-inf, inf\)"),
])
def test_spatial_statistics_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        SpatialStatistics(**params).fit(X4)


def test_flatten_and_to_images():
    flat = Flatten().fit_transform(X4)
    np.testing.assert_array_equal(flat, X4.reshape(5, -1))
    back = ToImages(input_shape=(4, 8, 12)).fit_transform(flat)
    np.testing.assert_array_equal(back, X4)
    # without input_shape, flattened data stays plain features
    assert ToImages().fit_transform(flat).shape == flat.shape


def test_set_output_pandas():
    import pandas as pd  # a test dependency: set_output has nothing to show without it
    flat = X4.reshape(5, -1)
    df = Decibels(input_shape=(4, 8, 12)).set_output(transform="pandas").fit_transform(flat)
    assert isinstance(df, pd.DataFrame) and df.shape == flat.shape and df.columns[0] == "x0"
    # 4-D outputs cannot be DataFrames: they stay arrays
    out = Decibels().set_output(transform="pandas").fit_transform(X4)
    assert isinstance(out, np.ndarray) and out.shape == X4.shape
    pipe = make_pipeline(AveragePooling(pool_size=2), Flatten()).set_output(transform="pandas")
    pooled = pipe.fit_transform(X4)
    assert isinstance(pooled, pd.DataFrame) and pooled.shape == (5, 4 * 4 * 6)
    # names travel through the pipeline's get_feature_names_out
    assert pipe.get_feature_names_out()[0] == "c0_y0_x0"
    with pytest.raises(ValueError, match=r"'transform' parameter of Decibels.set_output must be .*'polars'.*Got 'xarray'"):
        Decibels().set_output(transform="xarray")


def test_set_output_polars_where_pandas_works():
    pl = pytest.importorskip("polars")  # in the test extra; skquake itself does not need it
    flat = X4.reshape(5, -1)
    df = Decibels(input_shape=(4, 8, 12)).set_output(transform="polars").fit_transform(flat)
    assert isinstance(df, pl.DataFrame) and df.shape == flat.shape and df.columns[0] == "x0"
    np.testing.assert_allclose(df.to_numpy(), Decibels(input_shape=(4, 8, 12)).fit_transform(flat))
    out = Decibels().set_output(transform="polars").fit_transform(X4)
    assert isinstance(out, np.ndarray) and out.shape == X4.shape  # 4-D stays an array
    pipe = make_pipeline(AveragePooling(pool_size=2), Flatten())
    pooled = clone(pipe).set_output(transform="polars").fit_transform(X4)
    as_pandas = clone(pipe).set_output(transform="pandas").fit_transform(X4)
    assert isinstance(pooled, pl.DataFrame) and pooled.columns == list(as_pandas.columns)
    np.testing.assert_array_equal(pooled.to_numpy(), as_pandas.to_numpy())


class _Images:
    """A dataset as the QuakeSet contract has it (``image_shape``, dict samples); counts reads."""

    def __init__(self, X):
        self.X, self.image_shape, self.reads = X, X.shape[1:], 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return {"image": self.X[i], "label": 0}


@pytest.mark.parametrize("tr", ALL, ids=lambda t: type(t).__name__)
def test_lists_and_datasets_of_images_are_read_as_arrays(tr):
    expected = clone(tr).fit_transform(X4)
    for given in (list(X4), _Images(X4)):
        np.testing.assert_allclose(clone(tr).fit_transform(given), expected, err_msg=type(given).__name__)
        np.testing.assert_allclose(clone(tr).fit(X4).transform(given), expected, err_msg=type(given).__name__)
    dataset = _Images(X4)
    clone(tr).fit_transform(dataset)
    assert dataset.reads == len(X4)  # read once by fit_transform, not once by fit and once by transform


def test_dataset_too_large_for_memory_is_refused_up_front():
    class Huge(_Images):
        def __len__(self):
            return 10**6

    huge = Huge(X4)
    huge.image_shape = (4, 4096, 4096)
    with pytest.raises(ValueError, match=r"reading 1000000 images of shape \(4, 4096, 4096\) of Huge into memory "
                                         r"needs about .*TiB"):
        ToImages().fit(huge)
    assert huge.reads == 0
