"""``skquake fit`` then ``skquake predict --pre --post``: a saved model maps a GeoTIFF pair."""
import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")

from skquake.cli import main  # noqa: E402
from skquake.inference import predict_scene  # noqa: E402
from skquake.models import load_model  # noqa: E402

from .test_scene import CRS, quakeset_scene, read, write_tif  # noqa: E402


@pytest.fixture(scope="module")
def detector(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("scene-cli") / "rfc.skq"
    assert main(["fit", "rfc-change", "--data", str(tiny_quakeset), "--task", "detection-bitemporal",
                 "--out", str(out), "--seed", "0", "--set", "rf__n_estimators=10"]) == 0
    return out


@pytest.fixture
def scenes(tiny_quakeset, tmp_path):
    pre, post, _ = quakeset_scene(tiny_quakeset)
    return write_tif(tmp_path / "pre.tif", pre), write_tif(tmp_path / "post.tif", post)


def test_predict_maps_a_scene_pair_like_the_python_api(detector, scenes, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(["predict", str(detector), "--pre", str(scenes[0]), "--post", str(scenes[1]),
                 "--out", str(out), "--threshold", "0.6"]) == 0
    printed = capsys.readouterr().out
    assert "probability" in printed and "tiles.geojson" in printed
    prob, crs, _ = read(out / "probability.tif")
    assert crs.to_string() == CRS
    expected = predict_scene(load_model(detector), *scenes, tmp_path / "api", threshold=0.6)
    np.testing.assert_array_equal(prob, read(expected["probability"])[0])


@pytest.mark.parametrize("argv, message", [
    (["--out", "OUT"], "pass either --data"),
    (["--data", "DATA", "--post", "POST", "--out", "OUT"], "pass either --data"),
    (["--post", "POST", "--out", "OUT"], "bitemporal model: pass --pre"),
    (["--data", "DATA", "--pre", "PRE", "--out", "NEW"], "--pre goes with --post"),
    (["--pre", "PRE", "--post", "POST", "--out", "PRE"], "argument --out"),
    (["--pre", "PRE", "--post", "POST", "--out", "OUT", "--overlap", "1"], "argument --overlap"),
    (["--pre", "PRE", "--post", "POST", "--out", "OUT", "--units", "dbm"], "argument --units"),
    (["--pre", "PRE", "--post", "missing.tif", "--out", "OUT"], "argument --post"),
])
def test_bad_scene_commands_exit_2_naming_the_problem(detector, scenes, tiny_quakeset, tmp_path, capsys,
                                                      argv, message):
    subs = {"PRE": str(scenes[0]), "POST": str(scenes[1]), "DATA": str(tiny_quakeset),
            "OUT": str(tmp_path / "maps"), "NEW": str(tmp_path / "new.csv")}
    assert main(["predict", str(detector)] + [subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "maps").exists() and not (tmp_path / "new.csv").exists()
