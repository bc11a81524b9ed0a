"""Building damage: file format, generator, loader, fusion classifier, metrics, regions."""
import pickle

import h5py
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_val_score

from skquake.datasets import (
    CLASS_NAMES,
    DEFAULT_METADATA_COLUMNS,
    DamageDataset,
    DamageFormatError,
    load_damage,
    make_damage_dataset,
    read_damage_layout,
    split_layout,
    to_layout,
)
from skquake.datasets.synthetic._damage import main
from skquake.model_selection import RegionTransferSplit
from skquake.models.damage import DamageFusionClassifier, MetadataSelector, balanced_class_weights, make_metadata_forest
from skquake.models import create_model, get_search_space, list_models

M = len(DEFAULT_METADATA_COLUMNS)
# timm's smallest model; the backbone builder needs chips of at least 32 x 32 for it
FAST = dict(backbone="test_resnet", max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def damage_file(tmp_path_factory):
    return make_damage_dataset(tmp_path_factory.mktemp("damage") / "tiny.h5", n_buildings=160,
                               n_regions=3, image_size=32, random_state=1)


@pytest.fixture(scope="module")
def data(damage_file):
    return load_damage(damage_file, "train"), load_damage(damage_file, "test"), read_damage_layout(damage_file)


@pytest.fixture(scope="module")
def fusion(data):
    (X, y, _), _, layout = data
    return DamageFusionClassifier(**FAST, **layout).fit(X, y)


# ----------------------------------------------------------------------------- generator
def test_generator_is_deterministic_and_safe(tmp_path):
    a = make_damage_dataset(tmp_path / "a.h5", n_buildings=40, image_size=8, random_state=3)
    b = make_damage_dataset(tmp_path / "b.h5", n_buildings=40, image_size=8, random_state=3)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for key in ("images", "metadata", "label", "region", "split"):
            np.testing.assert_array_equal(fa[key][...], fb[key][...])
    before = a.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        make_damage_dataset(a, n_buildings=40, image_size=8, random_state=4)
    assert a.read_bytes() == before  # untouched, and no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "b.h5"]
    make_damage_dataset(a, n_buildings=40, image_size=8, random_state=4, overwrite=True)
    assert a.read_bytes() != before
    with pytest.raises(ValueError, match="n_buildings"):
        make_damage_dataset(tmp_path / "c.h5", n_buildings=5)


def test_generator_statistics(damage_file):
    ds = DamageDataset(damage_file, split="all")
    shares = np.bincount(ds.labels, minlength=4) / len(ds)
    # the paper's imbalance: about 73 / 20 / 2.5 / 4.5 %
    np.testing.assert_allclose(shares, [0.734, 0.198, 0.025, 0.043], atol=0.02)
    meta = dict(zip(ds.metadata_columns, ds.metadata.T))
    assert np.corrcoef(np.log(meta["PGA"]), meta["MMI"])[0, 1] > 0.8
    assert np.corrcoef(np.log(meta["PGA"]), np.log(meta["PGV"]))[0, 1] > 0.8
    vs30 = meta["VS30"][np.isfinite(meta["VS30"])]
    assert vs30.min() >= 150 and vs30.max() <= 800
    assert np.nanmedian(meta["PGA_AS1"]) < np.nanmedian(meta["PGA"])  # aftershocks are weaker
    assert np.isnan(meta["DPM"]).any() and not np.isnan(meta["PGA"]).any()
    # damage grows with shaking
    assert np.corrcoef(np.log(meta["PSA10"]), ds.labels)[0, 1] > 0.2
    # regions differ in how hard they were hit
    mean_pga = [np.log(meta["PGA"][ds.groups == g]).mean() for g in range(3)]
    assert max(mean_pga) - min(mean_pga) > 0.3


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    assert main([str(out), "--n-buildings", "30", "--image-size", "8"]) == 0
    assert DamageDataset(out, split="all").image_shape == (3, 8, 8)
    assert main([str(out), "--n-buildings", "30"]) == 1
    assert "overwrite" in capsys.readouterr().err


# ----------------------------------------------------------------------------- reading
def test_dataset_and_loader(damage_file):
    ds = DamageDataset(damage_file, split="train")
    sample = ds[0]
    assert sample["image"].shape == (3, 32, 32) and sample["image"].dtype == np.float32
    assert 0.0 <= sample["image"].min() and sample["image"].max() <= 1.0
    assert sample["metadata"].shape == (M,) and sample["label"] == ds.labels[0]
    assert ds.class_names == CLASS_NAMES and ds.metadata_columns == DEFAULT_METADATA_COLUMNS
    clone_ = pickle.loads(pickle.dumps(ds))  # picklable with an open handle
    np.testing.assert_array_equal(clone_[3]["image"], ds[3]["image"])
    X, y, groups = load_damage(damage_file, "train")
    assert X.shape == (len(ds), 3 * 32 * 32 + M) and X.dtype == np.float32
    np.testing.assert_array_equal(y, ds.labels)
    np.testing.assert_array_equal(groups, ds.groups)
    images, meta = split_layout(X, (3, 32, 32), M)
    np.testing.assert_array_equal(images[3], ds[3]["image"])
    np.testing.assert_array_equal(meta, ds.metadata)
    # splits partition the file; regions select
    n_all = len(DamageDataset(damage_file, split="all"))
    assert sum(len(DamageDataset(damage_file, split=s)) for s in ("train", "val", "test")) == n_all
    assert set(DamageDataset(damage_file, split="all", regions=[1]).groups) == {1}
    assert set(DamageDataset(damage_file, split="all", regions="region-2").groups) == {2}
    assert load_damage(damage_file, "test", metadata=False)[0].shape[1] == 3 * 32 * 32
    with pytest.raises(ValueError, match="unknown split"):
        DamageDataset(damage_file, split="validation-set")


def test_bad_files(tmp_path, damage_file):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        DamageDataset(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(DamageFormatError, match="missing dataset.*metadata"):
        DamageDataset(bad)


def test_layout_checks_column_names():
    images = np.zeros((2, 3, 4, 4), dtype=np.float32)
    cols = ("PGA", "MMI", "VS30")
    table = {"MMI": [7, 8], "VS30": [300, 400], "PGA": [0.2, 0.3]}
    X = to_layout(images, table, cols)
    np.testing.assert_allclose(X[:, -3:], [[0.2, 7, 300], [0.3, 8, 400]], rtol=1e-6)
    assert np.isnan(to_layout(images, None, cols)[:, -3:]).all()
    with pytest.raises(ValueError, match=r"missing column\(s\) \['VS30'\].*unexpected column\(s\) \['NDBI'\]"):
        to_layout(images, {"MMI": [7, 8], "PGA": [0.2, 0.3], "NDBI": [0, 0]}, cols)
    with pytest.raises(ValueError, match="expected 3"):
        to_layout(images, np.zeros((2, 2)), cols)


# ----------------------------------------------------------------------------- fusion model
def test_fusion_full_partial_and_no_metadata(fusion, data):
    _, (X, y, _), layout = data
    proba = fusion.predict_proba(X)
    assert proba.shape == (len(X), len(fusion.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(fusion.predict(X)) <= set(fusion.classes_)
    # some columns missing (e.g. SAR not yet available) and no metadata at all
    partial = X.copy()
    partial[:, -4:-1] = np.nan
    none = X.copy()
    none[:, -M:] = np.nan
    for Xm in (partial, none):
        p = fusion.predict_proba(Xm)
        assert np.isfinite(p).all() and p.shape == proba.shape
    assert not np.allclose(fusion.predict_proba(none), proba)  # the metadata are used
    images, meta = split_layout(X, layout["input_shape"], M)
    np.testing.assert_allclose(fusion.predict_proba(images), fusion.predict_proba(none), rtol=1e-5)
    table = dict(zip(layout["metadata_columns"][::-1], meta.T[::-1]))  # another column order
    np.testing.assert_allclose(fusion.predict_proba({"image": images, "metadata": table}), proba, rtol=1e-5)


def test_fusion_errors_name_the_problem(fusion, data):
    _, (X, _, _), layout = data
    images, meta = split_layout(X, layout["input_shape"], M)
    with pytest.raises(ValueError, match=r"X has 3093 features, but DamageFusionClassifier is expecting 3094.*22 metadata columns"):
        fusion.predict(X[:, :-1])
    table = {c: meta[:, j] for j, c in enumerate(layout["metadata_columns"]) if c != "DPM"}
    table["NDBI"] = np.zeros(len(X))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['DPM'\].*unexpected column\(s\) \['NDBI'\]"):
        fusion.predict({"image": images, "metadata": table})
    with pytest.raises(ValueError, match="images have shape"):
        fusion.predict(images[:, :, :16, :16])
    with pytest.raises(ValueError, match="1 x 1 image: pass input_shape"):
        DamageFusionClassifier(**FAST).fit(X, np.arange(len(X)) % 2)
    with pytest.raises(ValueError, match="gamma"):
        DamageFusionClassifier(**dict(FAST, gamma=-1), **layout).fit(X, np.arange(len(X)) % 2)
    with pytest.raises(ValueError, match="predict_batch_size"):
        DamageFusionClassifier(**dict(FAST, predict_batch_size=0), **layout).fit(X, np.arange(len(X)) % 2)


def test_fusion_focal_loss_and_class_weights(fusion, data):
    (_, y, _), _, _ = data
    counts = np.bincount(y, minlength=4)
    expected = len(y) / (4 * counts)
    np.testing.assert_allclose(fusion.class_weight_, expected)
    criterion = fusion.net_.criterion_
    assert criterion.gamma == 4.0
    np.testing.assert_allclose(criterion.weight.numpy(), expected, rtol=1e-6)
    # the loss of one batch against a hand computation: -w_t (1 - p_t)^4 log p_t, weighted mean
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 3.0]])
    target = torch.tensor([0, 3])
    p0 = np.exp(2) / (np.exp(2) + 3)
    p1 = np.exp(3) / (np.exp(3) + np.exp(1) + 2)
    w0, w3 = expected[0], expected[3]
    hand = (w0 * (1 - p0) ** 4 * -np.log(p0) + w3 * (1 - p1) ** 4 * -np.log(p1)) / (w0 + w3)
    assert float(criterion(logits, target)) == pytest.approx(hand, rel=1e-5)
    # the paper's frequencies give the paper's weights
    paper = np.repeat(np.arange(4), [734, 198, 25, 43])
    np.testing.assert_allclose(balanced_class_weights(paper), [0.34, 1.26, 9.8, 5.85], rtol=0.03)


def test_fusion_reproducible_and_picklable(fusion, data):
    (X, y, _), (Xt, _, _), layout = data
    again = DamageFusionClassifier(**FAST, **layout).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(Xt), fusion.predict_proba(Xt))
    restored = pickle.loads(pickle.dumps(fusion))
    np.testing.assert_array_equal(restored.predict_proba(Xt), fusion.predict_proba(Xt))


