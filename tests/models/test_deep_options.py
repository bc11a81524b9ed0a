"""The deep estimators' options as a user relies on them: mixed precision, pretrained weights
(offline, from a file the test writes; the hub unreachable), pickled size, sample weights.

Tiny on purpose (timm's ``test_efficientnet``, 32 x 32 images, 1 epoch); nothing is downloaded.
"""
import io
import pickle
import time

import huggingface_hub
import joblib
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.validation import has_fit_parameter
from skorch.dataset import ValidSplit

from skquake.models.damage import DamageFusionClassifier, FusionNet
from skquake.models.deep import QuakeClassifier, QuakeRegressor, RegressionRankingLoss, SARNet

TINY = dict(backbone="test_efficientnet", max_epochs=1, batch_size=8, random_state=0)


def _data(n=20, c=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 0.05, size=(n, c, size, size)).astype(np.float32)  # linear sigma0 > 0
    y = np.where(np.arange(n) % 2 == 0, 0.0, rng.uniform(4, 7, n)).astype(np.float32)
    return X, y


def _weight_bytes(net):
    return sum(t.numel() * t.element_size() for t in net.module_.state_dict().values())


# --------------------------------------------------------------------------- amp
def test_amp_predictions_keep_float32_resolution():
    # bfloat16 has 8 significant bits: a bfloat16 head rounded magnitudes near 3 to steps of
    # ~0.016, so 63 samples gave ~20-26 distinct predictions
    X, y = _data(n=63)
    reg = QuakeRegressor(**TINY).fit(X, y)
    full = reg.predict(X)
    mixed = reg.set_params(amp=True).predict(X)
    assert mixed.dtype == np.float32
    assert len(np.unique(mixed)) >= 60, np.unique(mixed)
    np.testing.assert_allclose(mixed, full, atol=0.1)
    # trained under autocast too: the loss and predictions stay float32
    trained = QuakeRegressor(**dict(TINY, amp=True)).fit(X, y)
    assert len(np.unique(trained.predict(X))) >= 60
    assert np.isfinite(trained.history[-1, "train_loss"])


@pytest.mark.parametrize("make", [
    lambda: SARNet("test_efficientnet", 4, 3, input_size=(32, 32), flips=False),
    lambda: FusionNet("test_efficientnet", 4, 3, 2, np.zeros(4), np.ones(4), np.zeros(2), np.ones(2)),
], ids=["SARNet", "FusionNet"])
def test_modules_run_their_heads_in_float32_under_autocast(make):
    torch.manual_seed(0)
    module = make().eval()
    x = torch.rand(6, 4, 32, 32)
    with torch.no_grad():
        full = module(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = module(x)
    assert full.dtype == mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, atol=0.1, rtol=0.05)


# --------------------------------------------------------------------------- pretrained
def _published_like(tmp_path, suffix, seed=1):
    """A timm model as timm publishes it (3 channels, 1000 classes), saved to a file."""
    torch.manual_seed(seed)
    source = timm.create_model("test_efficientnet")
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        safetensors_torch = pytest.importorskip("safetensors.torch")
        safetensors_torch.save_file(source.state_dict(), str(path))
    else:
        torch.save(source.state_dict(), path)
    return source, path


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network for the hub and empty caches: anything fetched would fail the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch-hub"))
    return cache


def _check_loaded(backbone, source, in_chans):
    state, expected = backbone.state_dict(), source.state_dict()
    deep = "blocks.0.0.conv.weight"
    torch.testing.assert_close(state[deep], expected[deep])  # the file's weights, not a new init
    stem = state["conv_stem.weight"]
    assert stem.shape[1] == in_chans
    torch.testing.assert_close(stem, timm.models.adapt_input_conv(in_chans, expected["conv_stem.weight"]))


@pytest.mark.parametrize("suffix, channels, as_str", [(".pth", 4, False), (".pt", 2, True), (".safetensors", 4, False)])
def test_pretrained_file_loads_offline_and_adapts_the_first_conv(offline, tmp_path, suffix, channels, as_str):
    source, path = _published_like(tmp_path, suffix)
    reg = QuakeRegressor(pretrained=str(path) if as_str else path, input_shape=(channels, 32, 32), **TINY)
    _check_loaded(reg.initialize().module_.backbone, source, channels)
    assert reg.module_.backbone.get_classifier().weight.shape[0] == 1  # a new head for one output
    X, y = _data(n=8, c=channels)
    assert np.isfinite(reg.fit(X, y).predict(X)).all()


def test_pretrained_file_for_the_damage_backbone(offline, tmp_path):
    source, path = _published_like(tmp_path, ".pth")
    net = DamageFusionClassifier(backbone="test_efficientnet", pretrained=path, input_shape=(2, 32, 32),
                                 metadata_columns=None, use_metadata=False, classes=[0, 1], max_epochs=1)
    _check_loaded(net.initialize().module_.backbone, source, 2)


