"""Reading QuakeSet files: sample convention, laziness, pickling, pooling, bad input."""
import os
import pickle

import h5py
import numpy as np
import pytest

from skquake.datasets import QuakeSet, QuakeSetFormatError, load_quakeset
from skquake.utils import average_pool, fill_nan, from_decibels, to_decibels

H = W = 4


def _image(event, patch, date):
    """H x W x 2 image whose every value encodes where it comes from: VV = code, VH = code + 0.5."""
    code = {"100": 1000, "20": 2000}[event] + 10 * int(patch.split("_")[1]) + {"before": 1, "pre": 2, "post": 3}[date]
    img = np.empty((H, W, 2), dtype=np.float32)
    img[..., 0] = code
    img[..., 1] = code + 0.5
    return img


# event -> (split, magnitude, {patch: dates}); names chosen so that string order differs
# from numeric order ("100" < "20", "patch_10" < "patch_2").
LAYOUT = {
    "20": ("train", 5.5, {"patch_0": ("before", "pre", "post"), "patch_2": ("pre", "post"),
                          "patch_10": ("before", "pre", "post")}),
    "100": ("validation", 6.25, {"patch_0": ("pre", "post")}),
}


@pytest.fixture
def handmade(tmp_path):
    path = tmp_path / "earthquakes.h5"
    with h5py.File(path, "w") as f:
        for event, (split, magnitude, patches) in LAYOUT.items():
            g = f.create_group(event)
            g.attrs["split"] = split
            g.attrs["magnitude"] = magnitude
            g.create_dataset("x", data=np.arange(W, dtype=float))
            g.create_dataset("y", data=np.arange(H, dtype=float))
            for patch, dates in patches.items():
                for date in dates:
                    g.create_dataset(f"{patch}/{date}", data=_image(event, patch, date))
        # one NaN pixel in VH of 20/patch_0/pre, to check filling
        f["20/patch_0/pre"][1, 2, 1] = np.nan
    return path


def test_sample_convention_and_sorted_order(handmade):
    ds = QuakeSet(handmade, split="all")
    # event "100" sorts before "20"; patch_10 before patch_2; positive before negative
    expected = [
        ("100", "patch_0", 1, 6.25, ("pre", "post")),
        ("20", "patch_0", 1, 5.5, ("pre", "post")),
        ("20", "patch_0", 0, 0.0, ("before", "pre")),
        ("20", "patch_10", 1, 5.5, ("pre", "post")),
        ("20", "patch_10", 0, 0.0, ("before", "pre")),
        ("20", "patch_2", 1, 5.5, ("pre", "post")),
    ]
    assert len(ds) == len(expected)
    assert ds.image_shape == (4, H, W)
    np.testing.assert_array_equal(ds.groups, [e[0] for e in expected])
    np.testing.assert_array_equal(ds.patches, [e[1] for e in expected])
    np.testing.assert_array_equal(ds.labels, [e[2] for e in expected])
    np.testing.assert_allclose(ds.magnitudes, [e[3] for e in expected])
    assert ds.labels.dtype == np.int64 and ds.magnitudes.dtype == np.float32
    for i, (event, patch, label, magnitude, (t0, t1)) in enumerate(expected):
        s = ds[i]
        assert (s["event_id"], s["patch"], s["label"]) == (event, patch, label)
        assert s["magnitude"] == pytest.approx(magnitude)
        img = s["image"]
        assert img.dtype == np.float32 and img.shape == (4, H, W)
        a, b = _image(event, patch, t0), _image(event, patch, t1)
        want = np.stack([a[..., 0], a[..., 1], b[..., 0], b[..., 1]])  # t0 VV, t0 VH, t1 VV, t1 VH
        if (event, patch) == ("20", "patch_0"):
            nan_channel = 1 if t0 == "pre" else 3  # 'pre' is t0 of the positive, t1 of the negative
            want[nan_channel, 1, 2] = 0.0
        np.testing.assert_array_equal(img, want)


def test_single_mode_is_the_later_image(handmade):
    ds = QuakeSet(handmade, split="train", mode="single")
    assert ds.image_shape == (2, H, W)
    for i in range(len(ds)):
        s = ds[i]
        later = "post" if s["label"] == 1 else "pre"
        want = _image(s["event_id"], s["patch"], later).transpose(2, 0, 1).copy()
        if (s["event_id"], s["patch"], later) == ("20", "patch_0", "pre"):
            want[1, 1, 2] = 0.0
        np.testing.assert_array_equal(s["image"], want)


