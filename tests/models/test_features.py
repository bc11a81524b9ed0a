"""BackboneFeatures, the feature pipelines, and the ranking paper's registered recipe (all offline)."""
import pickle

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file
from sklearn.model_selection import GridSearchCV

from skquake.datasets import LazyImages, QuakeSet
from skquake.models import (
    create_model,
    get_model_spec,
    get_search_space,
    list_models,
    load_model,
    save_model,
)
from skquake.models.deep import BackboneFeatures, RegressionRankingLoss
from skquake.utils import InvalidParameterError, to_decibels

TINY_VIT = {"backbone": "test_vit", "backbone_kwargs": {"patch_size": 1, "depth": 1, "embed_dim": 16}}


def _images(n=7, c=4, size=32, seed=0):
    return np.random.default_rng(seed).gamma(1.0, 0.05, size=(n, c, size, size)).astype(np.float32)


def _reference_features(model, X, pool):
    """What BackboneFeatures must give: the 3-channel model with its first conv adapted as timm
    does, run on the decibels of X, forward_features pooled."""
    state = dict(model.state_dict())
    first = model.pretrained_cfg["first_conv"] + ".weight"
    state[first] = timm.models.adapt_input_conv(X.shape[1], state[first])
    ref = timm.create_model(model.pretrained_cfg["architecture"], in_chans=X.shape[1], num_classes=0)
    missing, unexpected = ref.load_state_dict(state, strict=False)
    assert not missing and set(unexpected) == {"fc.weight", "fc.bias"}
    ref.eval()
    with torch.no_grad():
        maps = ref.forward_features(10 * torch.log10(torch.from_numpy(X).clamp(min=0) + 1e-9))
    return (maps.mean((2, 3)) if pool == "avg" else maps.amax((2, 3))).numpy()


# ----------------------------------------------------------------------------- BackboneFeatures
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("pool", ["avg", "max"])
def test_pretrained_file_gives_the_models_pooled_features(tmp_path, suffix, pool):
    torch.manual_seed(0)
    model = timm.create_model("resnet10t")  # 3 RGB channels, as published weights are
    path = tmp_path / f"weights{suffix}"
    (save_file if suffix == ".safetensors" else torch.save)(model.state_dict(), str(path))
    X = _images()
    features = BackboneFeatures("resnet10t", pretrained=path, pool=pool, batch_size=3).fit(X)
    out = features.transform(X)
    assert out.dtype == np.float64 and out.shape == (7, 512) and features.n_features_out_ == 512
    np.testing.assert_allclose(out, _reference_features(model, X, pool), rtol=1e-4, atol=1e-5)
    # The weights came from the file: a random init gives other features.
    assert not np.allclose(out, BackboneFeatures("resnet10t", pool=pool, random_state=0).fit_transform(X), atol=1e-3)


def test_shapes_batches_and_feature_names():
    X = _images(5)
    features = BackboneFeatures("resnet10t", random_state=0, batch_size=2).fit(X)
    out = features.transform(X)
    assert features.input_shape_ == (4, 32, 32) and features.n_features_in_ == 4 * 32 * 32
    names = features.get_feature_names_out()
    assert names.shape == (512,) and names[0] == "backbonefeatures0" and names[-1] == "backbonefeatures511"
    # Batch size and flattened input (with input_shape) do not change the features.
    np.testing.assert_allclose(BackboneFeatures("resnet10t", random_state=0, batch_size=5).fit_transform(X), out,
                               rtol=1e-5, atol=1e-6)
    flat = BackboneFeatures("resnet10t", input_shape=(4, 32, 32), random_state=0).fit(X.reshape(5, -1))
    np.testing.assert_allclose(flat.transform(X.reshape(5, -1)), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flat.transform(torch.from_numpy(X)), out, rtol=1e-5, atol=1e-6)
    # random_state seeds the random init: same seed, same features; another seed, others.
    assert not np.allclose(BackboneFeatures("resnet10t", random_state=1).fit_transform(X), out, atol=1e-3)
    # 2-D input without input_shape: C channels of a 1 x 1 image (a patch-1 ViT takes it).
    vit = BackboneFeatures(**TINY_VIT, decibels=False, random_state=0).fit(np.ones((3, 6)))
    assert vit.input_shape_ == (6, 1, 1) and vit.transform(np.ones((2, 6))).shape == (2, 16)
    # pool="model": the model's own pooling (a resnet's is the global average).
    np.testing.assert_allclose(BackboneFeatures("resnet10t", pool="model", random_state=0).fit_transform(X), out,
                               rtol=1e-5, atol=1e-6)


