"""The skorch estimators: inputs, recipe defaults, search, reproducibility, persistence, bad input.

Tiny on purpose: 32 x 32 images, timm's ``test_efficientnet`` (0.1 M parameters), 1-2 epochs.
"""
import io
import os
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from skorch.helper import SliceDataset

from skquake.datasets import LazyImages, lazy_xy
from skquake.models.deep import (
    FitCheckpoint,
    FocalLoss,
    NoSingletonBatchSampler,
    QuakeClassifier,
    QuakeRegressor,
    RegressionRankingLoss,
    build_backbone,
    random_flips,
)
from skquake.utils import to_decibels

TINY = dict(backbone="test_efficientnet", max_epochs=1, batch_size=8, random_state=0)


def _data(n=20, c=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 0.05, size=(n, c, size, size)).astype(np.float32)  # linear sigma0 > 0
    y = np.where(np.arange(n) % 2 == 0, 0.0, rng.uniform(4, 7, n)).astype(np.float32)
    return X, y


# --------------------------------------------------------------------------- arrays
def test_regressor_fit_predict_arrays_and_recipe_defaults():
    X, y = _data()
    reg = QuakeRegressor(**dict(TINY, max_epochs=2, lr=1e-3)).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (20,) and pred.dtype == np.float32
    assert np.all((pred >= 0) & (pred <= 10))  # clamped at inference
    assert reg.input_shape_ == (4, 32, 32) and reg.n_features_in_ == 4 * 32 * 32
    assert isinstance(reg.optimizer_, torch.optim.AdamW)
    assert reg.optimizer_.param_groups[0]["weight_decay"] == 0.01
    # 20 samples, batch 8 -> batches of 8, 8, 4; one-cycle stepped per batch over 2 epochs
    lrs = [lr for epoch in reg.history[:, "batches"] for lr in (b["event_lr"] for b in epoch)]
    assert len(lrs) == 6
    assert lrs[0] == pytest.approx(1e-3 / 25) and max(lrs) == pytest.approx(1e-3)
    assert lrs[-1] < lrs[1]
    assert not hasattr(reg, "predict_proba")
    assert reg.score(X, y) <= 1.0  # RegressorMixin R^2


def test_clamp_applies_only_at_inference():
    X, y = _data(n=8)
    reg = QuakeRegressor(**dict(TINY, clamp=(0.0, 1e-6))).fit(X, y)
    assert reg.predict(X).max() <= 1e-6
    reg.module_.train()
    raw = reg.module_(torch.from_numpy(X))
    assert raw.max().item() > 1e-6 or raw.min().item() < 0.0


def test_standardized_target_round_trip_and_units():
    X, y = _data(n=12)
    reg = QuakeRegressor(**dict(TINY, clamp=None)).fit(X, y)
    assert reg.standardize_target is True  # the default, stored unchanged
    assert reg.target_mean_ == pytest.approx(float(y.astype(np.float64).mean()))
    assert reg.target_scale_ == pytest.approx(float(y.astype(np.float64).std()))
    # the module maps the backbone's standardised output back to magnitude units
    reg.module_.eval()
    with torch.no_grad():
        x = torch.from_numpy(X)
        raw = reg.module_.backbone(to_decibels(x.clamp(min=0)))
        out = reg.module_(x)
    torch.testing.assert_close(out, raw * reg.target_scale_ + reg.target_mean_)
    np.testing.assert_allclose(reg.predict(X), out.numpy().ravel(), rtol=1e-6)
    # the loss is computed in magnitude units: predicting the mean gives MSE = var(y)
    crit = torch.nn.MSELoss()
    mean_pred = torch.full((12, 1), reg.target_mean_)
    assert crit(mean_pred, torch.from_numpy(y).view(-1, 1)).item() == pytest.approx(y.var(), rel=1e-5)
    # a fresh net starts near the target mean, not near 0
    fresh = QuakeRegressor(**dict(TINY, max_epochs=1, lr=1e-12, clamp=None)).fit(X, y)
    assert abs(float(np.mean(fresh.predict(X))) - float(y.mean())) < 0.5 * float(y.std())
    off = QuakeRegressor(**dict(TINY, max_epochs=1, lr=1e-12, clamp=None, standardize_target=False)).fit(X, y)
    assert (off.target_mean_, off.target_scale_) == (0.0, 1.0)
    assert abs(float(np.mean(off.predict(X)))) < 1.0  # the raw head: near 0, far from y's mean
    # a constant target does not divide by zero
    const = QuakeRegressor(**TINY).fit(X, np.full(12, 5.0, np.float32))
    assert const.target_scale_ == 1.0 and np.isfinite(const.predict(X)).all()


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_standardize_target_is_validated(value):
    X, y = _data(n=8)
    reg = QuakeRegressor(**dict(TINY, standardize_target=value))
    assert reg.get_params()["standardize_target"] is value  # stored unchanged
    with pytest.raises(ValueError, match="standardize_target"):
        reg.fit(X, y)


