"""The change detectors (task "change"): masks, scores, no-data, lazy input, bad input, and each
method against an independent computation of its recipe."""
import numpy as np
import pytest
from scipy.ndimage import uniform_filter
from skimage.filters import threshold_otsu
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV

from skquake.datasets import LazyImages, QuakeSet, load_change, load_quakeset
from skquake.metrics import get_scorer
from skquake.models import create_model, get_search_space, list_models
from skquake.models.change import (
    LogRatioChangeDetector,
    NoveltyChangeDetector,
    PCAKMeansChangeDetector,
    combined_log_ratio,
    valid_pixels,
)
from skquake.models.change._base import kmeans_threshold, otsu_threshold
from skquake.utils import InvalidParameterError

CHANGE_MODELS = ["change-logratio-otsu", "change-logratio-kmeans", "change-pca-kmeans", "change-novelty-gmm"]
# Small mixtures keep the tests fast. Trained on speckle alone, whose scores have no second mode
# for Otsu to find, the novelty model flags a fixed share of its training pixels instead.
FAST = {"change-novelty-gmm": {"n_components": 2, "max_samples": 5000, "threshold": 0.001}}


def _pairs(n=6, size=48, seed=0):
    """Speckle only (4.4 looks, mean 1), a +10 dB square at t1 in pair 0, a no-data wedge in pair 1."""
    rng = np.random.default_rng(seed)
    X = rng.gamma(4.4, 1 / 4.4, size=(n, 4, size, size)).astype(np.float32)
    X[0, 2:, 8:24, 8:24] *= 10.0
    X[1, 2:, :, -6:] = 0.0  # no data at t1 only: an infinite log-ratio if it were read
    return X


def test_the_models_are_registered():
    assert list_models(task="change", family="shallow") == CHANGE_MODELS  # the deep one: test_change_deep.py
    for name in CHANGE_MODELS:
        assert get_search_space(name)  # tunable like the other tasks
        assert create_model(name).get_params()


@pytest.mark.parametrize("name", CHANGE_MODELS)
def test_masks_scores_and_no_data(name):
    X = _pairs()
    model = create_model(name, **FAST.get(name, {})).fit(X[1:])  # without the changed square
    masks = model.predict(X)
    assert masks.shape == (6, 48, 48) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 1}
    # The square changed by 10 dB is found, unchanged ground far from it in the same pair is not.
    assert masks[0, 12:20, 12:20].all() and not masks[0, 36:44, 36:44].any()
    score, decision = model.score_samples(X), model.decision_function(X)
    assert score.shape == decision.shape == masks.shape and score.dtype == np.float32
    # No data at either date: never flagged, NaN score.
    assert not masks[1, :, -6:].any() and np.isnan(score[1, :, -6:]).all() and np.isnan(decision[1, :, -6:]).all()
    valid = ~np.isnan(decision)
    np.testing.assert_array_equal(masks, (np.where(valid, decision, -1) > 0).astype(np.uint8))
    np.testing.assert_array_equal(np.stack(list(model.iter_predict(X))), masks)
    # The fitted model predicts pairs of another size (it works per pixel).
    assert model.predict(X[:2, :, :16, :24]).shape == (2, 16, 24)


@pytest.mark.parametrize("name", CHANGE_MODELS)
def test_lazy_quakeset_and_view_give_the_arrays_results(name, tiny_quakeset):
    X, _, _ = load_quakeset(tiny_quakeset, split="train")
    ds = QuakeSet(tiny_quakeset, split="train")
    model = create_model(name, **FAST.get(name, {}))
    from_array = clone(model).fit(X)
    from_lazy = clone(model).fit(ds)
    np.testing.assert_array_equal(from_lazy.predict(ds), from_array.predict(X))
    view = LazyImages(ds)[np.arange(3, 9)]
    np.testing.assert_array_equal(from_array.predict(view), from_array.predict(X[3:9]))
    np.testing.assert_allclose(from_array.score_samples(view), from_array.score_samples(X[3:9]))


