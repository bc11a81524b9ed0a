"""Building-damage files: the generator, its command line, the reader and the 2-D layout."""
import pickle

import h5py
import numpy as np
import pytest

from skquake.datasets import (
    CLASS_NAMES,
    DEFAULT_METADATA_COLUMNS,
    DamageDataset,
    DamageFormatError,
    load_damage,
    make_damage_dataset,
    split_layout,
    to_layout,
)
from skquake.datasets.synthetic._cli import make_damage_main as main


M = len(DEFAULT_METADATA_COLUMNS)


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
    assert main([str(out), "--n-buildings", "30"]) == 2  # an existing output is a usage error
    assert "pass --overwrite" in capsys.readouterr().err


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
    with pytest.raises(ValueError, match="'split' parameter of DamageDataset must be a str among .*Got 'validation-set'"):
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
