"""Bad files and bad paths for both readers and both writers: every error names the file and
the key and says what was expected; nothing is ever read wrongly or silently."""
import os
import re
import shutil

import h5py
import numpy as np
import pytest

import skquake.utils._io as io_module
from skquake.datasets import (
    DamageDataset,
    DamageFormatError,
    FileChangedError,
    HDF5FormatError,
    QuakeSet,
    QuakeSetFormatError,
    load_damage,
    load_quakeset,
    make_damage_dataset,
    make_quakeset,
    read_damage_layout,
)
from skquake.utils import InvalidParameterError, ResourceLimitError

EVENT = "20"


@pytest.fixture(scope="module")
def base_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_files_base")
    quakeset = root / "earthquakes.h5"
    with h5py.File(quakeset, "w") as f:  # two events, so that a broken one is never the only one
        for event, split, magnitude in ((EVENT, "train", 5.5), ("30", "test", 6.0)):
            g = f.create_group(event)
            g.attrs["split"] = split
            g.attrs["magnitude"] = magnitude
            for date in ("before", "pre", "post"):
                g.create_dataset(f"patch_0/{date}", data=np.ones((4, 4, 2), "f4"))
    damage = make_damage_dataset(root / "damage.h5", n_buildings=40, image_size=8)
    return quakeset, damage


@pytest.fixture
def quakeset_copy(base_files, tmp_path):
    return shutil.copy(base_files[0], tmp_path / "earthquakes.h5")


@pytest.fixture
def damage_copy(base_files, tmp_path):
    return shutil.copy(base_files[1], tmp_path / "damage.h5")


def _edit(path, edit):
    with h5py.File(path, "a") as f:
        edit(f)


def _attr(key, name, value, dtype=None):
    return lambda f: f[key].attrs.create(name, value, dtype=dtype)


def _replace(key, data):
    def edit(f):
        del f[key]
        f[key] = data
    return edit


# -- attributes in every form HDF5 tools write them -----------------------------------------
@pytest.mark.parametrize("edit", [
    _attr(EVENT, "split", "train"),
    _attr(EVENT, "split", np.bytes_(b"train")),
    _attr(EVENT, "split", np.array([b"train"])),  # 1-element array of fixed-length bytes
    _attr(EVENT, "split", np.array(["train"], dtype=h5py.string_dtype())),  # variable-length
    _attr(EVENT, "split", "train", dtype=h5py.string_dtype("ascii")),
    _attr(EVENT, "split", b"train", dtype=h5py.string_dtype("utf-8", 5)),
    _attr(EVENT, "magnitude", np.array([5.5])),
    _attr(EVENT, "magnitude", np.array([[5.5]], dtype="f4")),
    _attr(EVENT, "magnitude", "5.5"),
    _attr(EVENT, "magnitude", np.bytes_(b"5.5")),
], ids=["str", "bytes", "bytes-1", "vlen-1", "ascii", "fixed-utf8", "float-1", "float-1x1",
        "text", "bytes-number"])
def test_attribute_forms_are_decoded(quakeset_copy, edit):
    _edit(quakeset_copy, edit)
    ds = QuakeSet(quakeset_copy, split="train")
    assert list(ds.file_splits) == ["train", "train"] and list(ds.groups) == [EVENT, EVENT]
    assert ds.magnitudes[0] == np.float32(5.5)


@pytest.mark.parametrize("edit, message", [
    (_attr(EVENT, "split", 3), "non-text split: 3 .*expected a string"),
    (_attr(EVENT, "split", np.array([b"train", b"test"])),
     r"non-text split: an array of shape \(2,\).*expected a string"),
    (_attr(EVENT, "split", np.bytes_("tr\xe9in".encode("latin-1"))), "non-text split: bytes that are not UTF-8"),
    (_attr(EVENT, "split", h5py.Empty("S1")), "non-text split: an empty attribute"),
    (_attr(EVENT, "magnitude", 5.5 + 1j),
     r"non-numeric magnitude: the complex number \(5.5\+1j\).*expected a real number"),
    (_attr(EVENT, "magnitude", True), "non-numeric magnitude: the boolean True"),
    (_attr(EVENT, "magnitude", np.array([5.5, 6.0])), r"non-numeric magnitude: an array of shape \(2,\)"),
    (_attr(EVENT, "magnitude", h5py.Empty("f")), "non-numeric magnitude: an empty attribute"),
])
def test_bad_attributes_name_file_and_key(quakeset_copy, edit, message):
    _edit(quakeset_copy, edit)
    with pytest.raises(QuakeSetFormatError, match=f"event '{EVENT}' has a .*{message}") as info:
        QuakeSet(quakeset_copy, split="all")
    assert str(info.value).startswith(f"{quakeset_copy}: ")
    assert info.value.path == str(quakeset_copy) and info.value.key == f"/{EVENT}"