def test_transform_runs_eval_mode_batched_and_pickles(monkeypatch):
    X = _images(5)
    features = BackboneFeatures("resnet10t", random_state=0, batch_size=2).fit(X)
    features.backbone_.train()  # transform must switch BatchNorm to its running statistics
    seen = []
    original = features.backbone_.forward_features

    def spy(x):
        seen.append((x.shape[0], features.backbone_.training, torch.is_grad_enabled()))
        return original(x)

    monkeypatch.setattr(features.backbone_, "forward_features", spy)
    out = features.transform(X)
    assert seen == [(2, False, False), (2, False, False), (1, False, False)]
    monkeypatch.undo()
    restored = pickle.loads(pickle.dumps(features))
    np.testing.assert_array_equal(restored.transform(X), out)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_features_on_cuda_match_the_cpu():
    X = _images(5)
    cpu = BackboneFeatures("resnet10t", random_state=0).fit_transform(X)
    gpu = BackboneFeatures("resnet10t", random_state=0, device="cuda").fit(X)
    assert next(gpu.backbone_.parameters()).is_cuda
    np.testing.assert_allclose(gpu.transform(X), cpu, rtol=1e-3, atol=1e-4)


def test_lazy_input_is_read_batch_by_batch(tiny_quakeset, monkeypatch):
    ds = QuakeSet(tiny_quakeset, split="train")
    arrays = np.stack([ds[i]["image"] for i in range(len(ds))]).astype(np.float32)
    features = BackboneFeatures("resnet10t", random_state=0, batch_size=4).fit(ds)  # a QuakeSet
    assert features.input_shape_ == tuple(ds.image_shape)
    lazy = LazyImages(ds)[np.arange(6)]
    reads = []
    original = LazyImages.__getitem__

    def counting(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(LazyImages, "__getitem__", counting)
    out = features.transform(lazy)
    assert reads == list(range(6))  # one image at a time, in order, nothing read twice
    monkeypatch.undo()
    np.testing.assert_allclose(out, features.transform(arrays[:6]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features.transform(ds), features.transform(arrays), rtol=1e-5, atol=1e-6)
    in_db = QuakeSet(tiny_quakeset, split="train", transform=to_decibels)
    with pytest.raises(ValueError, match="the dataset's first image is mostly negative"):
        BackboneFeatures("resnet10t").fit(in_db)
    with pytest.raises(ValueError, match=r"the dataset's images have shape \(4, 32, 32\) but BackboneFeatures "
                                         r"declares input_shape \(2, 32, 32\)"):
        BackboneFeatures("resnet10t", input_shape=(2, 32, 32)).fit(ds)


def test_bad_inputs_name_the_problem(tmp_path):
    X = _images(3)
    with pytest.raises(InvalidParameterError, match="'pool' parameter"):
        BackboneFeatures(pool="mean").fit(X)
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        BackboneFeatures(batch_size=0).fit(X)
    with pytest.raises(ValueError, match="device='nope' is not a torch device"):
        BackboneFeatures(device="nope").fit(X)
    with pytest.raises(ValueError, match="unknown timm backbone 'resnet10x'"):
        BackboneFeatures("resnet10x").fit(X)
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        BackboneFeatures("resnet10t", pretrained=missing).fit(X)
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match=r"w\.txt has suffix '\.txt'"):
        BackboneFeatures("resnet10t", pretrained=tmp_path / "w.txt").fit(X)
    with pytest.raises(ValueError, match="read as 4 channels of a 1 x 1 image: pass input_shape"):
        BackboneFeatures("resnet10t").fit(X.reshape(3, 4, -1)[:, :, 0])
    with pytest.raises(ValueError, match="X has 100 features, but BackboneFeatures is expecting 4096"):
        BackboneFeatures("resnet10t", input_shape=(4, 32, 32)).fit(np.ones((3, 100)))
    with pytest.raises(ValueError, match=r"declares input_shape \(2, 32, 32\)"):
        BackboneFeatures("resnet10t", input_shape=(2, 32, 32)).fit(X)
    nan = X.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        BackboneFeatures("resnet10t").fit(nan)
    db = 10 * np.log10(X)
    with pytest.raises(ValueError, match="X is mostly negative but BackboneFeatures.decibels=True. expects linear"):
        BackboneFeatures("resnet10t").fit(db)
    assert BackboneFeatures("resnet10t", decibels=False).fit(db).transform(db).shape == (3, 512)
    fitted = BackboneFeatures("resnet10t", random_state=0).fit(X)
    with pytest.raises(ValueError, match="X is mostly negative"):
        fitted.transform(db.reshape(3, -1))
    with pytest.raises(ValueError, match=r"was fitted on \(4, 32, 32\)"):
        fitted.transform(_images(2, c=2))
    with pytest.raises(ValueError, match="Found array with dim 3"):
        fitted.transform(X[0])
    with pytest.raises(Exception, match="not fitted"):
        BackboneFeatures().transform(X)


# ----------------------------------------------------------------------------- feature pipelines
_FEATURE_ENTRIES = {"features-rf-det": "detection", "features-rf-mag": "magnitude",
                    "features-ridge": "magnitude", "features-logreg": "detection"}


def test_feature_entries_are_registered_with_spaces():
    assert set(list_models(tags=("features",))) == set(_FEATURE_ENTRIES)
    for name, task in _FEATURE_ENTRIES.items():
        spec = get_model_spec(name)
        assert spec.task == task and spec.family == "shallow"
        pipe = create_model(name)
        assert pipe.steps[0][0] == "features" and pipe.get_params()["features__backbone"] == "resnet10t"
        assert pipe.get_params()["features__pretrained"] is False
        space = get_search_space(name)
        assert "features__pool" in space and set(space) <= set(pipe.get_params())


@pytest.mark.parametrize("name", sorted(_FEATURE_ENTRIES))
def test_feature_pipelines_fit_and_predict(name, tmp_path):
    X = _images(12)
    y = np.arange(12) % 2 if _FEATURE_ENTRIES[name] == "detection" else np.linspace(3.0, 7.0, 12)
    weights = tmp_path / "w.pth"
    torch.save(timm.create_model("resnet10t").state_dict(), weights)
    pipe = create_model(name, random_state=0, input_shape=(4, 32, 32), features__pretrained=str(weights))
    assert pipe.get_params()["features__random_state"] == 0 and pipe.get_params()["features__input_shape"] == (4, 32, 32)
    pred = pipe.fit(X.reshape(12, -1), y).predict(X.reshape(12, -1))
    assert pred.shape == (12,)
    if name.endswith("det") or name == "features-logreg":
        assert set(pred) <= {0, 1}


def test_feature_pipeline_saves_without_pickle_and_loads(tmp_path):
    """The .skq format stores a pipeline with skops: the backbone travels as numpy arrays and is
    rebuilt on load without reading the weights file again (it may be gone)."""
    X, y = _images(10), np.arange(10) % 2
    weights = tmp_path / "w.safetensors"
    save_file(timm.create_model("resnet10t").state_dict(), str(weights))
    params = {"rf__n_estimators": 5, "features__pretrained": str(weights)}
    pipe = create_model("features-rf-det", **params).fit(X, y)
    path = save_model(pipe, tmp_path / "m.skq", model="features-rf-det", params=params)
    weights.unlink()
    loaded = load_model(path)
    features = loaded.named_steps["features"]
    assert isinstance(features.backbone_, torch.nn.Module) and not features.backbone_.training
    np.testing.assert_array_equal(features.transform(X), pipe.named_steps["features"].transform(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_grid_search_over_the_feature_pipeline():
    X = _images(12)
    y = np.arange(12) % 2
    pipe = create_model("features-rf-det", random_state=0, rf__n_estimators=5)
    search = GridSearchCV(pipe, {"features__batch_size": [4, 12], "rf__max_depth": [2, None]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.predict(X).shape == (12,)


# ----------------------------------------------------------------------------- ranking paper's recipe
_RANKING_PAPER = ("mobilenetv3-small-rank-rp", "convnextv2-atto-rank-rp", "mobilevitv2-rank-rp",
                  "levit-128s-rank-rp", "vit-tiny-rank-rp", "resnet18-rank-rp")


def test_ranking_paper_entries_hold_its_recipe():
    assert set(list_models(tags=("ranking-paper",))) == set(_RANKING_PAPER)
    for name in _RANKING_PAPER:
        spec = get_model_spec(name)
        assert spec.task == "magnitude" and spec.family == "deep"
        net = create_model(name)
        # deep=False: skorch's deep get_params reports its default callbacks' settings.
        params = net.get_params(deep=False)
        schedule = dict(net.initialize_callbacks().callbacks_)["lr_schedule"]
        assert (schedule.div_factor, schedule.final_div_factor) == (1e9, 1e4)
        assert params["pretrained"] is False  # nothing downloads; the paper's ImageNet weights via pretrained=
        assert (params["max_epochs"], params["lr"], params["batch_size"], params["weight_decay"]) == (10, 1e-4, 16, 0.01)
        assert params["warmup"] == 0.1 and params["criterion"] is RegressionRankingLoss
        assert params["callbacks__lr_schedule__div_factor"] == 1e9
        assert params["callbacks__lr_schedule__final_div_factor"] == 1e4
        assert (params["criterion__ranking_weight"], params["criterion__margin"]) == (1.0, 0.02)
        assert params["standardize_target"] is False and params["clamp"] == (0.0, 10.0)
    assert create_model("levit-128s-rank-rp").backbone == "levit_128s"


def test_ranking_paper_schedule_starts_from_lr_over_1e9():
    # 20 samples, batch 4, 2 epochs: 10 steps, one of warm-up (10%).
    X, y = _images(20), np.linspace(0.0, 7.0, 20)
    net = create_model("resnet18-rank-rp", backbone="resnet10t", max_epochs=2, batch_size=4, random_state=0)
    net.fit(X, y)
    lr = np.concatenate([np.asarray(e) for e in net.history[:, "batches", :, "event_lr"]])
    assert len(lr) == 10
    assert lr[0] == pytest.approx(1e-4 / 1e9)  # the first batch step runs at ~0
    assert lr[1] == pytest.approx(1e-4)  # the peak after the warm-up
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-4 / 1e9 / 1e4)  # the end of the cycle
    criterion = net.criterion_
    assert isinstance(criterion, RegressionRankingLoss) and criterion.ranking.margin == 0.02