def test_metadata_masking_in_training(fusion):
    net = fusion.net_.module_
    meta = torch.zeros(64, M)
    net.train()
    torch.manual_seed(0)
    drops = []
    original = net.meta.forward
    net.meta.forward = lambda z: drops.append(z[:, M:].clone()) or original(z)
    try:
        net.embed_metadata(meta)
        net.eval()
        net.embed_metadata(meta)
    finally:
        del net.meta.forward
    train_mask, eval_mask = drops
    assert 0 < train_mask.mean() < 0.5  # some values and some whole rows masked in training
    assert (train_mask.sum(dim=1) == M).any()
    assert eval_mask.sum() == 0  # never at prediction
    # the module alone (e.g. a FLOP counter) may be called without the table: all missing
    with torch.no_grad():
        alone = net(torch.zeros(2, 3, 32, 32))
        nan_table = net(torch.zeros(2, 3, 32, 32), torch.full((2, M), float("nan")))
    torch.testing.assert_close(alone, nan_table)


def test_fusion_takes_the_lazy_dataset_and_decibels(fusion, data, damage_file):
    (X, y, _), (Xt, _, _), layout = data
    np.testing.assert_allclose(fusion.predict_proba(DamageDataset(damage_file, "test")), fusion.predict_proba(Xt),
                               rtol=1e-5)
    sar = DamageFusionClassifier(**dict(FAST, decibels=True), **layout).fit(X, y)
    # standardisation statistics are taken after the decibel conversion (chips in (0, 1] -> negative dB)
    assert (sar.net_.module_.image_mean < 0).all()
    assert np.isfinite(sar.predict_proba(Xt)).all()


