"""``skquake fit`` -> ``skquake predict`` on tiny synthetic files, the Python API, bad inputs."""
import csv

import numpy as np
import pytest

from skquake.cli import main
from skquake.datasets import QuakeSet, load_quakeset
from skquake.inference import fit_model, predict_file
from skquake.models import load_model, read_manifest
from skquake.utils import average_pool


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def svr_file(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "svr.skq"
    assert main(["fit", "svr-rbf", "--data", str(tiny_quakeset), "--task", "magnitude-bitemporal",
                 "--out", str(out), "--seed", "3", "--set", "svr__C=2.0"]) == 0
    return out


def test_fit_records_the_training_and_test_metrics(svr_file, tiny_quakeset):
    manifest = read_manifest(svr_file)
    assert manifest["task"] == "magnitude-bitemporal" and manifest["model"]["name"] == "svr-rbf"
    assert manifest["model"]["params"] == {"svr__C": 2.0, "pca__random_state": 3}
    assert manifest["data"]["splits"] == ["train"] and manifest["input"]["mode"] == "bitemporal"
    est = load_model(svr_file)
    X, y, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    mae = float(np.mean(np.abs(est.predict(X) - y)))
    assert manifest["metrics"]["mae"] == pytest.approx(mae)
    assert set(manifest["metrics"]) == {"mae", "rmse", "spearman", "magnitude_accuracy"}


@pytest.mark.parametrize("batch_size", ["3", "64"])
def test_predict_matches_the_model_for_any_batch_size(svr_file, tiny_quakeset, tmp_path, capsys, batch_size):
    out = tmp_path / "p.csv"
    assert main(["predict", str(svr_file), "--data", str(tiny_quakeset), "--out", str(out),
                 "--batch-size", batch_size]) == 0
    rows = _rows(out)
    X, _, groups = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    assert f"{len(rows)} predictions written" in capsys.readouterr().out
    assert len(rows) == len(X) and [r["event_id"] for r in rows] == list(groups)
    assert {r["split"] for r in rows} == {"test"}
    np.testing.assert_allclose([float(r["magnitude"]) for r in rows], load_model(svr_file).predict(X), rtol=1e-5)


def test_single_mode_pooled_classifier(tiny_quakeset, tmp_path):
    model = tmp_path / "d.skq"
    manifest = fit_model("rfc-change", tiny_quakeset, model, task="detection-single", pool=2,
                         train_on="train+val", params={"rf__n_estimators": 10}, seed=0)
    assert manifest["input"] == {"mode": "single", "pool": 2, "shape": [2, 16, 16], "source_shape": [2, 32, 32]}
    assert manifest["data"]["splits"] == ["train", "val"] and set(manifest["metrics"]) == {"accuracy", "f1"}
    out = tmp_path / "d.csv"
    assert predict_file(model, tiny_quakeset, out, split="all", batch_size=5) == len(_rows(out))
    rows = _rows(out)
    with QuakeSet(tiny_quakeset, split="all", mode="single") as ds:
        X = np.stack([average_pool(ds.read_image(i), 2) for i in range(len(ds))])
        assert [r["sample"] == "pre/post" for r in rows] == list(ds.labels == 1)
    est = load_model(model)
    np.testing.assert_array_equal([int(r["label"]) for r in rows], est.predict(X))
    np.testing.assert_allclose([float(r["probability"]) for r in rows], est.predict_proba(X)[:, 1], atol=1e-6)


def test_deep_model_end_to_end(tiny_quakeset, tmp_path):
    model = tmp_path / "r.skq"
    assert main(["fit", "resnet10t-rank", "--data", str(tiny_quakeset), "--task", "magnitude-bitemporal",
                 "--out", str(model), "--set", "max_epochs=1", "--set", "batch_size=8", "--json"]) == 0
    out = tmp_path / "r.csv"
    assert main(["predict", str(model), "--data", str(tiny_quakeset), "--out", str(out), "--batch-size", "4"]) == 0
    X, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    np.testing.assert_allclose([float(r["magnitude"]) for r in _rows(out)], load_model(model).predict(X), rtol=1e-4)


def test_predict_refuses_other_image_sizes(svr_file, tiny_quakeset_factory, tmp_path, capsys):
    other = tiny_quakeset_factory(patch_size=16)
    out = tmp_path / "x.csv"
    assert main(["predict", str(svr_file), "--data", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bitemporal images of 4 x 16 x 16" in err and "takes bitemporal images of 4 x 32 x 32" in err
    assert str(svr_file) in err and not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["fit", "rfc-change", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW"],
     "'rfc-change' is a detection model; task 'magnitude-single' takes magnitude models"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "nope", "--out", "NEW"], "argument --task: invalid choice"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "MODEL"], "argument --out"),
    (["fit", "svr-rbf", "--data", "missing.h5", "--task", "magnitude-single", "--out", "NEW"], "argument --data"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--set", "x"],
     "argument --set: expected NAME=VALUE"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--pool", "0"],
     "argument --pool"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--pool", "3"],
     "--pool 3 does not divide"),
    (["predict", "DATA", "--data", "DATA", "--out", "NEW"], "not a skquake model file"),
    (["predict", "MODEL", "--data", "DATA", "--out", "MODEL"], "argument --out"),
    (["predict", "MODEL", "--data", "DATA", "--out", "NEW", "--batch-size", "0"], "argument --batch-size"),
    (["predict", "MODEL", "--data", "DATA", "--out", "NEW", "--split", "nope"], "argument --split"),
    (["predict", "missing.skq", "--data", "DATA", "--out", "NEW"], "argument model"),
])
def test_bad_inputs(svr_file, tiny_quakeset, tmp_path, capsys, argv, message):
    subs = {"DATA": str(tiny_quakeset), "MODEL": str(svr_file), "NEW": str(tmp_path / "new")}
    assert main([subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "new").exists()


def test_tune_refit_writes_a_loadable_model(tiny_quakeset, tmp_path):
    out = tmp_path / "tuned.skq"
    argv = ["tune", "rfr", "--data", str(tiny_quakeset), "--n-trials", "1", "--cv", "2", "--quiet",
            "--storage", f"sqlite:///{tmp_path / 'o.db'}", "--set", "rf__n_estimators=5", "--refit", str(out)]
    assert main(argv) == 0
    est, manifest = load_model(out, return_manifest=True)
    assert manifest["model"]["name"] == "rfr" and manifest["task"] == "magnitude-bitemporal"
    assert manifest["model"]["params"]["rf__n_estimators"] == 5 and manifest["data"]["splits"] == ["train"]
    assert est.get_params()["rf__n_estimators"] == 5
    pred = tmp_path / "t.csv"
    assert main(["predict", str(out), "--data", str(tiny_quakeset), "--out", str(pred)]) == 0
    X, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    np.testing.assert_allclose([float(r["magnitude"]) for r in _rows(pred)], est.predict(X), rtol=1e-5)