def test_pretrained_true_loads_cached_weights_offline(offline, tmp_path):
    # the layout of the Hugging Face cache: refs/main names the snapshot holding the file
    source, path = _published_like(tmp_path, ".pth")
    repo = offline / "models--timm--test_efficientnet.r160_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    path.rename(snapshot / "pytorch_model.bin")
    reg = QuakeRegressor(pretrained=True, input_shape=(4, 32, 32), **TINY)
    _check_loaded(reg.initialize().module_.backbone, source, 4)


@pytest.mark.parametrize("how", ["offline mode", "hub unreachable"])
def test_pretrained_true_without_network_fails_fast_naming_model_and_hub(offline, monkeypatch, how):
    if how == "hub unreachable":
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    X, y = _data(n=8)
    reg = QuakeRegressor(pretrained=True, **TINY)
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        reg.fit(X, y)
    assert time.monotonic() - start < 15  # not huggingface_hub's ~50 s of retries
    message = str(info.value)
    for part in ("'test_efficientnet'", "timm/test_efficientnet", "not in the local cache", "pretrained='/path"):
        assert part in message, message
    assert ("HF_HUB_OFFLINE" if how == "offline mode" else "127.0.0.1:9") in message, message


def test_pretrained_bad_files_are_named(offline, tmp_path):
    X, y = _data(n=8)
    (tmp_path / "notes.txt").write_text("not weights")
    other = timm.create_model("test_resnet")
    torch.save(other.state_dict(), tmp_path / "resnet.pth")
    cases = [
        (tmp_path / "missing.pth", FileNotFoundError, "missing.pth"),
        (tmp_path, IsADirectoryError, "is a folder"),
        (tmp_path / "notes.txt", ValueError, r"suffix '\.txt'.*\.safetensors"),
        (tmp_path / "resnet.pth", ValueError, r"'test_efficientnet'.*resnet\.pth"),
    ]
    for value, error, match in cases:
        with pytest.raises(error, match=match):
            QuakeRegressor(pretrained=value, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="pretrained"):
        QuakeRegressor(pretrained=1, **TINY).fit(X, y)


# --------------------------------------------------------------------------- pickling
@pytest.mark.parametrize("make", [
    lambda: QuakeRegressor(**TINY),
    lambda: QuakeClassifier(**TINY),
    lambda: DamageFusionClassifier(backbone="test_efficientnet", metadata_columns=None, use_metadata=False,
                                   max_epochs=1, batch_size=8, random_state=0),
], ids=["regressor", "classifier", "damage"])
def test_pickle_holds_the_weights_not_the_training_state(tmp_path, make):
    X, y = _data(n=16)
    y = y if isinstance(make(), QuakeRegressor) else (np.arange(16) % 2)
    net = make().fit(X, y)
    expected = net.predict(X)
    weights = _weight_bytes(net)
    blob = pickle.dumps(net)
    joblib.dump(net, tmp_path / "net.joblib")
    assert len(blob) <= 1.2 * weights, (len(blob), weights)
    assert (tmp_path / "net.joblib").stat().st_size <= 1.2 * weights
    assert net.optimizer_.state  # the fitted estimator itself keeps its optimizer
    for loaded in (pickle.loads(blob), joblib.load(tmp_path / "net.joblib")):
        np.testing.assert_array_equal(loaded.predict(X), expected)
        assert not loaded.optimizer_.state  # a fresh optimizer: training goes on from reset moments
        loaded.partial_fit(X, y)
        assert len(loaded.history) == 2 and np.isfinite(loaded.predict(X)).all()


def test_keep_training_state_pickles_the_optimizer():
    X, y = _data(n=16)
    reg = QuakeRegressor(**dict(TINY, keep_training_state=True)).fit(X, y)
    blob = pickle.dumps(reg)
    assert len(blob) > 2.5 * _weight_bytes(reg)  # AdamW's two moments per weight
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    before, after = reg.optimizer_.state_dict()["state"], loaded.optimizer_.state_dict()["state"]
    assert before.keys() == after.keys() and before
    for k in before:
        torch.testing.assert_close(after[k]["exp_avg"], before[k]["exp_avg"])
    with pytest.raises(ValueError, match="keep_training_state"):
        QuakeRegressor(**dict(TINY, keep_training_state="yes")).fit(X, y)


# --------------------------------------------------------------------------- sample weights
class _RecordingMSE(torch.nn.Module):
    """MSE that records the targets and weights of every batch it sees."""

    seen = []

    def forward(self, y_pred, y_true, sample_weight=None):
        weights = None if sample_weight is None else sample_weight.tolist()
        _RecordingMSE.seen.append((y_true.flatten().tolist(), weights))
        return F.mse_loss(y_pred, y_true)