def test_image_only_variant(data):
    (X, y, _), (Xt, _, _), layout = data
    model = create_model("damage-image", **FAST, **layout).fit(X, y)
    assert not model.use_metadata and model.net_.module_.n_metadata == 0
    images, _ = split_layout(Xt, layout["input_shape"], M)
    np.testing.assert_allclose(model.predict_proba(Xt), model.predict_proba(images), rtol=1e-5)
    Xn = Xt.copy()
    Xn[:, -M:] = np.nan  # metadata are ignored entirely
    np.testing.assert_allclose(model.predict_proba(Xn), model.predict_proba(Xt), rtol=1e-5)


def test_fusion_works_with_sklearn_tools(data):
    (X, y, groups), _, layout = data
    scores = cross_val_score(DamageFusionClassifier(**FAST, **layout), X, y, cv=2, scoring="accuracy")
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


# ----------------------------------------------------------------------------- metadata forest
def test_metadata_forest(data):
    (X, y, groups), (Xt, yt, _), layout = data
    rf = create_model("damage-meta-rf", input_shape=layout["input_shape"], random_state=0,
                      rf__n_estimators=30).fit(X, y)
    proba = rf.predict_proba(Xt)
    assert proba.shape == (len(Xt), len(np.unique(y)))
    Xn = Xt.copy()
    Xn[:, -M:] = np.nan
    assert np.isfinite(rf.predict_proba(Xn)).all()
    with pytest.raises(ValueError, match="expecting 3094"):
        rf.predict(Xt[:, 1:])
    search = GridSearchCV(make_metadata_forest(n_estimators=10, random_state=0),
                          {"rf__min_samples_leaf": [1, 5]}, cv=2).fit(X, y)
    assert search.best_params_["rf__min_samples_leaf"] in (1, 5)
    names = MetadataSelector().fit(X).get_feature_names_out()
    assert list(names) == list(DEFAULT_METADATA_COLUMNS)