@pytest.mark.parametrize("split, events", [("train", {"20"}), ("val", {"100"}), ("validation", {"100"}),
                                           ("test", set()), ("all", {"20", "100"})])
def test_split_selection(handmade, split, events):
    ds = QuakeSet(handmade, split=split)
    assert set(ds.groups) == events
    assert ds.image_shape == (4, H, W)  # known even for an empty split


def test_fill_value_and_transform(handmade):
    ds = QuakeSet(handmade, split="train", fill_value=-1.0)
    assert ds[0]["image"][1, 1, 2] == -1.0
    ds = QuakeSet(handmade, split="train", fill_value=None)
    img = ds[0]["image"]
    assert np.isnan(img[1, 1, 2]) and np.isnan(img).sum() == 1
    ds = QuakeSet(handmade, split="train", transform=to_decibels)
    img = ds[0]["image"]
    assert img.dtype == np.float32
    assert img[1, 1, 2] == pytest.approx(-90.0)  # NaN -> 0 -> 10 log10(1e-9)
    assert img[0, 0, 0] == pytest.approx(10 * np.log10(_image("20", "patch_0", "pre")[0, 0, 0]))


def test_indexing(handmade):
    ds = QuakeSet(handmade, split="all")
    np.testing.assert_array_equal(ds[-1]["image"], ds[len(ds) - 1]["image"])
    np.testing.assert_array_equal(ds[np.int64(2)]["image"], ds[2]["image"])
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]
    with pytest.raises(TypeError):
        ds["0"]


def test_open_reads_no_pixels(handmade, monkeypatch):
    def no_pixels(self, *args, **kwargs):
        raise AssertionError("pixels read")

    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_pixels)
    monkeypatch.setattr(h5py.Dataset, "read_direct", no_pixels)
    ds = QuakeSet(handmade, split="all")  # the index comes from groups and attributes only
    assert len(ds) == 6
    with pytest.raises(AssertionError, match="pixels read"):
        ds[0]


def test_reading_never_writes(tiny_quakeset):
    before = (os.stat(tiny_quakeset).st_mtime_ns, tiny_quakeset.read_bytes())
    ds = QuakeSet(tiny_quakeset, split="all")
    for i in range(len(ds)):
        ds[i]
    assert ds._file().mode == "r"
    load_quakeset(tiny_quakeset, split="all", pool=2)
    ds.close()
    assert (os.stat(tiny_quakeset).st_mtime_ns, tiny_quakeset.read_bytes()) == before


def test_generated_file_convention(tiny_quakeset):
    ds = QuakeSet(tiny_quakeset, split="all")
    with h5py.File(tiny_quakeset, "r") as f:
        n_patches = sum(1 for k in f for p in f[k] if p not in ("x", "y"))
        n_before = sum("before" in f[k][p] for k in f for p in f[k] if p not in ("x", "y"))
        magnitude = {k: f[k].attrs["magnitude"] for k in f}
        raw_nan = any(np.isnan(f[k][p][d][()]).any() for k in f for p in f[k] if p not in ("x", "y")
                      for d in f[k][p])
    assert 0 < n_before < n_patches and raw_nan
    assert len(ds) == n_patches + n_before
    assert ds.labels.sum() == n_patches
    pos = ds.labels == 1
    np.testing.assert_allclose(ds.magnitudes[pos], [magnitude[g] for g in ds.groups[pos]], rtol=1e-6)
    assert np.all(ds.magnitudes[~pos] == 0.0)
    assert list(ds.groups) == sorted(ds.groups)  # events visited in sorted order
    for i in range(len(ds)):
        img = ds[i]["image"]
        assert img.shape == ds.image_shape == (4, 32, 32) and not np.isnan(img).any()
    # splits partition the samples
    sizes = [len(QuakeSet(tiny_quakeset, split=s)) for s in ("train", "val", "test")]
    assert sum(sizes) == len(ds) and min(sizes) > 0


def test_pickle_after_use(tiny_quakeset):
    ds = QuakeSet(tiny_quakeset, split="all", mode="single", transform=to_decibels)
    first = ds[0]["image"]  # opens the handle, which must not travel with the pickle
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._handle is None and len(clone) == len(ds)
    np.testing.assert_array_equal(clone[0]["image"], first)
    np.testing.assert_array_equal(clone.groups, ds.groups)