# -- links, groups, dtypes -------------------------------------------------------------------
@pytest.mark.parametrize("edit, message", [
    (_replace(f"{EVENT}/patch_0/pre", h5py.SoftLink("/nowhere")),
     f"'/{EVENT}/patch_0/pre' is a soft link to '/nowhere', which does not exist"),
    (_replace(f"{EVENT}/patch_0/post", h5py.ExternalLink("gone.h5", "/x")),
     f"'/{EVENT}/patch_0/post' is an external link to '/x' in gone.h5, but that file does not exist"),
    (lambda f: f.__setitem__("99", h5py.ExternalLink("gone.h5", "/event")),
     "'/99' is an external link to '/event' in gone.h5, but that file does not exist"),
    (_replace(f"{EVENT}/patch_0/post", h5py.ExternalLink("other.h5", "/missing")),
     "external link to '/missing' in other.h5, but that file has no object '/missing'"),
    (lambda f: (f[f"{EVENT}/patch_0"].__delitem__("post"), f[f"{EVENT}/patch_0"].create_group("post")),
     f"'/{EVENT}/patch_0/post' is a group; expected an H x W x 2 dataset"),
    (_replace(f"{EVENT}/patch_0/post", np.ones((4, 4, 2), np.complex64)),
     rf"'/{EVENT}/patch_0/post' is complex-valued \(complex64\).*never drops an imaginary part"),
    (_replace(f"{EVENT}/patch_0/before", np.full((4, 4, 2), b"a")),
     rf"'/{EVENT}/patch_0/before' has dtype \|S1; expected an H x W x 2 dataset of real"),
])
def test_links_groups_and_dtypes(quakeset_copy, edit, message):
    with h5py.File(quakeset_copy.parent / "other.h5", "w") as f:
        f["present"] = np.zeros(1)
    _edit(quakeset_copy, edit)
    with pytest.raises(QuakeSetFormatError, match=message) as info:
        QuakeSet(quakeset_copy, split="all")
    assert str(info.value).startswith(f"{quakeset_copy}: ")


def test_external_link_to_an_existing_image_is_read(quakeset_copy):
    with h5py.File(quakeset_copy.parent / "post.h5", "w") as f:
        f["post"] = np.full((4, 4, 2), 7.0, "f4")
    _edit(quakeset_copy, _replace(f"{EVENT}/patch_0/post", h5py.ExternalLink("post.h5", "/post")))
    ds = QuakeSet(quakeset_copy, split="train")
    assert ds[0]["image"][2:].min() == 7.0  # post is t1 of the positive


# -- the file changes after the dataset was opened ----------------------------------------------
@pytest.mark.parametrize("change, message", [
    ("truncate", "its size went from"),
    ("replace", "replaced by another file"),
    ("delete", "deleted or moved"),
])
@pytest.mark.parametrize("read_first", [False, True])
def test_quakeset_file_changed_after_open(tmp_path, change, message, read_first):
    path = make_quakeset(tmp_path / "q.h5", n_events=3, patch_size=8)
    ds = QuakeSet(path, split="all")
    if read_first:
        ds[0]  # the lazy handle is open
    if change == "truncate":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    elif change == "replace":
        make_quakeset(path, n_events=3, patch_size=8, random_state=1, overwrite=True)
    else:
        path.unlink()
    with pytest.raises(FileChangedError, match=f"QuakeSet file {re.escape(str(path))} changed on disk "
                                               f"since it was opened: .*{message}.*open it again") as info:
        ds[len(ds) - 1]
    assert info.value.filename == str(path)
    if change == "replace":  # a new dataset reads the new file
        assert len(QuakeSet(path, split="all")) > 0