@pytest.mark.parametrize("name", CHANGE_MODELS)
def test_single_images_and_bad_input_are_refused(name, tiny_quakeset):
    model = create_model(name, **FAST.get(name, {}))
    X = _pairs()
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        clone(model).fit(X[:, 2:])
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        clone(model).fit(QuakeSet(tiny_quakeset, split="train", mode="single"))
    with pytest.raises(ValueError, match=r"shape \(4, H, W\).*got images of shape \(3, 48, 48\)"):
        clone(model).fit(X[:, :3])
    with pytest.raises(ValueError, match=r"shape \(n, 4, H, W\), got an array of shape \(6, 4, 48\)"):
        clone(model).fit(X[..., 0])
    with pytest.raises(ValueError, match="already in decibels"):
        clone(model).fit(10 * np.log10(X[2:] * 0.01))  # -20 dB
    with pytest.raises(ValueError, match="a change mask needs two dates"):
        clone(model).fit(X).predict(X[:, :2])


def test_log_ratio_otsu_and_kmeans_follow_their_recipe():
    X = _pairs()
    for pair in X[:2]:
        valid = valid_pixels(pair)
        # The score by hand: Lee-filtered images, |10 log10(t1 / t0)| averaged over VV and VH.
        score = combined_log_ratio(pair, valid)
        assert score.shape == (48, 48) and np.all(score[valid] >= 0)
        otsu = LogRatioChangeDetector().fit(X).predict(pair[None])[0]
        np.testing.assert_array_equal(otsu, valid & (score > threshold_otsu(score[valid])))
        kmeans = LogRatioChangeDetector(threshold="kmeans").fit(X).predict(pair[None])[0]
        values = score[valid].astype(np.float64)
        t = kmeans_threshold(values)
        np.testing.assert_array_equal(kmeans, valid & (score > t))
        # A k-means solution: t is the midpoint of the means of its two sides, and the split is
        # as good as k-means++ with 10 restarts finds.
        low, high = values[values <= t], values[values > t]
        assert t == pytest.approx((low.mean() + high.mean()) / 2, abs=0.01)  # Lloyd's tolerance
        inertia = ((low - low.mean()) ** 2).sum() + ((high - high.mean()) ** 2).sum()
        best = KMeans(2, n_init=10, random_state=0).fit(values.reshape(-1, 1)).inertia_
        assert inertia <= best * 1.001
    # Unfiltered: the plain per-pixel log-ratio.
    pair = X[0]
    raw = LogRatioChangeDetector(speckle_filter="none").fit(X).score_samples(pair[None])[0]
    expected = np.abs(10 * np.log10(pair[2:] / pair[:2])).mean(axis=0)
    np.testing.assert_allclose(raw, expected, rtol=1e-5)


def test_thresholds():
    assert kmeans_threshold(np.array([0.0, 0.0, 1.0, 10.0, 10.0])) == pytest.approx((1 / 3 + 10) / 2)
    assert kmeans_threshold(np.array([0.0] * 50 + [1.0])) == pytest.approx(0.5)
    assert otsu_threshold(np.array([1.0, 1.0, 2.0, 8.0, 9.0])) == pytest.approx(threshold_otsu(np.array([1.0, 1, 2, 8, 9])))
    # Nothing to split: no change.
    assert otsu_threshold(np.full(5, 3.0)) == np.inf == kmeans_threshold(np.array([2.0]))
    X = np.ones((2, 4, 8, 8), dtype=np.float32)  # no change at all
    for model in (LogRatioChangeDetector(), LogRatioChangeDetector(threshold="kmeans"), PCAKMeansChangeDetector()):
        assert not model.fit(X).predict(X).any()