def test_standardized_regressor_reproducible_pickles_and_reloads(tmp_path):
    X, y = _data(n=12)
    reg = QuakeRegressor(**TINY).fit(X, y)
    expected = reg.predict(X)
    np.testing.assert_array_equal(QuakeRegressor(**TINY).fit(X, y).predict(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), expected)
    reg.save_weights(tmp_path / "w.pt")
    fresh = QuakeRegressor(**TINY).load_weights(tmp_path / "w.pt")  # shift/scale are buffers
    np.testing.assert_array_equal(fresh.predict(X), expected)
    # warm_start keeps the statistics the module was built with
    warm = clone(reg).set_params(warm_start=True).fit(X, y)
    mean0 = warm.target_mean_
    warm.fit(X, y + 1.0)
    assert warm.target_mean_ == mean0
    assert float(warm.module_.output_shift) == pytest.approx(mean0)


def test_fresh_heads_start_small_whatever_the_backbone_init():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 64, 64)
    fresh = build_backbone("mobilenetv2_100", 4, 1).eval()
    timm_init = build_backbone("mobilenetv2_100", 4, 1, head_init="timm").eval()
    assert fresh.get_classifier().bias.abs().max().item() == 0.0
    # timm's EfficientNet-family head init is scaled for 1000 classes: std ~0.5 for one output
    assert timm_init.get_classifier().weight.std().item() > 0.3
    assert fresh.get_classifier().weight.std().item() < 0.05
    with torch.no_grad():
        assert fresh(x).abs().max().item() < timm_init(x).abs().max().item()
    # "auto" (the default) keeps heads that timm already initialises small
    torch.manual_seed(0)
    auto = build_backbone("convnextv2_atto", 4, 1).get_classifier().weight
    torch.manual_seed(0)
    timm_head = build_backbone("convnextv2_atto", 4, 1, head_init="timm").get_classifier().weight
    torch.testing.assert_close(auto, timm_head)
    with pytest.raises(ValueError, match="head_init"):
        build_backbone("mobilenetv2_100", 4, 1, head_init="zeros")


def test_flattened_input_with_input_shape_matches_4d():
    X, y = _data(n=12)
    a = QuakeRegressor(**TINY).fit(X, y).predict(X)
    flat = QuakeRegressor(input_shape=(4, 32, 32), **TINY).fit(X.reshape(12, -1), y)
    np.testing.assert_allclose(flat.predict(X.reshape(12, -1)), a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flat.predict(X), a, rtol=1e-5, atol=1e-6)