def test_registry_entries():
    assert list_models(task="damage") == ["damage-fusion", "damage-image", "damage-meta-rf"]
    for name in list_models(task="damage"):
        model = create_model(name)
        for param in get_search_space(name):
            model.set_params(**{param: get_search_space(name)[param][0]})
        clone(model)
    assert create_model("damage-fusion", gamma=2.0).gamma == 2.0


# ----------------------------------------------------------------------------- regions
def test_region_transfer_split():
    groups = np.array([0, 0, 1, 2, 2, 2])
    splits = list(RegionTransferSplit().split(np.zeros(6), groups=groups))
    assert [tr.tolist() for tr, _ in splits] == [[0, 1], [2], [3, 4, 5]]
    assert [te.tolist() for _, te in splits] == [[2, 3, 4, 5], [0, 1, 3, 4, 5], [0, 1, 2]]
    # the inverse of leave-one-group-out
    logo = [(te.tolist(), tr.tolist()) for tr, te in LeaveOneGroupOut().split(np.zeros(6), groups=groups)]
    assert logo == [(tr.tolist(), te.tolist()) for tr, te in splits]
    assert RegionTransferSplit(train_regions=[2]).get_n_splits(groups=groups) == 1
    with pytest.raises(ValueError, match="groups"):
        list(RegionTransferSplit().split(np.zeros(6)))
    with pytest.raises(ValueError, match=r"\[7\]"):
        list(RegionTransferSplit(train_regions=[7]).split(np.zeros(6), groups=groups))


