"""Building-damage models: the fusion classifier, its image-only variant, the metadata forest."""
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch import NeuralNetClassifier

from skquake.datasets import (
    DEFAULT_METADATA_COLUMNS,
    DamageDataset,
    split_layout,
)
from skquake.models.damage import (
    DamageFusionClassifier,
    FusionNet,
    MetadataSelector,
    balanced_class_weights,
    make_metadata_forest,
)
from skquake.models.deep import QuakeNetBase
from skquake.models import create_model, get_search_space, list_models


M = len(DEFAULT_METADATA_COLUMNS)
# timm's smallest model; the backbone builder needs chips of at least 32 x 32 for it
FAST = dict(backbone="test_resnet", max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def fusion(data):
    (X, y, _), _, layout = data
    return DamageFusionClassifier(**FAST, **layout).fit(X, y)



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
    criterion = fusion.criterion_
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


def test_fusion_pickles_to_its_weights_and_takes_sample_weights(fusion, data):
    (X, y, _), (Xt, _, _), layout = data
    weights = sum(t.numel() * t.element_size() for t in fusion.module_.state_dict().values())
    blob = pickle.dumps(fusion)
    assert len(blob) <= 1.2 * weights  # the optimizer's state stays out of the pickle
    np.testing.assert_array_equal(pickle.loads(blob).predict_proba(Xt), fusion.predict_proba(Xt))
    # sample weights reach the focal loss with the image and the metadata of their samples
    w = np.where(np.arange(len(y)) % 3 == 0, 4.0, 0.5)
    weighted = DamageFusionClassifier(**FAST, **layout).fit(X, y, sample_weight=w)
    assert not np.allclose(weighted.predict_proba(Xt), fusion.predict_proba(Xt))
    ones = DamageFusionClassifier(**FAST, **layout).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.predict_proba(Xt), fusion.predict_proba(Xt))


def test_metadata_masking_in_training(fusion):
    net = fusion.module_
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
    assert (sar.module_.image_mean < 0).all()
    assert np.isfinite(sar.predict_proba(Xt)).all()


def test_image_only_variant(data):
    (X, y, _), (Xt, _, _), layout = data
    model = create_model("damage-image", **FAST, **layout).fit(X, y)
    assert not model.use_metadata and model.module_.n_metadata == 0
    images, _ = split_layout(Xt, layout["input_shape"], M)
    np.testing.assert_allclose(model.predict_proba(Xt), model.predict_proba(images), rtol=1e-5)
    Xn = Xt.copy()
    Xn[:, -M:] = np.nan  # metadata are ignored entirely
    np.testing.assert_allclose(model.predict_proba(Xn), model.predict_proba(Xt), rtol=1e-5)


def test_fusion_works_with_sklearn_tools(data):
    (X, y, groups), _, layout = data
    scores = cross_val_score(DamageFusionClassifier(**FAST, **layout), X, y, cv=2, scoring="accuracy")
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_fusion_is_a_skorch_net_on_the_deep_base(fusion, data, tmp_path):
    (X, y, _), (Xt, _, _), layout = data
    assert isinstance(fusion, NeuralNetClassifier) and isinstance(fusion, QuakeNetBase)
    assert type(fusion.module_) is FusionNet  # a module-level class: pickles by name
    params = fusion.get_params(deep=False)
    assert (params["lr"], params["max_epochs"], params["batch_size"], params["optimizer"]) == (
        1e-3, 1, 32, torch.optim.AdamW)
    assert params["gamma"] == 4.0 and params["device"] == "cpu" and params["train_split"] is None
    assert fusion.optimizer_.param_groups[0]["weight_decay"] == 0.05  # the recipe's AdamW
    assert "lr_schedule" in dict(fusion.callbacks_)
    copy = clone(fusion)
    assert not copy.initialized_ and copy.get_params(deep=False).keys() == params.keys()
    assert copy.set_params(lr=0.01, gamma=2.0, module__drop_rate=0.1).get_params()["module__drop_rate"] == 0.1
    # persistence: weights only, and joblib
    expected = fusion.predict_proba(Xt)
    fusion.save_weights(tmp_path / "w.pt")
    fresh = DamageFusionClassifier(**FAST, **layout).load_weights(tmp_path / "w.pt")
    np.testing.assert_array_equal(fresh.predict_proba(Xt), expected)
    np.testing.assert_array_equal(fresh.classes_, fusion.classes_)
    np.testing.assert_allclose(fresh.class_weight_, fusion.class_weight_)
    joblib.dump(fusion, tmp_path / "f.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "f.joblib").predict_proba(Xt), expected)


def test_fusion_grid_search_over_skorch_and_module_parameters(data):
    (X, y, _), _, layout = data
    search = GridSearchCV(DamageFusionClassifier(**FAST, **layout),
                          {"lr": [1e-3, 1e-2], "module__drop_rate": [0.0, 0.2]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert best.lr == search.best_params_["lr"]
    assert best.module_.backbone.drop_rate == search.best_params_["module__drop_rate"]  # reached timm


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
