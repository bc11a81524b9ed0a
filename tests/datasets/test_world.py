"""The synthetic world is consistent: epicentres, depths, footprints, signatures and masks agree."""
import h5py
import numpy as np
import pytest

from skquake.datasets import QuakeSet, load_change, load_epicentre, read_epicentres
from skquake.datasets._footprint import epicentre_on_patch
from skquake.datasets.synthetic import GENERATOR_VERSION, make_quakeset
from skquake.datasets.synthetic._signature import DEPTH_DISTRIBUTION, draw_depths, event_signature
from skquake.utils import to_decibels

SIZE = 32


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """24 events of 1-3 patches of 32 x 32: enough contained epicentres for the statistics."""
    return make_quakeset(tmp_path_factory.mktemp("world") / "world.h5", n_events=24, patch_size=SIZE,
                         patches_per_event=3, random_state=2)


def _positions(path):
    """Per positive sample of split "all": (contains, east, north, column, row) of its epicentre."""
    epicentres = read_epicentres(path)
    ds = QuakeSet(path, split="all")
    out = {}
    with h5py.File(path, "r") as f:
        for i in np.flatnonzero(ds.labels == 1):
            event, patch = str(ds.groups[i]), str(ds.patches[i])
            row = int(patch.split("_")[1])
            out[i] = epicentre_on_patch(f[event]["x"][row], f[event]["y"][row], *epicentres[event][:2])
    return ds, out


def test_file_records_the_generator_version(world):
    assert GENERATOR_VERSION == 2
    with h5py.File(world, "r") as f:
        assert f.attrs["generator_version"] == GENERATOR_VERSION
        assert f.attrs["generator_version"].dtype.kind == "i"


def test_signature_is_where_the_earthquake_mask_is(world):
    X, masks, _ = load_change(world, split="all", fill_value=None)
    labels = QuakeSet(world, split="all").labels
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.abs(to_decibels(X[:, 2:]) - to_decibels(X[:, :2])).mean(axis=1)  # (n, H, W)
    pos = labels == 1
    quake = masks[pos, 0] == 1
    inside, outside = np.nanmean(change[pos][quake]), np.nanmean(change[pos][~quake & (masks[pos, 1] == 0)])
    # speckle alone gives ~3.5 dB of |difference| between two dates; the signature adds to it
    assert inside > outside + 0.5, (inside, outside)
    assert np.all(masks[~pos, 0] == 0)  # negatives: no earthquake between before and pre
    # unrelated changes of negatives: the "any" mask marks the blobs
    blobs = masks[~pos, 1] == 1
    assert blobs.any()
    assert np.nanmean(change[~pos][blobs]) > np.nanmean(change[~pos][~blobs]) + 0.5
    assert 0.05 < quake.mean() < 0.6  # a localised area, not the whole patch and not nothing


def test_any_mask_is_the_union_of_the_stored_masks(world):
    ds = QuakeSet(world, split="all")
    _, masks, _ = load_change(world, split="all")
    with h5py.File(world, "r") as f:
        for i in range(len(ds)):
            group = f[ds.groups[i]][ds.patches[i]]
            t0, t1 = ("before", "pre") if ds.labels[i] == 0 else ("pre", "post")
            expected = group[f"mask_{t0}"][()] | group[f"mask_{t1}"][()]
            if ds.labels[i] == 1:
                np.testing.assert_array_equal(masks[i, 0], group["mask_earthquake"][()])
                expected = expected | group["mask_earthquake"][()]
            np.testing.assert_array_equal(masks[i, 1], expected)


def test_mask_centre_is_the_epicentre_pixel(world):
    """Weighted centre of the earthquake mask in the largest window centred on the epicentre
    pixel that fits the patch (so that the patch edge cuts the signature symmetrically)."""
    ds, positions = _positions(world)
    _, masks, _ = load_change(world, split="all")
    distances, from_centre = [], []
    for i, (contains, _, _, column, row) in positions.items():
        ci, cj = int(round(row)), int(round(column))
        half = min(ci, cj, SIZE - 1 - ci, SIZE - 1 - cj) if contains else -1
        window = masks[i, 0, ci - half:ci + half + 1, cj - half:cj + half + 1].astype(float) if half >= 4 else None
        if window is None or not window.any():
            continue
        rr, cc = np.mgrid[-half:half + 1, -half:half + 1]
        dy = (window * rr).sum() / window.sum() + ci - row
        dx = (window * cc).sum() / window.sum() + cj - column
        distances.append(np.hypot(dy, dx) / SIZE)
        from_centre.append(np.hypot(row - (SIZE - 1) / 2, column - (SIZE - 1) / 2) / SIZE)
    assert len(distances) >= 8
    assert np.median(distances) < 0.05 and max(distances) < 0.2, distances
    assert np.median(distances) < np.median(from_centre) / 3  # not the patch centre's pull


