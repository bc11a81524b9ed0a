"""ONNX export of the shallow pipelines and of every SAR transformer, checked by onnxruntime."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from skquake.datasets import load_quakeset
from skquake.export import check_onnx_parity, run_onnx, to_onnx
from skquake.models import create_model
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

TOL = 1e-4


def _split(path, split, target, **kwargs):
    X, y, _ = load_quakeset(path, split=split, target=target, **kwargs)
    return X, y


def test_svr_rbf_parity(tiny_quakeset):
    X, y = _split(tiny_quakeset, "train", "magnitude")
    X_test, _ = _split(tiny_quakeset, "test", "magnitude")
    model = create_model("svr-rbf").fit(X, y)
    onnx_model = to_onnx(model, X)
    assert [o.name for o in onnx_model.graph.output] == ["variable"]
    assert check_onnx_parity(model, onnx_model, X_test) <= TOL
    # The batch axis is dynamic: one sample and a batch of another size run too.
    assert run_onnx(onnx_model, X_test[:1])["variable"].shape == (1, 1)
    assert check_onnx_parity(model, onnx_model, X[:7]) <= TOL


def test_rfc_change_parity_with_nodata(tiny_quakeset):
    # fill_value=None keeps NaN (no-data) pixels, which the change pipeline ignores in Python
    # (nanmean, nanquantile) and the graph must ignore alike.
    X, y = _split(tiny_quakeset, "train", "label", fill_value=None)
    X_test, _ = _split(tiny_quakeset, "test", "label", fill_value=None)
    assert np.isnan(X).any()
    # An odd number of trees: no probability ties at 0.5, whose label float rounding may flip.
    model = create_model("rfc-change", rf__n_estimators=25).fit(X, y)
    onnx_model = to_onnx(model, X)
    assert [o.name for o in onnx_model.graph.output] == ["label", "probabilities"]
    for data in (X_test, X):
        assert check_onnx_parity(model, onnx_model, data) <= TOL
    out = run_onnx(onnx_model, X_test)
    np.testing.assert_array_equal(out["label"], model.predict(X_test))
    assert out["probabilities"].shape == (len(X_test), 2)


@pytest.mark.parametrize("name, target, overrides", [
    ("rfr-change", "magnitude", {"rf__n_estimators": 25}),
    ("rfc", "label", {"rf__n_estimators": 25}),
    ("svc-rbf", "label", {}),  # no predict_proba: the labels are compared
])
def test_other_registered_pipelines_parity(tiny_quakeset, name, target, overrides):
    X, y = _split(tiny_quakeset, "train", target)
    X_test, _ = _split(tiny_quakeset, "test", target)
    model = create_model(name, **overrides).fit(X, y)
    onnx_model = to_onnx(model, X)
    assert check_onnx_parity(model, onnx_model, X_test) <= TOL
    if target == "label":
        np.testing.assert_array_equal(run_onnx(onnx_model, X_test)["label"], model.predict(X_test))


def test_flattened_input_and_written_file(tiny_quakeset, tmp_path):
    X, y = _split(tiny_quakeset, "train", "magnitude")
    flat = X.reshape(len(X), -1)
    model = create_model("svr-rbf", input_shape=X.shape[1:]).fit(flat, y)
    path = tmp_path / "svr.onnx"
    onnx_model = to_onnx(model, flat, path)
    loaded = onnx.load(path)
    assert loaded.graph.input[0].type.tensor_type.shape.dim[1].dim_value == flat.shape[1]
    assert not loaded.graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value")  # dynamic batch
    assert check_onnx_parity(model, path, flat) <= TOL
    assert check_onnx_parity(model, onnx_model, flat) <= TOL
    with pytest.raises(FileExistsError, match="overwrite=True"):
        to_onnx(model, flat, path)
    to_onnx(model, flat, path, overwrite=True)
    with pytest.raises(FileNotFoundError, match="missing"):
        to_onnx(model, flat, tmp_path / "missing" / "m.onnx")


def _images(seed=0, shape=(6, 4, 10, 10)):
    rng = np.random.default_rng(seed)
    X = rng.gamma(1.0, 0.05, size=shape).astype(np.float32)
    X[0, 1, :3, :4] = np.nan  # a no-data area
    X[1, -1] = np.nan  # a whole channel without data
    X[2, 0, 0, 0] = -0.01  # a slightly negative sigma0 (thermal-noise removal)
    return X


TRANSFORMERS = [
    [NaNFiller(fill_value=1.5)],
    [NaNFiller(), AveragePooling(pool_size=3)],  # 10 x 10 -> 3 x 3: edge rows dropped
    [AveragePooling(pool_size=1, max_size=5)],
    [NaNFiller(), Decibels()],
    [NaNFiller(), Decibels(eps=1e-3, clip_negative=False)],
    [ChannelSelector(dates="post")],
    [ChannelSelector(dates="pre", polarizations="VH")],
    [ChannelSelector()],
    [NaNFiller(), Decibels(), ChangeFeatures()],
    [NaNFiller(0.01), ChangeFeatures(kind="log_ratio", keep_dates=True)],
    [ChannelSelector(dates="post"), ChangeFeatures(non_bitemporal="passthrough")],
    [Decibels(), SpatialStatistics()],
    [Decibels(), SpatialStatistics(quantiles=(0.0, 0.3, 1.0), moments=False, fill_value=-5.0)],
    [Decibels(), SpatialStatistics(quantiles=None)],
    [Decibels(), ChangeFeatures(keep_dates=True), SpatialStatistics(quantiles=0.5)],
    [NaNFiller(), Flatten()],
]


@pytest.mark.parametrize("steps", TRANSFORMERS, ids=lambda s: "+".join(type(t).__name__ for t in s))
@pytest.mark.parametrize("layout", ["4d", "flat"])
def test_transformer_parity(steps, layout):
    X = _images()
    if any(isinstance(s, (Decibels, ChangeFeatures)) and getattr(s, "kind", "") == "log_ratio" or
           isinstance(s, Decibels) and not s.clip_negative for s in steps):
        X = np.abs(X)  # these refuse negative intensities in Python
    if layout == "flat":
        X = X.reshape(len(X), -1)
        pipe = make_pipeline(ToImages(input_shape=(4, 10, 10)), *steps)
    else:
        pipe = make_pipeline(*steps)
    expected = pipe.fit(X).transform(X)
    got = run_onnx(to_onnx(pipe, X), X)["variable"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_transformer_without_to_images_takes_flattened_input():
    X = _images(shape=(3, 2, 4, 4))
    pipe = make_pipeline(AveragePooling(pool_size=2, input_shape=(2, 4, 4)), Decibels(input_shape=(2, 2, 2)))
    X = np.abs(X).reshape(3, -1)
    expected = pipe.fit(X).transform(X)
    got = run_onnx(to_onnx(pipe, X), X)["variable"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_plain_features_pass_to_images_unchanged():
    X = np.nan_to_num(np.abs(_images(shape=(5, 3, 1, 1)))).reshape(5, 3)
    pipe = make_pipeline(ToImages(), Decibels(), RandomForestRegressor(n_estimators=3, random_state=0))
    pipe.fit(X, np.arange(5.0))
    assert check_onnx_parity(pipe, to_onnx(pipe, X), X) <= TOL


class _Opaque(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return X


def test_bad_inputs(tiny_quakeset):
    X = _images()
    with pytest.raises(NotFittedError):
        to_onnx(create_model("svr-rbf"), X)
    pipe = make_pipeline(NaNFiller(), Flatten()).fit(X)
    with pytest.raises(ValueError, match=r"X_sample must be .*shape \(6, 400, 1\)"):
        to_onnx(pipe, X.reshape(6, 400, 1))
    with pytest.raises(ValueError, match="X_sample must be .*dtype <U1"):
        to_onnx(pipe, np.full((2, 3), "a"))
    with pytest.raises(ValueError, match=r"n >= 1, got shape \(0, 4, 10, 10\)"):
        to_onnx(pipe, X[:0])
    with pytest.raises(ValueError, match="target_opset must be an int >= 7 or None, got 'new'"):
        to_onnx(pipe, X, target_opset="new")
    opaque = make_pipeline(NaNFiller(), _Opaque(), Flatten()).fit(X)
    with pytest.raises(NotImplementedError, match=r"no ONNX converter for step '_opaque' \(_Opaque\)"):
        to_onnx(opaque, X)
    with pytest.raises(TypeError, match="onnx.ModelProto or a path, got int"):
        run_onnx(3, X)
    with pytest.raises(FileNotFoundError, match="no ONNX model at .*nope.onnx"):
        check_onnx_parity(pipe, "nope.onnx", X)


def test_import_loads_no_export_library():
    # The converters import onnx / skl2onnx / onnxruntime when a model is exported, not before.
    code = ("import sys, skquake.export; "
            "print(sorted(m for m in ('onnx', 'skl2onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_missing_extra_names_it(monkeypatch):
    X = _images()
    pipe = make_pipeline(NaNFiller(), Flatten()).fit(X)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'skquake\[export\]'"):
        to_onnx(pipe, X)
