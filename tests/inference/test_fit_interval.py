"""``skquake fit --interval``: split-conformal magnitude intervals saved with the model, written by
``skquake predict`` as ``lower`` and ``upper``."""
import csv

import numpy as np
import pytest

from skquake.cli import main
from skquake.datasets import load_quakeset
from skquake.inference import fit_model, predict_file, split_half_width
from skquake.metrics import coverage_score
from skquake.models import create_model, load_model, read_manifest, save_model
from skquake.uncertainty import ConformalRegressor

pytest.importorskip("mapie")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def interval_file(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("interval") / "svr.skq"
    assert main(["fit", "svr-rbf", "--data", str(tiny_quakeset), "--task", "magnitude-bitemporal",
                 "--out", str(out), "--seed", "0", "--interval", "0.8"]) == 0
    return out


def test_manifest_records_the_interval_and_its_test_coverage(interval_file, tiny_quakeset):
    manifest = read_manifest(interval_file)
    record = manifest["interval"]
    X, y, groups = load_quakeset(tiny_quakeset, split="train", target="magnitude")
    assert record["method"] == "split" and record["confidence_level"] == 0.8
    assert record["conformity_score"] == "absolute" and record["random_state"] == 0
    assert record["n_fit"] + record["n_calibration"] == len(y) and record["n_calibration"] >= 5
    assert 1 <= record["calibration_events"] < len(np.unique(groups)) and record["half_width"] > 0
    X_test, y_test, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    pred = load_model(interval_file).predict(X_test)
    q = record["half_width"]
    metrics = manifest["metrics"]
    assert metrics["coverage"] == pytest.approx(coverage_score(y_test, np.column_stack([pred - q, pred + q])))
    assert 0 <= metrics["coverage"] <= 1 and metrics["interval_width"] == pytest.approx(2 * q)
    assert {"mae", "rmse", "spearman", "magnitude_accuracy"} < set(metrics)


def test_saved_interval_is_the_conformal_regressors(interval_file, tiny_quakeset):
    # The same ConformalRegressor, refitted with the recorded settings, gives bit-identical bounds.
    manifest = read_manifest(interval_file)
    X, y, groups = load_quakeset(tiny_quakeset, split="train", target="magnitude")
    reg = ConformalRegressor(create_model("svr-rbf", **manifest["model"]["params"]), method="split",
                             confidence_level=0.8, cv=manifest["interval"]["calibration_fraction"],
                             random_state=0).fit(X, y, groups=groups)
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    pred = load_model(interval_file).predict(X_test)
    q = manifest["interval"]["half_width"]
    assert split_half_width(reg, X, y) == q
    np.testing.assert_array_equal(np.column_stack([pred - q, pred + q]), reg.predict_interval(X_test))


def test_split_half_width_reproduces_predict_interval_exactly():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=300)
    groups = np.arange(300) // 3
    for level in (0.5, 0.9, 0.95):
        reg = ConformalRegressor(Ridge(), confidence_level=level, random_state=2).fit(X, y, groups=groups)
        q = split_half_width(reg, X, y)
        pred = reg.predict(X)
        np.testing.assert_array_equal(np.column_stack([pred - q, pred + q]), reg.predict_interval(X))


@pytest.mark.parametrize("batch_size", ["4", "64"])
def test_predict_writes_lower_and_upper(interval_file, tiny_quakeset, tmp_path, batch_size):
    out = tmp_path / "p.csv"
    assert main(["predict", str(interval_file), "--data", str(tiny_quakeset), "--out", str(out),
                 "--batch-size", batch_size]) == 0
    rows = _rows(out)
    assert list(rows[0])[-3:] == ["magnitude", "lower", "upper"]
    mag, lower, upper = (np.array([float(r[k]) for r in rows]) for k in ("magnitude", "lower", "upper"))
    assert np.all(lower <= mag) and np.all(mag <= upper)
    q = read_manifest(interval_file)["interval"]["half_width"]
    np.testing.assert_allclose((upper - lower) / 2, q, rtol=1e-5)
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    pred = load_model(interval_file).predict(X_test)
    np.testing.assert_allclose(lower, pred - q, rtol=1e-5, atol=1e-5)


def test_a_model_without_interval_has_no_bounds(tiny_quakeset, tmp_path):
    model = tmp_path / "m.skq"
    manifest = fit_model("rfr", tiny_quakeset, model, task="magnitude-single", params={"rf__n_estimators": 5},
                         seed=0)
    assert "interval" not in manifest and "coverage" not in manifest["metrics"]
    out = tmp_path / "m.csv"
    predict_rows = main(["predict", str(model), "--data", str(tiny_quakeset), "--out", str(out)])
    assert predict_rows == 0 and list(_rows(out)[0])[-1] == "magnitude"


@pytest.mark.parametrize("argv, message", [
    (["fit", "rfc", "--data", "DATA", "--task", "detection-bitemporal", "--out", "NEW", "--interval", "0.9"],
     "--interval 0.9 gives magnitude intervals; task 'detection-bitemporal' is a detection task"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--interval", "1.5"],
     "argument --interval"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--interval", "0"],
     "argument --interval"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--interval", "x"],
     "argument --interval"),
    (["fit", "svr-rbf", "--data", "DATA", "--task", "magnitude-single", "--out", "NEW", "--interval", "0.99",
      "--seed", "0"], "--interval 0.99 cannot be calibrated on this training set"),
])
def test_bad_interval_flags(tiny_quakeset, tmp_path, capsys, argv, message):
    subs = {"DATA": str(tiny_quakeset), "NEW": str(tmp_path / "new")}
    assert main([subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "new").exists()


def test_save_model_refuses_an_incomplete_interval(tmp_path):
    from sklearn.linear_model import Ridge

    est = Ridge().fit(np.zeros((3, 2)), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="'half_width' and 'confidence_level'"):
        save_model(est, tmp_path / "r.skq", model="rfr", interval={"half_width": 1.0})
    assert not (tmp_path / "r.skq").exists()


def test_deep_regressor_with_interval(tiny_quakeset, tmp_path):
    model = tmp_path / "r.skq"
    manifest = fit_model("resnet10t-mse", tiny_quakeset, model, task="magnitude-bitemporal", seed=0,
                         params={"max_epochs": 1, "batch_size": 8}, interval=0.8)
    q = manifest["interval"]["half_width"]
    assert q > 0 and manifest["metrics"]["interval_width"] == pytest.approx(2 * q)
    out = tmp_path / "r.csv"
    predict_file(model, tiny_quakeset, out, batch_size=4)
    rows = _rows(out)
    X_test, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    np.testing.assert_allclose([float(r["upper"]) for r in rows], load_model(model).predict(X_test) + q, rtol=1e-4)