def test_sample_weights_travel_with_their_samples():
    X, _ = _data(n=20)
    y = np.arange(20, dtype=np.float32)  # each target names its sample
    w = np.linspace(0.0, 2.0, 20)
    _RecordingMSE.seen = []
    QuakeRegressor(**dict(TINY, criterion=_RecordingMSE, max_epochs=2)).fit(X, y, sample_weight=w)
    assert len(_RecordingMSE.seen) == 6  # 2 epochs of 3 shuffled batches
    for targets, weights in _RecordingMSE.seen:
        np.testing.assert_allclose(weights, w[np.asarray(targets, dtype=int)], rtol=1e-6)
    # the validation split keeps each sample's weight too (weighted valid_loss)
    _RecordingMSE.seen = []
    QuakeRegressor(**dict(TINY, criterion=_RecordingMSE), train_split=ValidSplit(4)).fit(X, y, sample_weight=w)
    pairs = [(t, wt) for targets, weights in _RecordingMSE.seen for t, wt in zip(targets, weights)]
    assert len(pairs) == 20 and all(np.isclose(wt, w[int(t)]) for t, wt in pairs)


@pytest.mark.parametrize("make, target", [
    (lambda: QuakeRegressor(**TINY), "magnitude"),
    (lambda: QuakeRegressor(**dict(TINY, criterion=RegressionRankingLoss)), "magnitude"),
    (lambda: QuakeClassifier(**TINY), "label"),
    (lambda: QuakeClassifier(**dict(TINY, criterion__weight=torch.tensor([1.0, 3.0]))), "label"),
    (lambda: DamageFusionClassifier(backbone="test_efficientnet", metadata_columns=None, use_metadata=False,
                                    max_epochs=1, batch_size=8, random_state=0), "label"),
], ids=["mse", "mse+ranking", "cross-entropy", "weighted cross-entropy", "damage focal"])
def test_fit_takes_sample_weight(make, target):
    X, y = _data(n=16)
    if target == "label":
        y = np.arange(16) % 2
    assert has_fit_parameter(make(), "sample_weight")
    plain = make().fit(X, y)
    proba = getattr(plain, "predict_proba", plain.predict)
    expected = proba(X)
    ones = make().fit(X, y, sample_weight=np.ones(16))
    np.testing.assert_array_equal(getattr(ones, "predict_proba", ones.predict)(X), expected)
    w = np.where(np.arange(16) < 8, 3.0, 0.25)
    weighted = make().fit(X, y, sample_weight=w.tolist())
    assert not np.allclose(getattr(weighted, "predict_proba", weighted.predict)(X), expected)


def test_bad_sample_weights_get_scikit_learn_messages():
    X, y = _data(n=8)
    for w, match in [(np.ones(5), r"sample_weight.shape == \(5,\), expected \(8,\)"),
                     (-np.ones(8), "Negative values"), (np.zeros(8), "at least one non-zero"),
                     (np.full(8, np.nan), "NaN")]:
        reg = QuakeRegressor(**TINY)
        with pytest.raises(ValueError, match=match):
            reg.fit(X, y, sample_weight=w)


class _NoReduction(torch.nn.Module):
    def forward(self, y_pred, y_true):
        return ((y_pred - y_true) ** 2).mean()


def test_a_criterion_that_cannot_weight_samples_is_named():
    X, y = _data(n=8)
    reg = QuakeRegressor(**dict(TINY, criterion=_NoReduction))
    reg.fit(X, y)  # unweighted: fine
    with pytest.raises(ValueError, match="criterion _NoReduction cannot weight samples"):
        reg.fit(X, y, sample_weight=np.arange(8) + 1.0)


def test_sample_weighted_partial_fit_and_search():
    X, y = _data(n=16)
    w = np.arange(16) + 1.0
    reg = QuakeRegressor(**TINY).fit(X, y)
    reg.partial_fit(X, y, sample_weight=w)
    assert len(reg.history) == 2
    # scikit-learn's tools slice the weights with the folds and pass them to fit
    search = GridSearchCV(QuakeRegressor(**TINY), {"lr": [1e-3, 1e-2]}, cv=2).fit(X, y, sample_weight=w)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert np.isfinite(cross_val_score(QuakeRegressor(**TINY), X, y, cv=2, params={"sample_weight": w})).all()


def test_io_roundtrip_of_weighted_model():
    X, y = _data(n=16)
    reg = QuakeRegressor(**TINY).fit(X, y, sample_weight=np.arange(16) + 1.0)
    buffer = io.BytesIO()
    joblib.dump(reg, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict(X), reg.predict(X))
