"""The decoded cache: make_cache, CachedQuakeSet, `skquake cache`."""
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skquake.cli import main as cli
from skquake.datasets import (
    CachedQuakeSet,
    QuakeSet,
    QuakeSetFormatError,
    StaleCacheError,
    lazy_xy,
    make_cache,
)


@pytest.fixture(scope="module")
def caches(tiny_quakeset, tmp_path_factory):
    """{dtype: cache folder} of the session's tiny file (which has NaN areas)."""
    root = tmp_path_factory.mktemp("caches")
    return {dtype: make_cache(tiny_quakeset, root / dtype, dtype=dtype)
            for dtype in ("float16-db", "float32-linear")}


@pytest.mark.parametrize("split", ["all", "train", "val", "test"])
@pytest.mark.parametrize("mode", ["bitemporal", "single"])
@pytest.mark.parametrize("fill_value", [0.0, None])
def test_round_trip_equals_quakeset(tiny_quakeset, caches, split, mode, fill_value):
    ref = QuakeSet(tiny_quakeset, split=split, mode=mode, fill_value=fill_value)
    expected = np.stack([ref[i]["image"] for i in range(len(ref))])
    for dtype, folder in caches.items():
        ds = CachedQuakeSet(folder, split=split, mode=mode, fill_value=fill_value)
        assert len(ds) == len(ref) and ds.image_shape == ref.image_shape
        for key in ("labels", "magnitudes", "groups", "patches", "file_splits"):
            np.testing.assert_array_equal(getattr(ds, key), getattr(ref, key))
            assert getattr(ds, key).dtype.kind == getattr(ref, key).dtype.kind
        batch = ds.read_batch(np.arange(len(ds))[::-1])[::-1]
        assert batch.dtype == np.float32
        if dtype == "float32-linear":
            np.testing.assert_array_equal(batch, expected)
        else:  # float16 decibels: rounding of half a float16 step, NaN and zeros exact
            np.testing.assert_allclose(batch, expected, rtol=4e-3, atol=0)
        sample, first = ds[1], ref[1]
        assert {k: v for k, v in sample.items() if k != "image"} == {k: v for k, v in first.items() if k != "image"}
        np.testing.assert_allclose(sample["image"], batch[1])


def test_nan_is_stored_and_filled(tiny_quakeset, caches):
    ref = QuakeSet(tiny_quakeset, split="all", fill_value=None)
    has_nan = [i for i in range(len(ref)) if np.isnan(ref[i]["image"]).any()]
    assert has_nan  # the fixture's file has no-data areas
    for folder in caches.values():
        raw = np.load(folder / "bitemporal.npy", mmap_mode="r")
        assert np.isnan(raw[has_nan[0]]).any()
        assert not np.isnan(CachedQuakeSet(folder, split="all", fill_value=-1.0)[has_nan[0]]["image"]).any()
        image = CachedQuakeSet(folder, split="all", fill_value=-1.0)[has_nan[0]]["image"]
        np.testing.assert_array_equal(image == -1.0, np.isnan(ref[has_nan[0]]["image"]))


def test_stored_batch_decodes_on_the_device(caches):
    import torch

    from skquake.utils import from_decibels

    for dtype, folder in caches.items():
        ds = CachedQuakeSet(folder, split="all")
        stored = ds.read_batch([4, 1, 7], decode=False)
        assert stored.dtype == (np.float16 if dtype == "float16-db" else np.float32)
        decoded = from_decibels(torch.from_numpy(stored).float()) if dtype == "float16-db" else stored
        np.testing.assert_allclose(np.asarray(decoded), ds.read_batch([4, 1, 7]), rtol=1e-6)
    ds = CachedQuakeSet(caches["float16-db"], split="all")
    out = np.empty((2,) + ds.image_shape, dtype=np.float32)
    assert ds.read_batch([3, 0], out=out) is out
    np.testing.assert_array_equal(out, ds.read_batch([3, 0]))
    with pytest.raises(ValueError, match="out must be a C-contiguous float16 array"):
        ds.read_batch([3, 0], decode=False, out=out)
    with pytest.raises(ValueError, match="fill_value=-1.0 has no decibels"):
        CachedQuakeSet(caches["float16-db"], fill_value=-1.0).read_batch([0], decode=False)


