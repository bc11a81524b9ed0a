"""Change-detection data: load_change, QuakeSet.read_masks, files without masks, bad input."""
import shutil

import h5py
import numpy as np
import pytest

from skquake.datasets import CHANGE_MASKS, QuakeSet, QuakeSetFormatError, load_change, load_quakeset
from skquake.utils import InvalidParameterError


@pytest.fixture
def copy(tiny_quakeset, tmp_path):
    return shutil.copy(tiny_quakeset, tmp_path / "earthquakes.h5")


def _drop_masks(f, keep=lambda event, patch: False):
    for event in f:
        for patch in [k for k in f[event] if k.startswith("patch_")]:
            if not keep(event, patch):
                for name in [k for k in f[event][patch] if k.startswith("mask_")]:
                    del f[event][patch][name]


def test_load_change_matches_the_reader(tiny_quakeset):
    X, masks, groups = load_change(tiny_quakeset, split="all")
    X0, labels, groups0 = load_quakeset(tiny_quakeset, split="all")
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(groups, groups0)
    assert CHANGE_MASKS == ("earthquake", "any")
    assert masks.dtype == np.uint8 and masks.shape == (len(X), 2) + X.shape[2:]
    assert set(np.unique(masks)) == {0, 1}
    ds = QuakeSet(tiny_quakeset, split="all")
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds.read_masks(i), masks[i])
    assert not masks[labels == 0, 0].any()
    assert np.all(masks[:, 1] >= masks[:, 0])  # the earthquake's change is a change
    assert (ds.file_splits == "validation").any()
    np.testing.assert_array_equal(load_change(tiny_quakeset, split="val")[1], masks[ds.file_splits == "validation"])


def test_pooled_masks_are_the_block_majority(tiny_quakeset):
    X, masks, _ = load_change(tiny_quakeset, split="test")
    Xp, pooled, _ = load_change(tiny_quakeset, split="test", pool=4)
    assert pooled.shape == masks.shape[:2] + (8, 8) and pooled.dtype == np.uint8
    blocks = masks.reshape(masks.shape[:2] + (8, 4, 8, 4)).sum(axis=(3, 5))
    np.testing.assert_array_equal(pooled, (blocks >= 8).astype(np.uint8))
    assert Xp.shape == X.shape[:2] + (8, 8)


def test_masks_are_read_lazily_without_images(tiny_quakeset, monkeypatch):
    ds = QuakeSet(tiny_quakeset, split="all")
    read = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        read.append(self.name.rsplit("/", 1)[1])
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    masks = ds.read_masks(0)
    assert masks.shape == (2,) + ds.image_shape[1:] and masks.dtype == np.uint8
    assert sorted(read) == ["mask_earthquake", "mask_post", "mask_pre"]
    read.clear()
    ds.read_image(1)
    assert not any(name.startswith("mask_") for name in read)  # images never read masks


def test_single_mode_has_no_masks(tiny_quakeset):
    ds = QuakeSet(tiny_quakeset, split="all", mode="single")
    with pytest.raises(ValueError, match=r"QuakeSet\(mode='single'\) has no change masks: a mask needs two dates"):
        ds.read_masks(0)


def test_file_without_masks(copy):
    with h5py.File(copy, "a") as f:
        _drop_masks(f)
        first = sorted(f)[0]
    X, masks, groups = load_change(copy, split="all")
    assert masks is None and len(X) == len(groups)
    assert QuakeSet(copy, split="all").read_masks(0) is None
    with pytest.raises(QuakeSetFormatError, match=rf"earthquakes.h5: patch '{first}/patch_0' has no change masks "
                                                  r"\(masks='required'\).*the real earthquakes.h5 has none: pass "
                                                  "masks='auto'"):
        load_change(copy, split="all", masks="required")


def test_file_with_masks_on_some_patches_only(copy):
    with h5py.File(copy, "a") as f:
        first = sorted(f)[0]
        _drop_masks(f, keep=lambda event, patch: event != first)
    with pytest.raises(QuakeSetFormatError, match=rf"patch '{first}/patch_0' has no change masks \('.*' has them\)"):
        load_change(copy, split="all")


@pytest.mark.parametrize("edit, message", [
    (lambda g: g.__delitem__("mask_post"),
     r"patch '{p}' has the masks \['mask_before', 'mask_earthquake', 'mask_pre'\] but not 'mask_post', which the "
     r"sample \('pre', 'post'\) needs"),
    (lambda g: (g.__delitem__("mask_pre"), g.create_dataset("mask_pre", data=np.zeros((3, 3), np.uint8))),
     r"mask '{p}/mask_pre' has shape \(3, 3\); expected \(32, 32\) like the images of its patch"),
    (lambda g: (g.__delitem__("mask_pre"), g.create_dataset("mask_pre", data=np.zeros((32, 32), "f4"))),
     r"mask '{p}/mask_pre' is dtype float32; expected a uint8 H x W dataset of 0 and 1"),
])
def test_bad_masks_name_the_patch(copy, edit, message):
    ds = QuakeSet(copy, split="all")
    i = next(i for i in range(len(ds)) if ds.labels[i] == 0)  # a patch with 'before'
    patch = f"{ds.groups[i]}/{ds.patches[i]}"
    with h5py.File(copy, "a") as f:
        edit(f[patch])
    with pytest.raises(QuakeSetFormatError, match="earthquakes.h5: " + message.format(p=patch)):
        load_change(copy, split="all")


def test_bad_arguments(tiny_quakeset):
    with pytest.raises(InvalidParameterError, match="'masks' parameter of load_change must be a str among"):
        load_change(tiny_quakeset, masks="yes")
    with pytest.raises(InvalidParameterError, match="'pool' parameter of load_change"):
        load_change(tiny_quakeset, pool=0)
    with pytest.raises(ValueError, match="pool=3 does not divide the image size 32 x 32"):
        load_change(tiny_quakeset, pool=3)


def test_masks_and_epicentres_are_not_read_from_a_cache_folder(tiny_quakeset, tmp_path):
    """The decoded cache holds images and labels only: one clear error, naming the folder."""
    from skquake.datasets import load_epicentre, make_cache, read_epicentres

    cache = make_cache(tiny_quakeset, tmp_path / "cache")
    for call in (lambda: load_change(cache), lambda: load_epicentre(cache), lambda: read_epicentres(cache)):
        with pytest.raises(ValueError, match=f"{cache} is a decoded cache folder"):
            call()
