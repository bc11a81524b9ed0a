"""The deep change detector (image translation on the deep base): masks, no-data, lazy input,
determinism, refused input, what it learns, and saving."""
import numpy as np
import pytest
import torch
from sklearn.base import clone

from skquake.datasets import LazyImages, QuakeSet, load_change, load_quakeset
from skquake.models import create_model, get_search_space, list_models, load_model, save_model
from skquake.models.change import TranslationChangeDetector, TranslationNet
from skquake.models.deep import QuakeNetBase
from skquake.utils import InvalidParameterError

NAME = "change-translation-resnet10t"
# Few epochs keep the tests fast. Trained on speckle alone, whose scores have no second mode for
# Otsu to find, the detector flags a fixed share of its training pixels instead.
FAST = {"max_epochs": 2, "batch_size": 8, "threshold": 0.001}


def _pairs(n=8, size=48, seed=0):
    """Speckle only (4.4 looks, mean 1), a +10 dB square at t1 in pair 0, no data at t1 in a band
    of pair 1 and at t0 in a corner of the square of pair 0."""
    rng = np.random.default_rng(seed)
    X = rng.gamma(4.4, 1 / 4.4, size=(n, 4, size, size)).astype(np.float32)
    X[0, 2:, 8:24, 8:24] *= 10.0
    X[0, :2, 8:12, 8:12] = np.nan  # changed at t1, but t0 has no data there
    X[1, 2:, :, -6:] = 0.0
    return X


@pytest.fixture(scope="module")
def fitted():
    X = _pairs()
    return create_model(NAME, **FAST).fit(X[1:]), X


def test_registered_as_a_deep_change_model():
    assert NAME in list_models(task="change", family="deep")
    assert get_search_space(NAME)
    model = create_model(NAME)
    assert isinstance(model, TranslationChangeDetector) and isinstance(model, QuakeNetBase)
    assert model.backbone == "resnet10t" and model.random_state == 0


def test_masks_scores_and_no_data(fitted):
    model, X = fitted
    masks = model.predict(X)
    assert masks.shape == (8, 48, 48) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    # The square changed by 10 dB is found, unchanged ground far from it in the same pair is not.
    assert masks[0, 14:22, 14:22].all() and not masks[0, 36:44, 36:44].any()
    score, decision = model.score_samples(X), model.decision_function(X)
    assert score.shape == decision.shape == masks.shape and score.dtype == np.float32
    # No data at either date: never flagged (also inside the changed square), NaN score.
    for where in (np.s_[1, :, -6:], np.s_[0, 8:12, 8:12]):
        assert not masks[where].any() and np.isnan(score[where]).all() and np.isnan(decision[where]).all()
    valid = ~np.isnan(decision)
    np.testing.assert_array_equal(masks, (np.where(valid, decision, -1) > 0).astype(np.uint8))
    np.testing.assert_allclose(decision[valid], (score - np.float32(model.threshold_))[valid])
    np.testing.assert_array_equal(np.stack(list(model.iter_predict(X))), masks)
    # Fully convolutional: pairs of another size are scored too.
    assert model.predict(X[:2, :, :16, :24]).shape == (2, 16, 24)
    assert not hasattr(model, "predict_proba")


def test_the_net_learns_the_no_change_mapping():
    X = _pairs(n=16, size=32, seed=2)[2:]
    model = create_model(NAME, max_epochs=10, batch_size=4, lr=3e-3, threshold=0.01).fit(X)
    # A fresh net predicts t1 = t0, whose residual carries the speckle of both dates; trained on
    # unchanged pairs it predicts the ground under t0's speckle, leaving about t1's alone.
    db = 10 * np.log10(X)
    identity = (db[:, 2:] - db[:, :2]) / model.input_std_[None, :, None, None]
    mad = 1.4826 * np.median(np.abs(identity - np.median(identity, axis=(0, 2, 3), keepdims=True)), axis=(0, 2, 3))
    assert np.all(model.residual_scale_ < 0.85 * mad), (model.residual_scale_, mad)
    np.testing.assert_allclose(model.input_mean_, db[:, :2].mean(axis=(0, 2, 3)), atol=0.1)


def test_threshold_flags_the_requested_share_of_training_pixels():
    X = _pairs(n=6, size=32, seed=1)[2:]
    model = create_model(NAME, **{**FAST, "threshold": 0.1}).fit(X)
    assert model.n_training_pixels_ == 4 * 32 * 32  # max_samples exceeds them: all are used
    assert abs(model.predict(X).mean() - 0.1) < 0.01