def test_damage_file_changed_after_open(damage_copy):
    ds = DamageDataset(damage_copy, split="all")
    ds[0]
    with open(damage_copy, "r+b") as f:
        f.truncate(os.path.getsize(damage_copy) // 2)
    with pytest.raises(FileChangedError, match="damage file .*damage.h5 changed on disk"):
        ds.read_images()
    with pytest.raises(FileChangedError, match="damage file .*damage.h5 changed on disk"):
        ds[1]


# -- the damage reader -----------------------------------------------------------------------------
def test_damage_attribute_forms_are_decoded(damage_copy, base_files):
    columns = read_damage_layout(base_files[1])["metadata_columns"]

    def edit(f):
        f["metadata"].attrs["columns"] = np.array([c.encode() for c in columns])  # fixed-length bytes
        f["images"].attrs["channels"] = "gray"  # one string: a list of one
        f["images"].attrs["scale"] = np.array([b"0.5"])
        f["label"].attrs["class_names"] = np.array(["a", "b", "c", "d"], dtype=h5py.string_dtype("ascii"))
        labels = f["label"][...].astype("f8")  # whole-valued floats are labels too
        del f["label"]
        f["label"] = labels
    _edit(damage_copy, edit)
    ds = DamageDataset(damage_copy, split="all")
    assert ds.metadata_columns == columns and ds.channels == ("gray",)
    assert ds.labels.dtype == np.int64 and ds.read_images().max() <= 0.5 * 255


@pytest.mark.parametrize("edit, message", [
    (_attr("metadata", "columns", np.arange(22)), "'metadata' has a malformed columns: a list whose item 0 is 0"),
    (_attr("metadata", "columns", np.array([[b"a", b"b"]])), r"malformed columns: an array of shape \(1, 2\)"),
    (_attr("metadata", "columns", np.array([b"\xff"] * 22)), "item 0 is bytes that are not UTF-8"),
    (_attr("images", "scale", 0.5j), "'images' has a non-numeric scale: the complex number"),
    (_attr("images", "scale", 0.0), "'images' has scale 0.0; expected a positive number"),
    (_replace("images", np.ones((40, 3, 8, 8), np.complex64)), r"'/images' is complex-valued \(complex64\)"),
    (_replace("metadata", np.ones((40, 22), np.complex128)), r"'/metadata' is complex-valued"),
    (_replace("label", np.full(40, 1.5)), "'/label' holds values that are not whole numbers"),
    (_replace("images", h5py.SoftLink("/nowhere")), "'/images' is a soft link to '/nowhere'"),
    (_replace("metadata", h5py.ExternalLink("gone.h5", "/metadata")),
     "'/metadata' is an external link to '/metadata' in gone.h5, but that file does not exist"),
])
def test_bad_damage_files_name_file_and_key(damage_copy, edit, message):
    _edit(damage_copy, edit)
    for read in (lambda: DamageDataset(damage_copy, split="all"), lambda: read_damage_layout(damage_copy),
                 lambda: load_damage(damage_copy)):
        with pytest.raises(DamageFormatError, match=message) as info:
            read()
        assert str(info.value).startswith(f"{damage_copy}: ") and isinstance(info.value, HDF5FormatError)


# -- arguments and paths -----------------------------------------------------------------------------
@pytest.mark.parametrize("split", [["train"], ("train", "test"), b"train", None, 1])
def test_split_that_is_not_a_string(base_files, split):
    quakeset, damage = base_files
    for read, path, name in ((QuakeSet, quakeset, "QuakeSet"), (load_quakeset, quakeset, "load_quakeset"),
                             (DamageDataset, damage, "DamageDataset"), (load_damage, damage, "load_damage")):
        with pytest.raises(InvalidParameterError, match=f"'split' parameter of {name} must be a str among "
                                                        r"\{.*'train'.*\}. Got"):
            read(path, split=split)


def test_folder_given_for_a_file(tmp_path, base_files):
    shutil.copy(base_files[0], tmp_path / "earthquakes.h5")
    for read in (QuakeSet, load_quakeset, DamageDataset, load_damage, read_damage_layout):
        with pytest.raises(IsADirectoryError, match=f"{re.escape(str(tmp_path))} is a folder, not a file"
                                                    ".*earthquakes.h5"):
            read(tmp_path)
    for write in (make_quakeset, make_damage_dataset):
        with pytest.raises(IsADirectoryError, match=f"{re.escape(str(tmp_path))} is a folder"):
            write(tmp_path)
        with pytest.raises(FileExistsError, match="earthquakes.h5 already exists; pass overwrite=True"):
            write(tmp_path / "earthquakes.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["earthquakes.h5"]


# -- sizes that cannot fit -------------------------------------------------------------------------
def test_writers_refuse_what_cannot_fit(tmp_path, monkeypatch):
    with pytest.raises(ResourceLimitError, match=r"make_quakeset\(n_events=1, patch_size=1000000\): "
                                                 r"simulating one 1000000 x 1000000 patch .* needs about "
                                                 r"116.4 TiB of memory at once, but only .* is available; "
                                                 "choose a smaller patch_size") as info:
        make_quakeset(tmp_path / "q.h5", n_events=1, patch_size=10**6)
    assert info.value.parameters == ("patch_size", "n_events") and info.value.resource == "memory"
    with pytest.raises(ResourceLimitError, match=r"image_size=100000\) needs about .* of memory"):
        make_damage_dataset(tmp_path / "d.h5", n_buildings=20, image_size=10**5)
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ResourceLimitError, match=r"make_quakeset\(n_events=4, patches_per_event=2, "
                                                 r"patch_size=8\): up to 8 patches of 3 images needs about "
                                                 ".* of disk space in .*, but only 1000 bytes is free"):
        make_quakeset(tmp_path / "q.h5", n_events=4, patch_size=8)
    with pytest.raises(ResourceLimitError, match="disk space"):
        make_damage_dataset(tmp_path / "d.h5", n_buildings=20, image_size=8)
    with pytest.raises(InvalidParameterError, match="'n_events' parameter of make_quakeset must be at most"):
        make_quakeset(tmp_path / "q.h5", n_events=10**9, patch_size=8)  # more than the distinct ids
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_loaders_refuse_what_cannot_fit(base_files, monkeypatch):
    monkeypatch.setattr(io_module, "available_memory", lambda: 100)
    with pytest.raises(ResourceLimitError, match=r"load_quakeset\(.*pool=1\): X of shape \(2, 4, 4, 4\) "
                                                 "needs about .* but only 100 bytes is available; pass a "
                                                 "larger pool, or read lazily"):
        load_quakeset(base_files[0])
    with pytest.raises(ResourceLimitError, match=r"load_damage\(.*\): X of shape"):
        load_damage(base_files[1])