def test_transform_in_memory_and_indexing(caches):
    folder = caches["float16-db"]
    lazy = CachedQuakeSet(folder, split="train")
    ram = CachedQuakeSet(folder, split="train", in_memory=True, transform=lambda x: x * 2)
    np.testing.assert_array_equal(ram.read_batch([2, 0, 2]), lazy.read_batch([2, 0, 2]))
    np.testing.assert_array_equal(ram[3]["image"], 2 * lazy[3]["image"])
    np.testing.assert_array_equal(lazy[-1]["image"], lazy[len(lazy) - 1]["image"])
    assert ram._data().shape == (len(lazy),) + lazy.image_shape  # the split only, in RAM
    with pytest.raises(IndexError, match="out of range for a CachedQuakeSet"):
        lazy[len(lazy)]
    with pytest.raises(TypeError, match="must be integers"):
        lazy[1.5]
    with pytest.raises(TypeError, match="must be integers"):
        lazy.read_batch(np.ones(2, dtype=bool))
    assert "CachedQuakeSet(" in repr(lazy) and "float16-db" in repr(lazy)


def test_pickle_and_dataloader_workers(caches):
    import torch
    from torch.utils.data import DataLoader

    ds = CachedQuakeSet(caches["float32-linear"], split="all", in_memory=True)
    ds[0]
    state = pickle.dumps(ds)
    assert len(state) < 100_000  # the memory map / RAM copy is not pickled
    np.testing.assert_array_equal(pickle.loads(state)[5]["image"], ds[5]["image"])
    loader = DataLoader(ds, batch_size=8, num_workers=2)  # forked workers (spawn pickles: above)
    images = torch.cat([batch["image"] for batch in loader]).numpy()
    np.testing.assert_array_equal(images, ds.read_batch(np.arange(len(ds))))


def test_stale_cache_refused(tiny_quakeset_factory, tmp_path):
    source = tiny_quakeset_factory()
    folder = make_cache(source, tmp_path / "cache")
    CachedQuakeSet(folder)
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(StaleCacheError, match="stale") as info:
        CachedQuakeSet(folder)
    assert str(folder) in str(info.value) and str(source) in str(info.value)
    assert "overwrite=True" in str(info.value)
    make_cache(source, folder, overwrite=True)  # converting again makes it fresh
    CachedQuakeSet(folder)
    os.unlink(source)  # a moved source is not checked: the cache is self-contained
    assert len(CachedQuakeSet(folder, split="all")) > 0


