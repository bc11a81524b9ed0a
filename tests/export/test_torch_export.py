"""ONNX export of the deep estimators (torch's exporter), checked by onnxruntime."""
import numpy as np
import onnx
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from skquake.datasets import load_quakeset
from skquake.export import check_onnx_parity, run_onnx, to_onnx
from skquake.models import create_model
from skquake.preprocessing import NaNFiller

TOL = 1e-4
FAST = dict(max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def magnitudes(tiny_quakeset):
    X, y, _ = load_quakeset(tiny_quakeset, split="train", target="magnitude")
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    return X, y, X_test


@pytest.mark.parametrize("backbone", ["test_resnet", "resnet10t"])
def test_regressor_parity(magnitudes, backbone, tmp_path):
    X, y, X_test = magnitudes
    # A narrow clamp, so that the graph's clamp (inside it, like the output affine) is exercised.
    model = create_model("resnet10t-mse", backbone=backbone, clamp=(4.0, 4.5), **FAST).fit(X, y)
    model.module_.train()  # exported in evaluation mode (no flips, clamp on) whatever its mode
    onnx_model = to_onnx(model, X, tmp_path / "net.onnx")
    assert model.module_.training  # and left in the mode it was in
    model.module_.eval()
    assert [o.name for o in onnx_model.graph.output] == ["variable"]
    assert check_onnx_parity(model, onnx_model, X_test) <= TOL
    assert check_onnx_parity(model, tmp_path / "net.onnx", X[:1]) <= TOL  # batch axis is dynamic
    out = run_onnx(onnx_model, X_test)["variable"]
    assert out.shape == (len(X_test), 1) and out.min() >= 4.0 and out.max() <= 4.5
    # Decibels are inside the graph: the input is linear backscatter, as predict takes.
    assert "Log" in {node.op_type for node in onnx_model.graph.node}


def test_classifier_parity_and_flattened_input(tiny_quakeset):
    X, y, _ = load_quakeset(tiny_quakeset, split="train", target="label")
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="label")
    model = create_model("resnet10t-det", backbone="test_resnet", **FAST).fit(X, y)
    onnx_model = to_onnx(model, X)
    assert [o.name for o in onnx_model.graph.output] == ["probabilities"]
    assert check_onnx_parity(model, onnx_model, X_test) <= TOL
    proba = run_onnx(onnx_model, X_test)["probabilities"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)  # softmax is in the graph
    np.testing.assert_allclose(proba, model.predict_proba(X_test), atol=TOL)
    # The same fitted net exports for flattened input (n, C*H*W), as predict takes it too.
    flat = X_test.reshape(len(X_test), -1)
    flat_model = to_onnx(model, flat)
    assert flat_model.graph.input[0].type.tensor_type.shape.dim[1].dim_value == flat.shape[1]
    assert check_onnx_parity(model, flat_model, flat) <= TOL


def test_parity_detects_a_different_model(magnitudes):
    X, y, X_test = magnitudes
    model = create_model("resnet10t-mse", backbone="test_resnet", **FAST).fit(X, y)
    onnx_model = to_onnx(model, X)
    with torch.no_grad():
        model.module_.output_shift += 0.5
    assert check_onnx_parity(model, onnx_model, X_test) == pytest.approx(0.5, abs=1e-3)


class _OtherNet(BaseEstimator):
    """A fitted skorch-like estimator that is not a QuakeSet net."""

    def fit(self, X, y=None):
        self.module_ = torch.nn.Identity()
        return self


def test_other_nets_are_refused(magnitudes):
    X, _, _ = magnitudes
    with pytest.raises(NotFittedError, match="QuakeRegressor"):
        to_onnx(create_model("resnet10t-mse", backbone="test_resnet"), X)
    with pytest.raises(NotImplementedError, match="_OtherNet .*QuakeRegressor and QuakeClassifier"):
        to_onnx(_OtherNet().fit(X), X)


def test_onnx_model_is_valid(magnitudes):
    X, y, _ = magnitudes
    model = create_model("resnet10t-mse", backbone="test_resnet", **FAST).fit(X, y)
    onnx.checker.check_model(to_onnx(model, X, target_opset=17))


def test_int8_quantization_runs_and_stays_close(tiny_quakeset, magnitudes, tmp_path):
    X, y, X_test = magnitudes
    model = create_model("resnet10t-mse", backbone="test_resnet", **FAST).fit(X, y)
    full = to_onnx(model, X, tmp_path / "full.onnx")
    int8 = to_onnx(model, X, tmp_path / "int8.onnx", quantize="int8")
    ops = {node.op_type for node in int8.graph.node}
    assert {"ConvInteger", "MatMulInteger"} <= ops and "ConvInteger" not in {n.op_type for n in full.graph.node}
    assert (tmp_path / "int8.onnx").stat().st_size < (tmp_path / "full.onnx").stat().st_size / 3
    _, y_test, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    mae = {name: float(np.abs(run_onnx(m, X_test)["variable"].ravel() - y_test).mean())
           for name, m in (("full", full), ("int8", int8))}
    # Measured on this file: the int8 net moves predictions by ~0.04 magnitude at most.
    assert 0 < check_onnx_parity(model, int8, X_test) <= 0.2
    assert abs(mae["int8"] - mae["full"]) <= 0.1
    assert run_onnx(int8, X_test[:1])["variable"].shape == (1, 1)  # batch axis still dynamic


def test_int8_classifier_and_refusals(tiny_quakeset, magnitudes):
    X, y, _ = load_quakeset(tiny_quakeset, split="train", target="label")
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="label")
    model = create_model("resnet10t-det", backbone="test_resnet", **FAST).fit(X, y)
    proba = run_onnx(to_onnx(model, X, quantize="int8"), X_test)["probabilities"]
    np.testing.assert_allclose(proba, model.predict_proba(X_test), atol=0.05)
    with pytest.raises(ValueError, match="quantize must be None or 'int8', got 'int4'"):
        to_onnx(model, X, quantize="int4")
    filler = NaNFiller().fit(X)
    with pytest.raises(ValueError, match="quantize='int8' applies to deep nets .*not to NaNFiller"):
        to_onnx(filler, X, quantize="int8")
