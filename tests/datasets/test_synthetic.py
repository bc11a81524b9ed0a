"""The synthetic QuakeSet generator: layout, realism, determinism, safe writing, CLI."""
import os

import h5py
import numpy as np
import pytest

from skquake.datasets.synthetic import _quakeset as synthetic
from skquake.datasets import QuakeSet, load_quakeset
from skquake.datasets.synthetic import make_quakeset
from skquake.utils import to_decibels


def _contents(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            out[name + "@attrs"] = dict(obj.attrs)
        f.visititems(visit)
    return out


def _same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], dict):
            if a[k] != b[k]:
                return False
        elif not np.array_equal(a[k], b[k], equal_nan=True):
            return False
    return True


def test_layout(tiny_quakeset):
    with h5py.File(tiny_quakeset, "r") as f:
        assert len(f) == 12
        for key, event in f.items():
            assert key.isdigit()
            assert event.attrs["split"] in ("train", "validation", "test")
            assert isinstance(event.attrs["split"], str)
            assert 4.0 < float(event.attrs["magnitude"]) < 9.0
            patches = sorted(k for k in event if k not in ("x", "y"))
            assert 1 <= len(patches) <= 3
            assert patches == [f"patch_{i}" for i in range(len(patches))]
            # per-patch pixel-centre coordinates: row p belongs to patch_p
            assert event["x"].shape == (len(patches), 32) and event["y"].shape == (len(patches), 32)
            assert set(event.attrs) == {"split", "magnitude", "epicentre_longitude", "epicentre_latitude",
                                        "depth_km"}
            for p in patches:
                names = set(event[p])
                images = {n for n in names if not n.startswith("mask_")}
                assert images in ({"pre", "post"}, {"before", "pre", "post"})
                assert names - images == {f"mask_{n}" for n in images} | {"mask_earthquake"}
                for name in names - images:
                    assert event[p][name].shape == (32, 32) and event[p][name].dtype == np.uint8
                for name in images:
                    img = event[p][name][()]
                    assert img.shape == (32, 32, 2) and img.dtype == np.float32
                    valid = img[~np.isnan(img)]
                    assert valid.size and np.all(valid > 0) and np.all(np.isfinite(valid))
                    # no-data covers both channels of a pixel, as in real products
                    np.testing.assert_array_equal(np.isnan(img[..., 0]), np.isnan(img[..., 1]))


def test_backscatter_levels_are_sar_like(tiny_quakeset):
    X, _, _ = load_quakeset(tiny_quakeset, split="all", fill_value=None)
    db = to_decibels(X)
    vv, vh = db[:, [0, 2]], db[:, [1, 3]]
    assert -16 < np.nanmedian(vv) < -4
    assert -24 < np.nanmedian(vh) < -11
    assert np.nanmedian(vv - vh) > 4  # co-pol above cross-pol
    # water is dark, urban bright: a wide dynamic range within images
    assert np.nanpercentile(vv, 99) - np.nanpercentile(vv, 1) > 20
    # speckle: ~4.4-look gamma, so the coefficient of variation of linear values is large
    lin = X[:, 0][~np.isnan(X[:, 0])]
    assert np.std(lin) / np.mean(lin) > 0.5


def test_magnitudes_and_splits():
    rng = np.random.default_rng(0)
    mags = synthetic._magnitudes(rng, 3000)
    assert np.all(mags > 4.0)
    assert abs(mags.mean() - 5.64) < 0.03 and abs(mags.std() - 0.44) < 0.03
    splits = synthetic._splits(rng, mags)
    frac = {s: np.mean(splits == s) for s in ("train", "validation", "test")}
    assert abs(frac["train"] - 0.70) < 0.01 and abs(frac["validation"] - 0.15) < 0.01
    # stratified by magnitude: every split has a similar magnitude distribution
    for s in ("train", "validation", "test"):
        q = np.percentile(mags[splits == s], [10, 50, 90])
        np.testing.assert_allclose(q, np.percentile(mags, [10, 50, 90]), atol=0.05)
    # tiny files still get every split
    for n in (3, 4, 7):
        assert set(synthetic._splits(rng, synthetic._magnitudes(rng, n))) == {"train", "validation", "test"}


def test_earthquake_signature_grows_with_magnitude(tiny_quakeset_factory):
    path = tiny_quakeset_factory(n_events=80, patch_size=16, patches_per_event=2, random_state=3)
    ds = QuakeSet(path, split="all")
    X, _, _ = load_quakeset(path, split="all", fill_value=None)
    with h5py.File(path, "r") as f:
        patches = [f[k][p] for k in f for p in f[k] if p not in ("x", "y")]
        assert 0.65 < np.mean(["before" in p for p in patches]) < 0.92
    with np.errstate(invalid="ignore"):
        change = np.nanmean(np.abs(to_decibels(X[:, 2:]) - to_decibels(X[:, :2])), axis=(1, 2, 3))
    pos = ds.labels == 1
    # positives (pre -> post) change more than negatives (before -> pre) on average ...
    assert change[pos].mean() > change[~pos].mean() + 0.15
    # ... and more for larger earthquakes, but magnitude is far from a function of it
    r = np.corrcoef(ds.magnitudes[pos], change[pos])[0, 1]
    assert 0.2 < r < 0.9, r