def test_classifier_probabilities_labels_and_scorers():
    X, _ = _data(n=16)
    y = np.array(["quiet", "quake"] * 8)
    clf = QuakeClassifier(**TINY).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (16, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert list(clf.classes_) == ["quake", "quiet"]
    assert set(clf.predict(X)) <= {"quake", "quiet"}
    for name in ("accuracy", "roc_auc", "neg_log_loss", "f1_macro"):
        assert np.isfinite(get_scorer(name)(clf, X, y))


def test_classifier_labels_with_validation_split_and_partial_fit():
    X, _ = _data(n=24)
    y = np.array(["quiet", "quake", "strong"] * 8)
    clf = QuakeClassifier(classes=["quiet", "strong", "quake"], train_split=ValidSplit(4), **TINY).fit(X, y)
    assert 0.0 <= clf.history[-1, "valid_acc"] <= 1.0
    assert list(clf.classes_) == ["quiet", "strong", "quake"]  # the given order is kept
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict(X), np.array(clf.classes_)[proba.argmax(1)])
    clf.partial_fit(X[:8], y[:8])  # one more epoch, same classes
    assert set(clf.predict(X)) <= set(clf.classes_)
    with pytest.raises(ValueError, match="fitted on"):
        clf.partial_fit(X[:, :2], y)


def test_classifier_with_focal_loss_still_returns_probabilities():
    X, _ = _data(n=12)
    y = np.arange(12) % 3
    clf = QuakeClassifier(criterion=FocalLoss, criterion__gamma=4.0, criterion__weight=[1.0, 2.0, 3.0], **TINY)
    proba = clf.fit(X, y).predict_proba(X)
    assert proba.shape == (12, 3) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert clf.criterion_.gamma == 4.0


def test_single_image_two_channels_and_options():
    X, y = _data(n=10, c=2)
    reg = QuakeRegressor(amp=True, channels_last=True, **TINY).fit(X, y)
    assert reg.module_.backbone.conv_stem.weight.shape[1] == 2
    assert np.isfinite(reg.predict(X)).all()