def test_interrupted_conversion_restarts_cleanly(tiny_quakeset, tmp_path):
    out = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import sys, time
        import skquake.datasets._cache as cache
        encode = cache._encode
        def slow(image, dtype, calls=[0]):
            calls[0] += 1
            if calls[0] == 3:
                print("writing", flush=True)
                time.sleep(60)
            return encode(image, dtype)
        cache._encode = slow
        cache.make_cache({str(tiny_quakeset)!r}, {str(out)!r})
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "writing"
            partial = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
            assert len(partial) == 1 and not out.exists()  # nothing looks complete mid-way
        finally:
            proc.kill()
    assert partial[0].exists()  # a killed writer cannot clean up after itself
    make_cache(tiny_quakeset, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # the stale folder is gone
    ref = QuakeSet(tiny_quakeset, split="all")
    np.testing.assert_allclose(CachedQuakeSet(out, split="all").read_batch(np.arange(len(ref))),
                               np.stack([ref[i]["image"] for i in range(len(ref))]), rtol=4e-3)


def test_bad_inputs(tiny_quakeset, caches, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(QuakeSetFormatError, match="notes.h5"):
        make_cache(text, tmp_path / "a")
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        make_cache(tmp_path, tmp_path / "b")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_cache(tiny_quakeset, caches["float16-db"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(FileExistsError, match="not a cache"):
        make_cache(tiny_quakeset, tmp_path / "mine", overwrite=True)
    with pytest.raises(NotADirectoryError, match="notes.h5"):
        make_cache(tiny_quakeset, text)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_cache(tiny_quakeset, tmp_path / "missing" / "cache")
    with pytest.raises(ValueError, match="'dtype' parameter of make_cache"):
        make_cache(tiny_quakeset, tmp_path / "c", dtype="int8")
    with pytest.raises(ValueError, match="modes must be"):
        make_cache(tiny_quakeset, tmp_path / "c", modes=("color",))
    assert not (tmp_path / "c").exists() and not (tmp_path / "a").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CachedQuakeSet(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="not a QuakeSet cache"):
        CachedQuakeSet(tmp_path / "mine")
    with pytest.raises(ValueError, match="'split' parameter of CachedQuakeSet"):
        CachedQuakeSet(caches["float16-db"], split="training")
    single = make_cache(tiny_quakeset, tmp_path / "single", modes="single")
    with pytest.raises(ValueError, match="has no mode 'bitemporal'"):
        CachedQuakeSet(single)
    manifest = json.loads((single / "manifest.json").read_text())
    (single / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        CachedQuakeSet(single, mode="single")


def test_negative_values_need_linear_storage(tiny_quakeset_factory, tmp_path):
    import h5py

    source = tiny_quakeset_factory()
    with h5py.File(source, "r+") as f:
        event = min(f.keys())
        f[f"{event}/patch_0/pre"][0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="float32-linear"):
        make_cache(source, tmp_path / "db")
    ds = CachedQuakeSet(make_cache(source, tmp_path / "lin", dtype="float32-linear"), split="all")
    assert ds.read_image(0)[0, 0, 0] == -1.0


def test_cli(tiny_quakeset, tmp_path, capsys):
    out = tmp_path / "cache"
    assert cli(["cache", str(tiny_quakeset), "--out", str(out), "--dtype", "float32-linear"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert CachedQuakeSet(out).dtype == "float32-linear"
    assert cli(["cache", str(tiny_quakeset), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli(["cache", str(tiny_quakeset), "--out", str(out), "--overwrite", "--modes", "single"]) == 0
    assert json.loads((out / "manifest.json").read_text())["modes"] == ["single"]
    capsys.readouterr()
    assert cli(["cache", str(tiny_quakeset), "--out", str(out), "--dtype", "int8"]) == 2
    assert "--dtype" in capsys.readouterr().err
    assert cli(["cache", str(tmp_path / "none.h5"), "--out", str(out)]) == 2
    assert "none.h5" in capsys.readouterr().err


def test_estimators_take_the_cache(tiny_quakeset, caches):
    from skquake.models import create_model
    from skquake.models.deep import QuakeRegressor

    ds = CachedQuakeSet(caches["float16-db"], split="all")
    X, y, groups = lazy_xy(ds)
    ref_X, ref_y, ref_groups = lazy_xy(QuakeSet(tiny_quakeset, split="all"))
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(groups, ref_groups)
    np.testing.assert_allclose(X[3], ref_X[3], rtol=4e-3)
    net = QuakeRegressor("test_efficientnet", max_epochs=1, batch_size=8, random_state=0).fit(X, y)
    assert np.isfinite(net.predict(X[:5])).all()
    shallow = create_model("rfr", input_shape=ds.image_shape, rf__n_estimators=5).fit(X, y)
    assert shallow.predict(X[:4]).shape == (4,)


# -- batch reads for the estimators, device-resident splits --------------------------------------
def test_batch_encoding(caches):
    f16, f32 = caches["float16-db"], caches["float32-linear"]
    assert CachedQuakeSet(f16).batch_encoding == "decibels"
    assert CachedQuakeSet(f32).batch_encoding == "linear"
    assert CachedQuakeSet(f16, fill_value=0.5).batch_encoding == "decibels"
    # batches that would differ from the samples: the per-sample path instead
    assert CachedQuakeSet(f16, transform=np.sqrt).batch_encoding is None
    assert CachedQuakeSet(f16, fill_value=-1.0).batch_encoding is None
    assert CachedQuakeSet(f32, fill_value=-1.0).batch_encoding == "linear"
    assert CachedQuakeSet(f16, split="all", fill_value=None).batch_encoding is None  # unfilled no-data


def test_lazy_images_read_batches_of_their_view(caches, tiny_quakeset):
    ds = CachedQuakeSet(caches["float16-db"], split="all")
    X, _, _ = lazy_xy(ds)
    view = X[np.array([7, 2, 9, 4])]
    assert view.batch_encoding == "decibels"
    np.testing.assert_array_equal(view.read_batch([3, 0]), ds.read_batch([4, 7], decode=False))
    from skquake.datasets import LazyImages

    assert LazyImages(ds, idx="label").batch_encoding is None
    hdf5, _, _ = lazy_xy(QuakeSet(tiny_quakeset))
    assert hdf5.batch_encoding is None
    with pytest.raises(TypeError, match="read sample by sample"):
        hdf5.read_batch([0])


@pytest.mark.parametrize("dtype", ["float16-db", "float32-linear"])
def test_device_resident_split(caches, dtype):
    import torch

    host = CachedQuakeSet(caches[dtype], split="train")
    device = CachedQuakeSet(caches[dtype], split="train", in_memory="cpu")
    idx = [5, 0, 3, 3]
    for decode in (True, False):
        batch = device.read_batch(idx, decode=decode)
        assert isinstance(batch, torch.Tensor) and batch.device.type == "cpu"
        expected = host.read_batch(idx, decode=decode)
        if decode and dtype == "float16-db":  # decoded by torch instead of numpy: float32 rounding
            np.testing.assert_allclose(batch.numpy(), expected, rtol=1e-6)
        else:
            np.testing.assert_array_equal(batch.numpy(), expected)
    sample = device[2]
    assert isinstance(sample["image"], np.ndarray) and sample["label"] == host[2]["label"]
    out = torch.empty((2,) + device.image_shape, dtype=torch.float32)
    assert device.read_batch([1, 0], out=out) is out
    with pytest.raises(ValueError, match="out must be a torch.float32 tensor of shape"):
        device.read_batch([1, 0, 2], out=out)
    filled = CachedQuakeSet(caches[dtype], split="all", in_memory="cpu", fill_value=0.5)
    np.testing.assert_allclose(filled.read_batch(np.arange(len(filled))).numpy(),
                               CachedQuakeSet(caches[dtype], split="all", fill_value=0.5)
                               .read_batch(np.arange(len(filled))), rtol=1e-6)
    assert len(pickle.dumps(device)) < 100_000  # the tensor is not pickled


def test_device_resident_bad_devices(caches, monkeypatch):
    import torch

    with pytest.raises(ValueError, match="in_memory must be True, False or a torch device name"):
        CachedQuakeSet(caches["float16-db"], in_memory="gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="in_memory='cuda:0': there is no such CUDA device here"):
        CachedQuakeSet(caches["float16-db"], in_memory="cuda:0")


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU")
def test_device_resident_on_cuda(caches):
    ds = CachedQuakeSet(caches["float16-db"], split="train", in_memory="cuda")
    batch = ds.read_batch([0, 2], decode=False)
    assert batch.is_cuda and str(batch.dtype) == "torch.float16"
    np.testing.assert_array_equal(batch.cpu().numpy(), CachedQuakeSet(caches["float16-db"], split="train")
                                  .read_batch([0, 2], decode=False))


# -- one way in: a file or a cache folder ---------------------------------------------------------
def test_open_and_load_quakeset_take_a_cache(tiny_quakeset, caches):
    from skquake.datasets import load_quakeset, open_quakeset

    assert isinstance(open_quakeset(tiny_quakeset, split="val"), QuakeSet)
    ds = open_quakeset(caches["float32-linear"], split="val", mode="single", fill_value=0.5)
    assert isinstance(ds, CachedQuakeSet) and (ds.split, ds.mode, ds.fill_value) == ("val", "single", 0.5)
    assert open_quakeset(caches["float16-db"], in_memory=True).in_memory is True
    for target in ("label", "magnitude"):
        X, y, groups = load_quakeset(caches["float32-linear"], split="all", target=target, pool=2)
        X_ref, y_ref, groups_ref = load_quakeset(tiny_quakeset, split="all", target=target, pool=2)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(groups, groups_ref)
        assert X.dtype == X_ref.dtype and y.dtype == y_ref.dtype
    X, _, _ = load_quakeset(caches["float16-db"], split="test", mode="single")
    np.testing.assert_allclose(X, load_quakeset(tiny_quakeset, split="test", mode="single")[0], rtol=4e-3)
    with pytest.raises(ValueError, match="in_memory=True holds a cache in memory; .*tiny.h5 is an HDF5 file"):
        open_quakeset(tiny_quakeset, in_memory=True)


def test_a_folder_that_is_not_a_cache_and_a_stale_cache(tiny_quakeset_factory, tmp_path):
    import argparse

    from skquake.datasets import check_quakeset_source, load_quakeset, open_quakeset, quakeset_argument

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "earthquakes.h5").write_bytes(b"")
    for call in (open_quakeset, load_quakeset, check_quakeset_source):
        with pytest.raises(IsADirectoryError, match=f"{folder} is a folder, not a file, and not a QuakeSet "
                                                    "cache: it has no manifest.json.*earthquakes.h5"):
            call(folder)
    with pytest.raises(argparse.ArgumentTypeError, match="it has no manifest.json"):
        quakeset_argument(str(folder))
    with pytest.raises(argparse.ArgumentTypeError, match="QuakeSet file not found"):
        quakeset_argument(str(tmp_path / "none.h5"))
    source = tiny_quakeset_factory()
    cache = make_cache(source, tmp_path / "cache", dtype="float32-linear")
    assert check_quakeset_source(cache) == cache and quakeset_argument(str(cache)) == str(cache)
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    for call in (open_quakeset, load_quakeset, check_quakeset_source):
        with pytest.raises(StaleCacheError, match=f"the cache {cache} is stale"):
            call(cache)
    with pytest.raises(argparse.ArgumentTypeError, match="is stale"):
        quakeset_argument(str(cache))