def test_dataloader_two_workers(tiny_quakeset):
    import torch
    from torch.utils.data import DataLoader

    ds = QuakeSet(tiny_quakeset, split="all")
    ds[0]  # an open handle in the parent must not leak into the forked workers
    loader = DataLoader(ds, batch_size=8, num_workers=2, shuffle=False)
    images, labels, events = [], [], []
    for batch in loader:
        images.append(batch["image"])
        labels.append(batch["label"])
        events.extend(batch["event_id"])
    images = torch.cat(images).numpy()
    assert images.shape == (len(ds),) + ds.image_shape
    np.testing.assert_array_equal(torch.cat(labels).numpy(), ds.labels)
    assert events == list(ds.groups)
    X, _, _ = load_quakeset(tiny_quakeset, split="all")
    np.testing.assert_array_equal(images, X)


def test_joblib(tiny_quakeset):
    from joblib import Parallel, delayed

    ds = QuakeSet(tiny_quakeset, split="test")
    sums = Parallel(n_jobs=2)(delayed(lambda d, i: float(d[i]["image"].sum()))(ds, i) for i in range(len(ds)))
    np.testing.assert_allclose(sums, [float(ds[i]["image"].sum()) for i in range(len(ds))], rtol=1e-6)


@pytest.mark.parametrize("mode", ["bitemporal", "single"])
def test_load_quakeset_matches_dataset_and_pooling(tiny_quakeset, mode):
    ds = QuakeSet(tiny_quakeset, split="train", mode=mode, fill_value=0.5)
    full = np.stack([ds[i]["image"] for i in range(len(ds))])
    X, y, groups = load_quakeset(tiny_quakeset, split="train", mode=mode, fill_value=0.5)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, full)
    np.testing.assert_array_equal(y, ds.labels)
    np.testing.assert_array_equal(groups, ds.groups)
    Xp, ym, _ = load_quakeset(tiny_quakeset, split="train", mode=mode, target="magnitude", pool=4,
                              fill_value=0.5)
    n, c = full.shape[:2]
    assert Xp.shape == (n, c, 8, 8) and Xp.dtype == np.float32
    np.testing.assert_allclose(Xp, full.reshape(n, c, 8, 4, 8, 4).mean(axis=(3, 5)), rtol=1e-5)
    np.testing.assert_array_equal(ym, ds.magnitudes)


def test_load_quakeset_bad_arguments(tiny_quakeset):
    with pytest.raises(ValueError, match="does not divide the image size 32 x 32"):
        load_quakeset(tiny_quakeset, pool=3)
    with pytest.raises(ValueError, match=r"'pool' parameter of load_quakeset must be an int in the range \[1, inf\)"):
        load_quakeset(tiny_quakeset, pool=0)
    with pytest.raises(ValueError, match="'target' parameter of load_quakeset must be a str among .*'magnitude'"):
        load_quakeset(tiny_quakeset, target="mag")


def test_bad_fill_value_and_transform(tiny_quakeset):
    with pytest.raises(ValueError, match="'fill_value' parameter of QuakeSet must be None or a float"):
        QuakeSet(tiny_quakeset, fill_value="zero")
    with pytest.raises(ValueError, match="'fill_value' parameter of QuakeSet must be None or a float"):
        QuakeSet(tiny_quakeset, fill_value=True)
    with pytest.raises(ValueError, match="'transform' parameter of QuakeSet must be None or a callable"):
        QuakeSet(tiny_quakeset, transform="decibels")


def test_unknown_split_and_mode(tiny_quakeset):
    with pytest.raises(ValueError, match="'split' parameter of QuakeSet must be a str among .*'val'.*Got 'valid'"):
        QuakeSet(tiny_quakeset, split="valid")
    with pytest.raises(ValueError, match="'mode' parameter of QuakeSet must be a str among .*'single'.*Got 'rgb'"):
        QuakeSet(tiny_quakeset, mode="rgb")
    with pytest.raises(ValueError, match="'split' parameter of load_quakeset must be a str among .*Got 'training'"):
        load_quakeset(tiny_quakeset, split="training")


def test_missing_file(tmp_path):
    missing = tmp_path / "nope" / "earthquakes.h5"
    with pytest.raises(FileNotFoundError, match="nope"):
        QuakeSet(missing)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_quakeset(missing)


def test_not_hdf5(tmp_path):
    path = tmp_path / "earthquakes.h5"
    path.write_text("not hdf5")
    with pytest.raises(QuakeSetFormatError, match="earthquakes.h5: not an HDF5 file"):
        QuakeSet(path)