# ----------------------------------------------------------------------------- metrics
def test_damage_metrics_by_hand():
    from skquake.metrics import class_distance_distribution, damage_report, macro_roc_auc_ovr

    y_true = np.array([0, 0, 1, 2, 3, 3])
    y_pred = np.array([0, 1, 1, 0, 3, 1])
    np.testing.assert_allclose(class_distance_distribution(y_true, y_pred, 4), [3 / 6, 1 / 6, 2 / 6, 0])
    proba = np.eye(4)[y_pred] * 0.7 + 0.075
    r = damage_report(y_true, y_pred, proba)
    assert r["accuracy"] == pytest.approx(3 / 6)
    # per class precision 1/2, 1/3, 0, 1 and recall 1/2, 1, 0, 1/2
    assert r["precision_macro"] == pytest.approx((1 / 2 + 1 / 3 + 0 + 1) / 4)
    assert r["recall_macro"] == pytest.approx((1 / 2 + 1 + 0 + 1 / 2) / 4)
    f1 = [1 / 2, 1 / 2, 0, 2 / 3]
    assert r["f1_macro"] == pytest.approx(np.mean(f1))
    assert r["class_distance"] == pytest.approx([0.5, 1 / 6, 1 / 3, 0])
    # a class absent from y_true is left out of the macro AUC instead of failing
    perfect = np.eye(4)[[0, 0, 1, 1]]
    assert macro_roc_auc_ovr([0, 0, 1, 1], perfect) == pytest.approx(1.0)


def test_scores_align_missing_classes(data):
    from skquake.metrics import aligned_proba, damage_scores, get_scorer

    (X, y, _), (Xt, yt, _), layout = data
    keep = y < 2  # a model that never saw classes 2 and 3
    rf = make_metadata_forest(n_estimators=10, random_state=0).fit(X[keep], y[keep])
    proba = aligned_proba(rf, Xt, np.arange(4))
    assert proba.shape == (len(Xt), 4) and np.all(proba[:, 2:] == 0)
    r = damage_scores(rf, Xt, yt, labels=np.arange(4))
    assert len(r["class_distance"]) == 4 and 0 <= r["roc_auc_macro"] <= 1
    scores = cross_val_score(make_metadata_forest(n_estimators=10, random_state=0), X, y, cv=2,
                             scoring=get_scorer("roc_auc_macro"))
    assert np.all((0 <= scores) & (scores <= 1))


def test_per_class_permutation_importance(data, tmp_path):
    from skquake.inspection import importance_table, per_class_permutation_importance, plot_permutation_importance

    (X, y, _), (Xt, yt, _), layout = data
    rf = make_metadata_forest(n_estimators=30, random_state=0).fit(X, y)
    res = per_class_permutation_importance(rf, Xt, yt, n_repeats=2, random_state=0, **layout)
    assert res["features"] == ["image"] + list(DEFAULT_METADATA_COLUMNS)
    assert res["importances_mean"].shape == (M + 1, len(rf.classes_))
    np.testing.assert_array_equal(res["importances_mean"][0], 0)  # the forest ignores the image
    assert np.nanmax(res["importances_mean"]) > 0  # some metadata matter
    table = importance_table(res, list(CLASS_NAMES))
    assert table.count("\n") == M + 2 and "| PGA |" in table
    fig = plot_permutation_importance(res, list(CLASS_NAMES))
    fig.savefig(tmp_path / "imp.png")
    assert (tmp_path / "imp.png").stat().st_size > 1000


def test_region_generalization_with_and_without_metadata(damage_file):
    from skquake.model_selection import region_generalization

    X, y, groups = load_damage(damage_file, "all")
    layout = read_damage_layout(damage_file)
    rows = region_generalization(make_metadata_forest(n_estimators=10, random_state=0), X, y, groups,
                                 labels=np.arange(4), random_state=0)
    assert len(rows) == 3 * 3  # 3 training regions x (in region + 2 others)
    assert sum(r["in_region"] for r in rows) == 3
    for r in rows:
        assert (r["train_region"] == r["test_region"]) == r["in_region"]
        assert 0 <= r["accuracy"] <= 1 and len(r["class_distance"]) == 4
    n_region1 = int(np.sum(groups == 1))
    image_only = create_model("damage-image", **FAST, **layout)
    rows = region_generalization(image_only, X, y, groups, train_regions=[1], labels=np.arange(4), random_state=0)
    assert [r["test_region"] for r in rows] == [1, 0, 2]
    assert rows[1]["n"] == int(np.sum(groups == 0)) and rows[0]["n"] < n_region1