def test_batches_never_end_with_one_sample():
    sampler = NoSingletonBatchSampler(17, 8, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert [len(b) for b in batches] == [8, 9] and len(sampler) == 2
    assert sorted(i for b in batches for i in b) == list(range(17))
    assert [len(b) for b in NoSingletonBatchSampler(16, 8)] == [8, 8]
    assert [len(b) for b in NoSingletonBatchSampler(3, 2)] == [3]
    # a fit on 17 samples with batch 8 trains (BatchNorm would fail on a batch of 1)
    X, y = _data(n=17)
    reg = QuakeRegressor(**TINY).fit(X, y)
    assert reg.history[-1, "train_batch_count"] == 2


def test_random_flips_are_per_sample_flips():
    x = torch.arange(2 * 1 * 2 * 2, dtype=torch.float32).reshape(2, 1, 2, 2).repeat(64, 1, 1, 1)
    out = random_flips(x, generator=torch.Generator().manual_seed(0))
    variants = {tuple(o.flatten().tolist()) for o in out}
    assert len(variants) > 4  # both inputs, several flip combinations
    for o, i in zip(out, x):
        candidates = [i, i.flip(-1), i.flip(-2), i.flip(-1).flip(-2)]
        assert any(torch.equal(o, c) for c in candidates)


def test_verbose_prints_progress(capsys):
    X, y = _data(n=8)
    QuakeRegressor(**dict(TINY, verbose=1)).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "epoch" in out


def test_early_stopping_with_validation_split():
    X, y = _data(n=24)
    reg = QuakeRegressor(
        **dict(TINY, max_epochs=6), train_split=ValidSplit(4),
        callbacks=[EarlyStopping(patience=1, threshold=10.0, sink=lambda *a, **k: None)],
    ).fit(X, y)
    assert len(reg.history) < 6 and "valid_loss" in reg.history[-1]


# --------------------------------------------------------------------------- lazy dataset
def test_lazy_quakeset_matches_in_memory_arrays(tiny_quakeset):
    from skquake.datasets import QuakeSet, load_quakeset

    ds = QuakeSet(tiny_quakeset, split="train")
    X, y, _ = load_quakeset(tiny_quakeset, split="train", target="magnitude")
    lazy = QuakeRegressor(**TINY).fit(ds)  # y read from the dataset
    eager = QuakeRegressor(**TINY).fit(X, y)
    np.testing.assert_allclose(lazy.predict(ds), eager.predict(X), rtol=1e-5, atol=1e-6)
    clf = QuakeClassifier(**TINY).fit(ds)
    assert set(clf.classes_) == {0, 1} and clf.predict(ds).shape == (len(ds),)


def test_lazy_images_index_without_reading(tiny_quakeset):
    from skquake.datasets import QuakeSet

    ds = QuakeSet(tiny_quakeset, split="all")
    X, y, groups = lazy_xy(ds)
    assert X.shape == (len(ds),) + ds.image_shape and len(y) == len(groups) == len(ds)
    sub = X[np.array([3, 1])]
    assert isinstance(sub, LazyImages) and list(sub.indices) == [3, 1]
    assert isinstance(X[2:5], LazyImages) and len(X[2:5]) == 3
    assert isinstance(X[np.arange(len(ds)) % 2 == 0], LazyImages)
    np.testing.assert_array_equal(sub[0], ds[3]["image"])
    np.testing.assert_array_equal(sub.targets("label"), ds.labels[[3, 1]])
    assert pickle.loads(pickle.dumps(sub)).shape == sub.shape
    # skorch's SliceDataset, with the shape of images
    assert isinstance(X, SliceDataset) and X.ndim == 4 and X[[0, 2]].shape == (2,) + ds.image_shape
    assert list(X[np.array([4, 0]), ...].indices) == [4, 0]  # scikit-learn's X[key, ...]
    assert X[1].dtype == np.float32
    with pytest.raises(IndexError, match="boolean mask"):
        X[np.ones(3, dtype=bool)]


def test_grid_search_group_kfold_on_lazy_data(tiny_quakeset):
    from skquake.datasets import QuakeSet

    X, y, groups = lazy_xy(QuakeSet(tiny_quakeset, split="all"))
    reg = QuakeRegressor(criterion=RegressionRankingLoss, **TINY)
    grid = {"lr": [1e-3, 1e-2], "criterion__ranking_weight": [0.5, 1.0], "criterion__margin": [0.02]}
    search = GridSearchCV(reg, grid, cv=GroupKFold(n_splits=2), scoring="neg_mean_absolute_error")
    search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.criterion_.ranking_weight == search.best_params_["criterion__ranking_weight"]


def test_grid_search_over_module_parameters_and_clone():
    X, y = _data(n=16)
    reg = QuakeRegressor(**TINY)
    params = reg.get_params(deep=False)
    assert (params["lr"], params["max_epochs"], params["batch_size"], params["optimizer"]) == (
        1e-4, 1, 8, torch.optim.AdamW)
    assert params["device"] == "cpu" and params["train_split"] is None and params["verbose"] == 0
    search = GridSearchCV(reg, {"lr": [1e-3, 1e-2], "module__drop_rate": [0.0, 0.3]}, cv=2).fit(X, y)
    best = search.best_estimator_
    assert best.module_.backbone.drop_rate == search.best_params_["module__drop_rate"]  # reached timm
    assert clone(best).get_params(deep=False).keys() == best.get_params(deep=False).keys()


def test_parallel_fits_write_separate_checkpoints(tmp_path):
    from joblib import parallel_backend

    X, y = _data(n=16)
    groups = np.repeat(np.arange(4), 4)
    reg = QuakeRegressor(
        **TINY, train_split=ValidSplit(4),
        callbacks=[FitCheckpoint(root=tmp_path, monitor="valid_loss_best", load_best=True)],
    )
    with parallel_backend("threading", n_jobs=2):
        cross_val_score(reg, X, y, groups=groups, cv=GroupKFold(n_splits=2), n_jobs=2)
    dirs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(dirs) == 2
    assert all((d / "params.pt").exists() for d in dirs)


# --------------------------------------------------------------------------- behaviour
def test_random_state_reproducible_and_global_rng_untouched():
    X, y = _data(n=12)
    before = torch.get_rng_state()
    a = QuakeRegressor(**TINY).fit(X, y).predict(X)
    assert torch.equal(torch.get_rng_state(), before)  # torch's global generator restored
    b = QuakeRegressor(**TINY).fit(X, y).predict(X)
    c = QuakeRegressor(**dict(TINY, random_state=1)).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(clone(QuakeRegressor(**TINY)).fit(X, y).predict(X), a)


def test_pickle_joblib_and_weights_only_round_trip(tmp_path):
    X, _ = _data(n=12)
    y = np.arange(12) % 2
    clf = QuakeClassifier(**TINY).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)

    path = tmp_path / "weights.pt"
    clf.save_weights(path)
    torch.load(path, weights_only=True)  # plain tensors and lists only
    fresh = QuakeClassifier(**TINY).load_weights(path)
    np.testing.assert_array_equal(fresh.predict_proba(X), expected)
    np.testing.assert_array_equal(fresh.classes_, [0, 1])