@pytest.mark.parametrize("block_size", [4, 5])
def test_pca_kmeans_follows_celik(block_size):
    """Celik (2009) by hand: blocks -> PCA, every neighbourhood projected, k-means (k=2), the
    cluster of larger mean difference is change."""
    X = _pairs(n=2, size=24)
    pair = X[0]
    model = PCAKMeansChangeDetector(block_size=block_size, n_components=3, speckle_filter="none", random_state=0).fit(X)
    valid = valid_pixels(pair)
    diff = combined_log_ratio(pair, valid, "none")
    h = block_size
    rows = 24 // h * h
    blocks = diff[:rows, :rows].reshape(rows // h, h, rows // h, h).swapaxes(1, 2).reshape(-1, h * h)
    pca = PCA(3, svd_solver="full").fit(blocks)
    before = (h - 1) // 2
    padded = np.pad(diff, ((before, h - 1 - before),) * 2, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (h, h)).reshape(-1, h * h)
    features = pca.transform(windows)
    km = KMeans(2, n_init=1, random_state=model.kmeans_seed_).fit(features)
    change = np.argmax([diff.ravel()[km.labels_ == k].mean() for k in range(2)])
    expected = (km.labels_ == change).reshape(24, 24)
    np.testing.assert_array_equal(model.predict(pair[None])[0], expected)
    assert expected[10:16, 10:16].all()


def test_pca_kmeans_on_images_smaller_than_its_blocks():
    X = _pairs(n=2, size=8)
    masks = PCAKMeansChangeDetector(block_size=7).fit(X).predict(X[:, :, :6, :6])
    assert masks.shape == (2, 6, 6)
    with pytest.raises(ValueError, match="n_components=5 must be at most block_size\\*\\*2 = 4"):
        PCAKMeansChangeDetector(block_size=2, n_components=5).fit(X)


def test_novelty_learns_from_training_pairs():
    X = _pairs(n=8)
    model = NoveltyChangeDetector(n_components=2, threshold=0.02, max_samples=4000, random_state=0).fit(X[2:])
    assert model.n_training_pixels_ == 6 * 667 and len(model.feature_names_) == 12
    assert model.feature_names_[:4] == ["lr_mean_VV_5", "lr_mean_VH_5", "lr_rms_VV_5", "lr_rms_VH_5"]
    masks = model.predict(X)
    # One threshold for every pair: pairs of speckle alone keep (about) the training share of false alarms.
    assert masks[2:].mean() < 0.05 and masks[0, 8:24, 8:24].mean() > 0.9
    # Seeded: the same random_state gives the same model, another draws other pixels.
    same = NoveltyChangeDetector(n_components=2, threshold=0.02, max_samples=4000, random_state=0).fit(X[2:])
    np.testing.assert_array_equal(same.predict(X), masks)
    assert same.threshold_ == model.threshold_
    other = NoveltyChangeDetector(n_components=2, threshold=0.02, max_samples=4000, random_state=1).fit(X[2:])
    assert other.threshold_ != model.threshold_
    otsu = NoveltyChangeDetector(n_components=2, max_samples=4000, random_state=0).fit(X[2:])
    scores = -otsu.mixture_.score_samples(otsu.mixture_.means_)
    assert np.isfinite(otsu.threshold_) and np.all(scores < otsu.threshold_)


def test_novelty_bad_parameters():
    X = _pairs(n=2)
    for scales in [(), (5, 0), (5, 2.5), "5"]:
        with pytest.raises((ValueError, InvalidParameterError), match="scales"):
            NoveltyChangeDetector(scales=scales).fit(X)
    with pytest.raises(InvalidParameterError, match="threshold"):
        NoveltyChangeDetector(threshold=1.5).fit(X)
    empty = np.zeros((2, 4, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="hold 0 pixels with data at both dates"):
        NoveltyChangeDetector().fit(empty)


def test_grid_search_with_a_change_scorer(tiny_quakeset):
    """Tuning works as for the other tasks: y is the masks (ignored by fit, read by the scorer)."""
    X, masks, groups = load_change(tiny_quakeset, split="all")
    search = GridSearchCV(LogRatioChangeDetector(), {"filter_size": [3, 5]}, cv=2,
                          scoring=get_scorer("change_iou_quake"))
    search.fit(X, masks)
    assert np.isfinite(search.best_score_) and search.best_params_["filter_size"] in (3, 5)


def test_mean_filter_then_log_ratio():
    pair = _pairs(n=2)[0]
    valid = valid_pixels(pair)
    mean5 = combined_log_ratio(pair, valid, "mean", 5)
    t0 = uniform_filter(pair[:2], (1, 5, 5), mode="reflect")
    t1 = uniform_filter(pair[2:], (1, 5, 5), mode="reflect")
    np.testing.assert_allclose(mean5, np.abs(10 * np.log10(t1 / t0)).mean(axis=0), rtol=1e-4)