def _edit(path, edit):
    with h5py.File(path, "a") as f:
        edit(f)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda f: [f.__delitem__(k) for k in list(f)], "no event groups"),
    (lambda f: f["20"].attrs.__delitem__("split"), "event '20' has no 'split' attribute"),
    (lambda f: f["100"].attrs.__delitem__("magnitude"), "event '100' has no 'magnitude' attribute"),
    (lambda f: f["20"].attrs.__setitem__("split", "valid"), "event '20' has split 'valid'"),
    (lambda f: f["20"].attrs.__setitem__("magnitude", "big"), "event '20' has a non-numeric magnitude"),
    (lambda f: f["20/patch_2"].__delitem__("pre"), "patch '20/patch_2' has no 'pre' image"),
    (lambda f: f["100/patch_0"].__delitem__("post"), "patch '100/patch_0' has no 'post' image"),
    (lambda f: (f["20/patch_2"].__delitem__("post"),
                f["20/patch_2"].create_dataset("post", data=np.zeros((H, W, 3), "f4"))),
     r"image '20/patch_2/post' has shape \(4, 4, 3\); expected \(H, W, 2\)"),
    (lambda f: (f["20/patch_0"].__delitem__("before"),
                f["20/patch_0"].create_dataset("before", data=np.zeros((H, W), "f4"))),
     r"image '20/patch_0/before' has shape \(4, 4\)"),
    (lambda f: (f["20/patch_2"].__delitem__("pre"),
                f["20/patch_2"].create_dataset("pre", data=np.zeros((8, 8, 2), "f4"))),
     r"image '20/patch_2/pre' has shape \(8, 8, 2\); expected \(4, 4, 2\)"),
])
def test_bad_layout(handmade, edit, message):
    _edit(handmade, edit)
    with pytest.raises(QuakeSetFormatError, match=message) as info:
        QuakeSet(handmade, split="all")
    assert "earthquakes.h5" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_attribute_encodings(handmade):
    # files written by other tools may store fixed-length byte strings and array magnitudes
    def edit(f):
        f["20"].attrs["split"] = np.bytes_("train")
        f["20"].attrs["magnitude"] = np.array([5.5], dtype=np.float32)
    _edit(handmade, edit)
    ds = QuakeSet(handmade, split="train")
    assert set(ds.groups) == {"20"} and ds.magnitudes.max() == np.float32(5.5)


def test_error_is_independent_of_split(handmade):
    # a broken event in another split is still reported: the whole file is checked at open
    _edit(handmade, lambda f: f["100"].attrs.__delitem__("magnitude"))
    with pytest.raises(QuakeSetFormatError, match="'100'"):
        QuakeSet(handmade, split="train")


# -- transforms ---------------------------------------------------------------------------------
def test_to_decibels_numpy_and_torch():
    import torch

    x = np.array([0.0, 1.0, 0.01, 10.0], dtype=np.float32)
    db = to_decibels(x)
    assert isinstance(db, np.ndarray) and db.dtype == np.float32
    np.testing.assert_allclose(db, [-90.0, 0.0, -20.0, 10.0], atol=1e-4)
    t = to_decibels(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), db, atol=1e-4)
    np.testing.assert_allclose(from_decibels(db[1:]), x[1:], rtol=1e-5)
    np.testing.assert_allclose(from_decibels(torch.from_numpy(db[1:])).numpy(), x[1:], rtol=1e-5)
    assert to_decibels(np.array([1, 10])).dtype == np.float64


def test_fill_nan_and_average_pool():
    x = np.array([[np.nan, 1.0], [np.inf, 2.0]], dtype=np.float32)
    filled = fill_nan(x, 5.0)
    assert np.isnan(x[0, 0])  # copy by default
    np.testing.assert_array_equal(filled, [[5.0, 1.0], [np.inf, 2.0]])
    assert fill_nan(x, 0.0, copy=False) is x and x[0, 0] == 0.0
    a = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    pooled = average_pool(a, 2)
    assert pooled.shape == (2, 2, 3) and pooled.dtype == np.float32
    assert pooled[0, 0, 0] == np.mean([0, 1, 6, 7])
    np.testing.assert_array_equal(average_pool(a, 1), a)
    with pytest.raises(ValueError, match="does not divide the image size 4 x 6"):
        average_pool(a, 4)
    with pytest.raises(ValueError, match=r"'pool' parameter of average_pool must be an int in the range \[1, inf\)"):
        average_pool(a, 1.5)
    with pytest.raises(ValueError, match="'pool' parameter of average_pool must be an int"):
        average_pool(a, True)