def test_skorch_safetensors_params_into_an_initialised_net(tmp_path):
    X, y = _data(n=8)
    reg = QuakeRegressor(**TINY).fit(X, y)
    reg.save_params(f_params=tmp_path / "w.safetensors", use_safetensors=True)
    fresh = QuakeRegressor(input_shape=(4, 32, 32), **TINY).initialize()
    fresh.load_params(f_params=tmp_path / "w.safetensors", use_safetensors=True)
    np.testing.assert_array_equal(fresh.predict(X), reg.predict(X))


def test_weights_file_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "input_shape": [4, 32, 32], "payload": io.BytesIO(b"x")}, path)
    with pytest.raises(pickle.UnpicklingError):
        QuakeRegressor(**TINY).load_weights(path)


# --------------------------------------------------------------------------- registry
def test_registry_entries_build_for_both_input_kinds():
    from skquake.models import create_model, get_model_spec, get_search_space, list_models

    names = list_models(family="deep")
    for prefix in ("mobilenetv2", "convnextv2-atto", "mobilevitv2", "pvt-v2-b0"):
        assert {f"{prefix}-mse", f"{prefix}-rank", f"{prefix}-det"} <= set(names)
    # the QuakeSet-recipe ranking models (-rank) and the ranking paper's own recipe (-rank-rp)
    assert set(list_models(family="deep", tags=("ranking",))) == {n for n in names if n.endswith(("-rank", "-rank-rp"))}
    assert {n for n in names if n.endswith("-rank-rp")} == set(list_models(tags=("ranking-paper",)))
    assert get_model_spec("pvt-v2-b0-det").paper_name.startswith("MiT-B0")
    assert get_model_spec("mobilenetv2-det").task == "detection"
    cnn, vit = create_model("mobilenetv2-mse"), create_model("mobilevitv2-rank", max_epochs=2)
    assert (cnn.max_epochs, cnn.lr) == (6, 1e-4) and (vit.max_epochs, vit.lr) == (2, 1e-3)
    assert vit.criterion is RegressionRankingLoss
    for name in ("mobilenetv2-rank", "pvt-v2-b0-det"):
        space = get_search_space(name)
        est = create_model(name).set_params(**{k: v[-1] for k, v in space.items()})
        assert all(est.get_params()[k] == v[-1] for k, v in space.items())  # every name routes
    for timm_name in ("mobilenetv2_100", "convnextv2_atto", "mobilevitv2_100", "pvt_v2_b0"):
        for c in (2, 4):
            model = build_backbone(timm_name, c, 1, input_size=(64, 64))
            assert model(torch.zeros(2, c, 64, 64)).shape == (2, 1)