def test_containment_and_offsets_follow_the_footprint(world):
    ds, positions = _positions(world)
    _, y, _ = load_epicentre(world, split="all")
    half_km = SIZE * 0.01 / 2  # 10 m pixels
    contained = 0
    for i, (contains, east, north, column, row) in positions.items():
        assert y[i, 0] == float(contains)
        np.testing.assert_allclose(y[i, 1:3], (east, north))
        # square 10 m pixels, north up: the offset is the pixel offset from the patch centre
        np.testing.assert_allclose((east, north), (0.01 * (column - (SIZE - 1) / 2), -0.01 * (row - (SIZE - 1) / 2)),
                                   rtol=1e-3, atol=1e-6)
        inside = -0.5 <= column < SIZE - 0.5 and -0.5 <= row < SIZE - 0.5
        assert contains == inside
        if contains:
            contained += 1
            assert abs(east) <= half_km + 1e-9 and abs(north) <= half_km + 1e-9
        else:
            assert max(abs(east), abs(north)) > half_km - 1e-9
        # drawn up to 15 % of the patch outside it
        assert -0.15 * SIZE - 1e-6 <= row <= 1.15 * SIZE and -0.15 * SIZE - 1e-6 <= column <= 1.15 * SIZE
    assert 0.3 < contained / len(positions) < 0.85
    negatives = ds.labels == 0
    assert np.all(y[negatives, 0] == 0) and np.isnan(y[negatives, 1:]).all()


def test_depth_is_the_event_attribute_and_realistic(world):
    _, y, groups = load_epicentre(world, split="all")
    epicentres = read_epicentres(world)
    labels = QuakeSet(world, split="all").labels
    for i in np.flatnonzero(labels == 1):
        assert y[i, 3] == epicentres[groups[i]][2]
    depths = draw_depths(np.random.default_rng(0), 20000)
    low, high = DEPTH_DISTRIBUTION["range_km"]
    assert depths.min() >= low and depths.max() <= high
    assert 0.28 < np.mean(depths == DEPTH_DISTRIBUTION["default_depth_km"]) < 0.34
    assert 9 < np.median(depths) < 14 and np.mean(depths > 30) < 0.1
    np.testing.assert_array_equal(depths, np.round(depths, 1))


def test_deeper_sources_spread_wider_and_weaker():
    def signature(magnitude, depth):
        return event_signature(np.random.default_rng(0), magnitude, depth, 64, 1.0)  # same draws

    shallow, deep = signature(5.6, 2.0), signature(5.6, 40.0)
    assert deep[0] > 1.5 * shallow[0] and deep[1] < 0.6 * shallow[1]
    # a large rupture is barely affected by the same depth
    big_shallow, big_deep = signature(7.0, 2.0), signature(7.0, 40.0)
    assert big_deep[1] / big_shallow[1] > deep[1] / shallow[1]
    # magnitude still sets the size and strength
    assert signature(6.5, 10.0)[0] > signature(5.0, 10.0)[0]
    assert signature(6.5, 10.0)[1] > signature(5.0, 10.0)[1]


def test_no_signal_no_earthquake_mask(tiny_quakeset_factory):
    path = tiny_quakeset_factory(n_events=4, patch_size=16, signal_strength=0.0)
    _, masks, _ = load_change(path, split="all")
    assert not masks[:, 0].any() and masks[:, 1].any()


def test_torchgeo_loop_reads_the_file(tiny_quakeset):
    """TorchGeo 0.8's QuakeSet loop (torchgeo/datasets/quakeset.py), replicated: the new datasets
    (masks, 2-D coordinates, attributes) must not disturb it, and it must give skquake's samples."""
    for split, stored in (("train", "train"), ("val", "validation"), ("test", "test")):
        data = []
        with h5py.File(tiny_quakeset, "r") as f:
            for k in sorted(f.keys()):
                if f[k].attrs["split"] != stored:
                    continue
                for patch in sorted(f[k].keys()):
                    if patch not in ["x", "y"]:
                        data.append((k, patch, ("pre", "post"), 1, float(f[k].attrs["magnitude"])))
                        if "before" in f[k][patch].keys():
                            data.append((k, patch, ("before", "pre"), 0, 0.0))
            ds = QuakeSet(tiny_quakeset, split=split)
            assert len(data) == len(ds)
            for i, (k, patch, images, label, magnitude) in enumerate(data):
                arrays = [np.nan_to_num(f[k][patch][name][:], nan=0) for name in images]
                image = np.concatenate(arrays, axis=-1).astype(np.float32).transpose(2, 0, 1)
                sample = ds[i]
                np.testing.assert_array_equal(image, sample["image"])
                assert (label, magnitude) == (sample["label"], pytest.approx(sample["magnitude"]))


def test_torchgeo_itself_reads_the_file(tiny_quakeset, tmp_path):
    torchgeo = pytest.importorskip("torchgeo.datasets")
    (tmp_path / "earthquakes.h5").symlink_to(tiny_quakeset)
    tg = torchgeo.QuakeSet(root=str(tmp_path), split="train", download=False, checksum=False)
    ds = QuakeSet(tiny_quakeset, split="train")
    assert len(tg) == len(ds)
    for i in range(len(ds)):
        np.testing.assert_array_equal(tg[i]["image"].numpy(), ds[i]["image"])


def test_same_random_state_same_bytes(tmp_path):
    kwargs = dict(n_events=3, patch_size=8, patches_per_event=2)
    a = make_quakeset(tmp_path / "a.h5", random_state=7, **kwargs)
    b = make_quakeset(tmp_path / "b.h5", random_state=7, **kwargs)
    assert a.read_bytes() == b.read_bytes()  # masks, coordinates and attributes included
    c = make_quakeset(tmp_path / "c.h5", random_state=8, **kwargs)
    assert read_epicentres(c) != read_epicentres(a)