def _mean_abs_change(path):
    X, y, _ = load_quakeset(path, split="all", fill_value=None)
    with np.errstate(invalid="ignore"):
        change = np.nanmean(np.abs(to_decibels(X[:, 2:]) - to_decibels(X[:, :2])), axis=(1, 2, 3))
    return change[y == 1].mean() - change[y == 0].mean()


def test_signal_strength_scales_the_signature(tiny_quakeset_factory):
    kw = dict(n_events=40, patch_size=16, random_state=5)
    gap = {s: _mean_abs_change(tiny_quakeset_factory(signal_strength=s, **kw)) for s in (0.0, 1.0, 2.0)}
    assert abs(gap[0.0]) < 0.15  # without a signature the classes differ by chance only
    assert gap[0.0] + 0.15 < gap[1.0] < gap[2.0]


def test_deterministic(tiny_quakeset, tiny_quakeset_factory):
    again = tiny_quakeset_factory()  # the fixture's parameters, another path
    assert _same(_contents(tiny_quakeset), _contents(again))
    other = tiny_quakeset_factory(random_state=1)
    assert not _same(_contents(tiny_quakeset), _contents(other))
    gen = tiny_quakeset_factory(random_state=np.random.default_rng(0))
    assert _same(_contents(tiny_quakeset), _contents(gen))


def test_no_overwrite_unless_asked(tmp_path):
    path = tmp_path / "q.h5"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="q.h5"):
        make_quakeset(path, n_events=3, patch_size=8)
    assert path.read_bytes() == b"precious"
    make_quakeset(path, n_events=3, patch_size=8, overwrite=True)
    assert len(QuakeSet(path, split="all")) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.h5"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temp file's private 0600


@pytest.mark.parametrize("existing", [False, True])
def test_crash_mid_write_leaves_nothing(tmp_path, monkeypatch, existing):
    path = tmp_path / "q.h5"
    if existing:
        path.write_bytes(b"precious")
    calls = []
    real = synthetic._write_event

    def crash_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # also covers non-Exception interruptions
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "_write_event", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        make_quakeset(path, n_events=5, patch_size=8, overwrite=True)
    assert len(calls) == 3
    if existing:
        assert path.read_bytes() == b"precious"
    else:
        assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["q.h5"] if existing else [])


def test_atomic_output(tmp_path):
    from skquake.utils import atomic_output

    path = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(path) as tmp:
            assert tmp.parent == tmp_path and tmp != path
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(path) as tmp:
        tmp.write_bytes(b"whole")
        assert not path.exists()  # nothing at the target until the block completes
    assert path.read_bytes() == b"whole"
    with pytest.raises(FileExistsError, match="out.bin"):
        with atomic_output(path):
            pass
    with pytest.raises(IsADirectoryError):
        with atomic_output(tmp_path):
            pass


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_events=0), r"'n_events' parameter of make_quakeset must be an int in the range \[1, inf\)"),
    (dict(patch_size=2.5), r"'patch_size' parameter of make_quakeset must be an int in the range \[4, inf\)"),
    (dict(patches_per_event=True), "'patches_per_event' parameter of make_quakeset must be an int.*Got True"),
    (dict(before_fraction=1.5), r"'before_fraction' parameter of make_quakeset must be a float in the range \[0.0, 1.0\]"),
    (dict(signal_strength=-1), r"'signal_strength' parameter of make_quakeset must be a float in the range \[0.0, inf\]"),
    (dict(signal_strength=float("nan")), "'signal_strength' parameter of make_quakeset must be a float.*Got nan"),
    (dict(signal_strength="strong"), "'signal_strength' parameter of make_quakeset must be a float.*Got 'strong'"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_quakeset(tmp_path / "q.h5", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        make_quakeset(tmp_path / "nope" / "q.h5", n_events=2, patch_size=8)


def test_cli(tmp_path, capsys):
    from skquake.cli import main as skquake_main

    path = tmp_path / "cli.h5"
    argv = ["make-quakeset", str(path), "--n-events", "6", "--patch-size", "8",
            "--patches-per-event", "1", "--random-state", "4"]
    assert skquake_main(argv) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "6 events" in out
    assert _same(_contents(path), _contents(make_quakeset(tmp_path / "api.h5", n_events=6,
                                                          patch_size=8, patches_per_event=1,
                                                          random_state=4)))
    assert skquake_main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert skquake_main(argv + ["--overwrite"]) == 0