def test_registered_rank_model_trains_tiny():
    from skquake.models import create_model

    X, y = _data(n=8)
    reg = create_model("mobilenetv2-rank", max_epochs=1, batch_size=4, random_state=0)
    reg.set_params(criterion__ranking_weight=2.0, criterion__pairing="all")
    reg.fit(X, y)
    assert reg.criterion_.ranking_weight == 2.0 and reg.criterion_.ranking.pairing == "all"
    assert reg.predict(X).shape == (8,)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X, y: (X[:, :3], y, dict(input_shape=(4, 32, 32))), r"shape \(3, 32, 32\).*\(4, 32, 32\)"),
        (lambda X, y: (X.reshape(len(X), -1)[:, :100], y, dict(input_shape=(4, 32, 32))), "100 features"),
        (lambda X, y: (X[:, :, :8, :8], y, {}), "too small"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y, {}), "NaN"),
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), y, {}), "infinity"),
        (lambda X, y: (X, np.where(np.arange(len(y)) == 2, np.nan, y), {}), "y contains NaN"),
        (lambda X, y: (X, np.where(np.arange(len(y)) == 2, np.inf, y), {}), "y contains NaN or infinite"),
        (lambda X, y: (X[:0], y[:0], {}), "0 sample"),
        (lambda X, y: (X[:1], y[:1], {}), "1 sample"),
        (lambda X, y: (-X, y, {}), "mostly negative"),
        (lambda X, y: (X, y[:5], {}), "X has 8 samples but y has 5"),
        (lambda X, y: (X, y, dict(batch_size=1)), "batch_size"),
        (lambda X, y: (X, y, dict(iterator_train_shuffle=True)), "did you mean iterator_train__shuffle"),
        (lambda X, y: (X, y, dict(backbone="no_such_net")), "unknown timm backbone"),
        (lambda X, y: (X, y, dict(device="cuda:0" if not torch.cuda.is_available() else "nope")), "device|CUDA"),
    ],
)
def test_bad_input_raises_before_training(make, match):
    X, y = _data(n=8)
    X, y, params = make(X, y)
    reg = QuakeRegressor(**dict(TINY, **params))
    with pytest.raises((ValueError, RuntimeError), match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "history_") or not reg.history_  # no epoch ran


def test_a_few_negative_pixels_are_clipped_not_nan():
    # thermal-noise removal leaves small negative sigma0: decibels clip them to 0 (-90 dB)
    X, y = _data(n=8)
    X[:, :, 0, :4] = -1e-3
    pred = QuakeRegressor(**TINY).fit(X, y).predict(X)
    assert np.isfinite(pred).all()


def test_predict_rejects_other_image_shapes():
    X, y = _data(n=8)
    reg = QuakeRegressor(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="fitted on"):
        reg.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        reg.predict(np.full_like(X, np.nan))


def test_lazy_nan_pixels_are_refused(tiny_quakeset):
    from skquake.datasets import QuakeSet

    ds = QuakeSet(tiny_quakeset, split="all", fill_value=None)  # keeps no-data as NaN
    nan_rows = [i for i in range(len(ds)) if np.isnan(ds[i]["image"]).any()]
    X = LazyImages(ds, [nan_rows[0]] + [i for i in range(len(ds)) if i not in nan_rows][:3])
    with pytest.raises(ValueError, match="NaN"):
        QuakeRegressor(**TINY).fit(X, X.targets())


def test_classifier_needs_two_classes():
    X, _ = _data(n=8)
    with pytest.raises(ValueError, match="single class"):
        QuakeClassifier(**TINY).fit(X, np.zeros(8))


def test_checkpoint_root_is_not_reused(tmp_path):
    cp = FitCheckpoint(root=tmp_path)
    cp.initialize()
    first = cp.dirname
    clone_cp = clone(cp)
    clone_cp.initialize()
    cp.initialize()
    assert len({first, clone_cp.dirname, cp.dirname}) == 3
    assert all(os.path.dirname(d) == str(tmp_path) for d in (first, clone_cp.dirname, cp.dirname))
