"""The deep estimators read a decoded cache a batch at a time, with the per-sample path's results."""
import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit
from torch.utils.data import default_collate

from skquake.datasets import CachedQuakeSet, QuakeSet, lazy_xy, make_cache
from skquake.models.deep import QuakeClassifier, QuakeRegressor

TINY = dict(backbone="test_resnet", max_epochs=2, batch_size=6, random_state=0)


@pytest.fixture(scope="module")
def caches(tiny_quakeset, tmp_path_factory):
    root = tmp_path_factory.mktemp("deep_caches")
    return {dtype: make_cache(tiny_quakeset, root / dtype, dtype=dtype, modes=("bitemporal",))
            for dtype in ("float16-db", "float32-linear")}


@pytest.fixture
def reads(monkeypatch):
    """Counts of the cache's per-sample and batch reads (wrapping the real methods)."""
    counts = {"sample": 0, "batch": 0}
    getitem, read_batch = CachedQuakeSet.__getitem__, CachedQuakeSet.read_batch

    def counted_getitem(self, i):
        counts["sample"] += 1
        return getitem(self, i)

    def counted_read_batch(self, *args, **kwargs):
        counts["batch"] += 1
        return read_batch(self, *args, **kwargs)

    monkeypatch.setattr(CachedQuakeSet, "__getitem__", counted_getitem)
    monkeypatch.setattr(CachedQuakeSet, "read_batch", counted_read_batch)
    return counts


def _fit_predict(X, y, weights=None, **params):
    reg = QuakeRegressor(**{**TINY, **params}).fit(X, y, sample_weight=weights)
    return reg.predict(X), np.asarray(reg.history[:, "train_loss"])


def test_batches_are_read_whole(caches, reads):
    X, y, _ = lazy_xy(CachedQuakeSet(caches["float16-db"], split="all"))
    QuakeRegressor(**TINY).fit(X, y).predict(X)
    n_batches = 2 * int(np.ceil(len(y) / 6)) + int(np.ceil(len(y) / 6))  # 2 epochs + prediction
    # one sample read up front by fit and one by predict (the input checks); the rest in batches
    assert reads["sample"] == 2
    assert n_batches - 1 <= reads["batch"] - reads["sample"] <= n_batches  # a 1-sample tail is merged


@pytest.mark.parametrize("split", [None, ValidSplit(3)], ids=["no-split", "valid-split"])
def test_same_results_as_the_per_sample_path(tiny_quakeset, caches, split):
    """float32-linear: bit-identical to QuakeSet; float16-db: within its rounding."""
    ref_X, y, _ = lazy_xy(QuakeSet(tiny_quakeset, split="all"))
    weights = np.linspace(0.5, 2.0, len(y))
    for w in (None, weights):
        expected, expected_loss = _fit_predict(ref_X, y, w, train_split=split)
        X32, _, _ = lazy_xy(CachedQuakeSet(caches["float32-linear"], split="all"))
        got, loss = _fit_predict(X32, y, w, train_split=split)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(loss, expected_loss)
        X16, _, _ = lazy_xy(CachedQuakeSet(caches["float16-db"], split="all"))
        got, loss = _fit_predict(X16, y, w, train_split=split)
        np.testing.assert_allclose(got, expected, atol=5e-3)
        np.testing.assert_allclose(loss, expected_loss, rtol=5e-3)


def test_classifier_and_quakeset_input(tiny_quakeset, caches):
    expected = QuakeClassifier(**TINY).fit(QuakeSet(tiny_quakeset, split="all")).predict_proba(
        QuakeSet(tiny_quakeset, split="all"))
    ds = CachedQuakeSet(caches["float32-linear"], split="all")
    np.testing.assert_array_equal(QuakeClassifier(**TINY).fit(ds).predict_proba(ds), expected)


def test_in_memory_device_resident_and_workers_agree(caches, reads):
    folder = caches["float16-db"]
    X, y, _ = lazy_xy(CachedQuakeSet(folder, split="all"))
    expected, _ = _fit_predict(X, y)
    for in_memory in (True, "cpu"):
        Xm, _, _ = lazy_xy(CachedQuakeSet(folder, split="all", in_memory=in_memory))
        np.testing.assert_array_equal(_fit_predict(Xm, y)[0], expected)
    got, _ = _fit_predict(X, y, iterator_train__num_workers=2, iterator_valid__num_workers=2)
    np.testing.assert_array_equal(got, expected)


def test_device_resident_batches_reach_the_module_as_tensors(caches, monkeypatch):
    """No host copy on the way: the module gets the cache's tensor, decoded in decode_batch."""
    X, y, _ = lazy_xy(CachedQuakeSet(caches["float16-db"], split="all", in_memory="cpu"))
    ds = X.dataset
    resident = ds._data()
    seen = []
    decode = QuakeRegressor.decode_batch

    def spy(self, x):
        seen.append(x)
        return decode(self, x)

    monkeypatch.setattr(QuakeRegressor, "decode_batch", spy)
    QuakeRegressor(**{**TINY, "max_epochs": 1}).fit(X, y)
    assert seen and all(isinstance(x, dict) for x in seen)
    stored = next(iter(seen[0].values()))
    assert stored.dtype == torch.float16 and stored.shape[1:] == resident.shape[1:]


def test_user_collate_fn_gets_the_samples(tiny_quakeset, caches, reads):
    ref_X, y, _ = lazy_xy(QuakeSet(tiny_quakeset, split="all"))
    expected, _ = _fit_predict(ref_X, y)
    X, _, _ = lazy_xy(CachedQuakeSet(caches["float32-linear"], split="all"))
    got, _ = _fit_predict(X, y, iterator_train__collate_fn=default_collate,
                          iterator_valid__collate_fn=default_collate)
    np.testing.assert_array_equal(got, expected)
    assert reads["sample"] == 3 * len(y) + 2  # every sample per epoch and at prediction, + the checks


def test_unfilled_no_data_keeps_the_per_sample_refusal(caches):
    X, y, _ = lazy_xy(CachedQuakeSet(caches["float16-db"], split="all", fill_value=None))
    assert X.batch_encoding is None
    with pytest.raises(ValueError, match="has NaN or infinite pixels; fill no-data first"):
        QuakeRegressor(**TINY).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_resident_training(caches, monkeypatch):
    X, y, _ = lazy_xy(CachedQuakeSet(caches["float16-db"], split="all", in_memory="cuda"))
    seen = []
    decode = QuakeRegressor.decode_batch
    monkeypatch.setattr(QuakeRegressor, "decode_batch", lambda self, x: seen.append(x) or decode(self, x))
    pred = QuakeRegressor(**{**TINY, "device": "cuda"}).fit(X, y).predict(X)
    assert np.isfinite(pred).all() and all(next(iter(x.values())).is_cuda for x in seen)
