"""``amp="auto"`` / ``channels_last="auto"``: on for a CUDA device, off on a CPU (no real CUDA)."""
import numpy as np
import pytest
import torch

from skquake.models.damage import DamageFusionClassifier
from skquake.models.deep import QuakeClassifier, QuakeRegressor
from skquake.models.deep._device import resolve_auto


@pytest.fixture
def fake_cuda(monkeypatch):
    """CUDA reported available, with bfloat16 support settable by the test."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    state = {"bf16": True}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state["bf16"])
    return state


@pytest.mark.parametrize("device", ["cpu", None, torch.device("cpu")])
def test_auto_is_off_on_cpu(device):
    assert resolve_auto("auto", device) is False
    assert resolve_auto("auto", device, bfloat16=True) is False


@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda", 0)])
def test_auto_is_on_for_cuda(fake_cuda, device):
    assert resolve_auto("auto", device) is True
    assert resolve_auto("auto", device, bfloat16=True) is True


def test_auto_amp_needs_bfloat16_on_the_gpu(fake_cuda):
    fake_cuda["bf16"] = False
    assert resolve_auto("auto", "cuda", bfloat16=True) is False
    assert resolve_auto("auto", "cuda") is True  # channels-last does not depend on it


def test_auto_is_off_for_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_auto("auto", "cuda") is False


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_explicit_values_are_kept(fake_cuda, value, device):
    assert resolve_auto(value, device) is value
    assert resolve_auto(value, device, bfloat16=True) is value


@pytest.mark.parametrize("cls", [QuakeClassifier, QuakeRegressor, DamageFusionClassifier])
def test_estimators_default_to_auto(cls):
    est = cls()
    assert est.amp == "auto" and est.channels_last == "auto"
    assert est._amp_enabled() is False and est._channels_last_enabled() is False
    est.set_params(device="cuda")
    assert est._channels_last_enabled() is torch.cuda.is_available()


def test_estimator_resolves_auto_for_a_cuda_device(fake_cuda):
    est = QuakeClassifier(device="cuda")
    assert est._amp_enabled() is True and est._channels_last_enabled() is True
    est.set_params(amp=False, channels_last=False)
    assert est._amp_enabled() is False and est._channels_last_enabled() is False


def _tiny_fit(**params):
    rng = np.random.default_rng(0)
    X = rng.random((8, 2, 32, 32), dtype=np.float32) + 0.1
    y = np.array([0, 1] * 4)
    return QuakeClassifier(backbone="test_resnet", max_epochs=1, batch_size=4, random_state=0, **params).fit(X, y), X


def test_auto_on_cpu_fits_as_off():
    """On a CPU the defaults build and predict exactly like amp=False, channels_last=False."""
    auto, X = _tiny_fit()
    off, _ = _tiny_fit(amp=False, channels_last=False)
    assert auto.module_.channels_last is False
    np.testing.assert_array_equal(auto.predict_proba(X), off.predict_proba(X))


@pytest.mark.parametrize("name", ["amp", "channels_last"])
@pytest.mark.parametrize("value", ["on", "AUTO", 1.5])
def test_bad_values_are_refused(name, value):
    X = np.ones((4, 2, 32, 32), dtype=np.float32)
    with pytest.raises(ValueError, match=name):
        QuakeClassifier(backbone="test_resnet", **{name: value}).fit(X, np.array([0, 1, 0, 1]))