def test_training_ignores_masks(tiny_quakeset):
    X, masks, _ = load_change(tiny_quakeset, split="train")
    model = create_model(NAME, **FAST)
    np.testing.assert_array_equal(clone(model).fit(X, masks).score_samples(X),
                                  clone(model).fit(X).score_samples(X))


def test_lazy_quakeset_and_view_give_the_arrays_results(tiny_quakeset):
    X, _, _ = load_quakeset(tiny_quakeset, split="train")
    ds = QuakeSet(tiny_quakeset, split="train")
    model = create_model(NAME, **FAST)
    from_array = clone(model).fit(X)
    from_lazy = clone(model).fit(ds)
    np.testing.assert_array_equal(from_lazy.score_samples(ds), from_array.score_samples(X))
    np.testing.assert_array_equal(from_lazy.predict(ds), from_array.predict(X))
    view = LazyImages(ds)[np.arange(3, 9)]
    np.testing.assert_array_equal(from_array.predict(view), from_array.predict(X[3:9]))
    np.testing.assert_allclose(from_array.score_samples(view), from_array.score_samples(X[3:9]))


def test_random_state_makes_fits_repeatable():
    X = _pairs(n=6, size=32)
    model = create_model(NAME, **FAST)
    first, again = clone(model).fit(X), clone(model).fit(X)
    other = clone(model).set_params(random_state=1).fit(X)
    np.testing.assert_array_equal(first.score_samples(X), again.score_samples(X))
    assert first.threshold_ == again.threshold_
    assert not np.allclose(first.score_samples(X), other.score_samples(X), equal_nan=True)


def test_single_images_and_bad_input_are_refused(fitted, tiny_quakeset):
    model, X = fitted
    fresh = create_model(NAME, **FAST)
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        clone(fresh).fit(X[:, 2:])
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        clone(fresh).fit(QuakeSet(tiny_quakeset, split="train", mode="single"))
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        model.predict(QuakeSet(tiny_quakeset, split="test", mode="single"))
    with pytest.raises(ValueError, match=r"shape \(4, H, W\).*got images of shape \(3, 48, 48\)"):
        clone(fresh).fit(X[:, :3])
    with pytest.raises(ValueError, match="already in decibels"):
        clone(fresh).fit(10 * np.log10(X[2:] * 0.01))
    with pytest.raises(ValueError, match="no pixel with data at both dates"):
        clone(fresh).fit(np.zeros((3, 4, 8, 8), np.float32))
    with pytest.raises(InvalidParameterError, match="'trim' parameter"):
        clone(fresh).set_params(trim=0.5).fit(X)
    with pytest.raises(ValueError, match="per-pixel losses"):
        clone(fresh).set_params(criterion=_MeanLoss).fit(X[1:4])


class _MeanLoss(torch.nn.Module):
    def __init__(self, reduction="mean"):
        super().__init__()

    def forward(self, prediction, target):
        return ((prediction - target) ** 2).mean()


def test_the_net_starts_from_no_change():
    net = TranslationNet("resnet10t", mean=[-10.0, -17.0], std=[5.0, 5.0]).eval()
    x = torch.as_tensor(_pairs(n=2, size=16))
    with torch.no_grad():
        prediction, target, valid = net(x)
    source, _ = net.standardize(x)
    np.testing.assert_allclose(prediction.numpy(), source[:, :2].numpy())
    assert target.shape == (2, 2, 16, 16) and valid.dtype == torch.bool and not valid[1, :, -6:].any()
    with pytest.raises(ValueError, match=r"pairs of shape \(n, 4, H, W\)"):
        net(x[:, :3])


def test_save_and_load(fitted, tmp_path):
    model, X = fitted
    out = save_model(model, tmp_path / "t.skq", model=NAME, params=FAST, input_shape=(4, 48, 48))
    loaded, manifest = load_model(out, return_manifest=True)
    assert manifest["payload"] == "safetensors" and manifest["model"]["family"] == "deep"
    assert loaded.threshold_ == model.threshold_ and loaded.pair_shape_ == (4, 48, 48)
    np.testing.assert_array_equal(loaded.residual_scale_, model.residual_scale_)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
