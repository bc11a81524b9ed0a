"""``make_scene_pair`` / ``skquake make-scene``: GeoTIFF scenes tiled from a QuakeSet file."""
import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from skquake.cli import main  # noqa: E402
from skquake.datasets import QuakeSet  # noqa: E402
from skquake.datasets.synthetic import make_scene_pair  # noqa: E402


def test_tiles_are_the_files_samples_with_earthquakes_in_the_corner(tiny_quakeset, tmp_path):
    pre, post = make_scene_pair(tiny_quakeset, tmp_path / "scene", rows=3, cols=4, affected=2, random_state=1)
    with QuakeSet(tiny_quakeset, split="test", mode="bitemporal", fill_value=np.nan) as ds:
        samples = np.stack([ds[i]["image"] for i in range(len(ds))])
        labels = ds.labels
    size = samples.shape[-1]
    with rasterio.open(pre) as a, rasterio.open(post) as b:
        assert a.crs.to_string() == b.crs.to_string() == "EPSG:32637" and a.transform == b.transform
        assert a.transform.a == 10.0 and a.descriptions == ("VV", "VH") and a.tags()["units"] == "linear"
        image = np.concatenate([a.read(), b.read()])
    assert image.shape == (4, 3 * size, 4 * size)
    for i in range(3):
        for j in range(4):
            tile = image[:, i * size:(i + 1) * size, j * size:(j + 1) * size]
            match = [k for k in range(len(samples)) if np.array_equal(samples[k], tile, equal_nan=True)]
            assert match, f"tile ({i}, {j}) is no sample of the file"
            assert labels[match[0]] == (1 if i < 2 and j < 2 else 0)


def test_command_writes_the_pair_and_refuses_bad_input(tiny_quakeset, tmp_path, capsys):
    out = tmp_path / "scene"
    assert main(["make-scene", str(out), "--from", str(tiny_quakeset), "--rows", "2", "--cols", "2"]) == 0
    assert (out / "pre.tif").exists() and (out / "post.tif").exists()
    before = (out / "pre.tif").read_bytes()
    for argv, message in [
        ([str(out), "--from", str(tiny_quakeset)], "pass --overwrite"),
        ([str(out), "--from", str(tiny_quakeset), "--overwrite", "--rows", "0"], "--rows must be"),
        ([str(out), "--from", str(tmp_path / "missing.h5"), "--overwrite"], "argument --from"),
        ([str(out / "pre.tif"), "--from", str(tiny_quakeset)], "is a file, not a folder"),
        ([str(out), "--from", str(tiny_quakeset), "--overwrite", "--split", "nope"], "--split must be"),
    ]:
        assert main(["make-scene"] + argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert (out / "pre.tif").read_bytes() == before


def test_a_split_without_the_samples_a_scene_needs_is_refused():
    from skquake.datasets.synthetic._scene import _pick_samples

    with pytest.raises(ValueError, match="f.h5: split 'test' has 0 earthquake and 5 other samples"):
        _pick_samples(np.zeros(5, dtype=int), 2, 2, 1, 0, "f.h5", "test")
    tiles = _pick_samples(np.array([1, 0, 0]), 2, 3, 1, 0, "f.h5", "test")
    assert tiles[0, 0] == 0 and set(tiles.ravel()[1:]) <= {1, 2}  # drawn with replacement when short
