"""``skquake fit`` / ``skquake predict --data`` for the change and epicentre tasks (QuakeSet tasks
3, 4 and 7): the tasks come from the benchmark's registry, change masks to HDF5, epicentre
positions in degrees, the epicentre table, and the errors."""
import csv

import h5py
import numpy as np
import pytest

from skquake.benchmark import TASKS
from skquake.cli import main
from skquake.datasets import QuakeSet, load_change, load_epicentre, read_epicentres
from skquake.datasets.synthetic import write_epicentre_table
from skquake.inference import QUAKESET_TASKS, fit_model, predict_file
from skquake.metrics import get_metric
from skquake.models import load_model, read_manifest
from skquake.utils import average_pool, haversine_km, lonlat_offset

RF = ["--set", "epicentre__classifier__n_estimators=10", "--set", "epicentre__regressor__regressor__n_estimators=10"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _inputs(path, split, mode, pool):
    """The images of ``split`` as predict_file reads them: the manifest's mode and pooling."""
    with QuakeSet(path, split=split, mode=mode) as ds:
        return np.stack([average_pool(ds.read_image(i), pool) for i in range(len(ds))])


@pytest.fixture(scope="module")
def change_model(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("change") / "c.skq"
    assert main(["fit", "change-logratio-otsu", "--data", str(tiny_quakeset), "--task", "change-bitemporal",
                 "--out", str(out), "--pool", "2"]) == 0
    return out


def test_the_tasks_are_the_benchmarks_quakeset_tasks():
    assert set(QUAKESET_TASKS) == {name for name, task in TASKS.items() if task.data_option == "data"}
    assert {"change-bitemporal", "epicentre-bitemporal", "epicentre-single"} <= set(QUAKESET_TASKS)
    assert "damage" not in QUAKESET_TASKS
    assert QUAKESET_TASKS["epicentre-single"] == ("epicentre", "single", "epicentre")
    assert QUAKESET_TASKS["magnitude-bitemporal"] == ("magnitude", "bitemporal", "magnitude")


def test_change_fit_scores_the_test_split_as_the_benchmark(change_model, tiny_quakeset):
    manifest = read_manifest(change_model)
    assert manifest["task"] == "change-bitemporal" and manifest["input"]["shape"] == [4, 16, 16]
    assert set(manifest["metrics"]) == set(TASKS["change-bitemporal"].metrics)
    X, masks, _ = load_change(tiny_quakeset, split="test", pool=2)
    y_pred = load_model(change_model).predict(X)
    for name in ("change_iou_quake", "changed_fraction"):
        assert manifest["metrics"][name] == pytest.approx(get_metric(name).compute(masks, y_pred))


def test_change_predict_writes_the_masks(change_model, tiny_quakeset, tmp_path, capsys):
    out, masks = tmp_path / "c.csv", tmp_path / "m.h5"
    assert main(["predict", str(change_model), "--data", str(tiny_quakeset), "--out", str(out), "--masks",
                 str(masks), "--split", "all", "--batch-size", "7"]) == 0
    assert f"their masks to {masks}" in capsys.readouterr().out
    rows = _rows(out)
    expected = load_model(change_model).predict(_inputs(tiny_quakeset, "all", "bitemporal", 2))
    with h5py.File(masks, "r") as f:
        assert f["masks"].dtype == np.uint8 and f["masks"].shape == (len(rows), 16, 16)
        np.testing.assert_array_equal(f["masks"][()], expected)
        assert f.attrs["pool"] == 2 and f.attrs["task"] == "change-bitemporal"
        np.testing.assert_array_equal(f["index"][()], np.arange(len(rows)))
        for name in ("event_id", "patch", "split", "sample"):
            assert f[name].asstr()[()].tolist() == [r[name] for r in rows]
    assert list(rows[0])[5:] == ["changed_fraction", "changed_pixels"]
    pixels = expected.reshape(len(expected), -1).sum(axis=1)
    assert [int(r["changed_pixels"]) for r in rows] == pixels.tolist() and pixels.any()
    np.testing.assert_allclose([float(r["changed_fraction"]) for r in rows], pixels / 256, rtol=1e-5)


def test_change_without_masks_trains_unsupervised_and_reports_the_fraction(tiny_quakeset, tmp_path, monkeypatch,
                                                                         strip_file):
    from skquake.models.change import LogRatioChangeDetector

    seen = []
    original = LogRatioChangeDetector.fit
    def fit(self, *args, **kwargs):
        seen.append(args[1:])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LogRatioChangeDetector, "fit", fit)
    real = strip_file(tiny_quakeset, tmp_path / "real.h5")
    manifest = fit_model("change-logratio-otsu", real, tmp_path / "c.skq", task="change-bitemporal")
    assert seen == [()]  # fit(X): no masks
    assert manifest["metrics"]["change_iou_quake"] is None and 0 < manifest["metrics"]["changed_fraction"] < 1
    n = predict_file(tmp_path / "c.skq", real, tmp_path / "c.csv")
    assert n == len(_rows(tmp_path / "c.csv")) > 0


def test_epicentre_bitemporal_through_the_command_line(tiny_quakeset, tmp_path):
    model, out = tmp_path / "e.skq", tmp_path / "e.csv"
    assert main(["fit", "epicentre-rf", "--data", str(tiny_quakeset), "--task", "epicentre-bitemporal",
                 "--out", str(model), *RF]) == 0
    manifest = read_manifest(model)
    assert set(manifest["metrics"]) == set(TASKS["epicentre-bitemporal"].metrics)
    assert main(["predict", str(model), "--data", str(tiny_quakeset), "--out", str(out), "--split", "all",
                 "--batch-size", "5"]) == 0
    rows = _rows(out)
    assert list(rows[0])[5:] == ["contains", "probability", "east_km", "north_km", "depth_km", "longitude",
                                 "latitude"]
    est = load_model(model)
    X = _inputs(tiny_quakeset, "all", "bitemporal", 1)
    y_pred = est.predict(X)
    np.testing.assert_array_equal([int(r["contains"]) for r in rows], y_pred[:, 0])
    np.testing.assert_allclose([[float(r[c]) for c in ("east_km", "north_km", "depth_km")] for r in rows],
                               y_pred[:, 1:], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose([float(r["probability"]) for r in rows], est.predict_proba(X)[:, 1], atol=1e-6)
    # The predicted position in degrees is as far from the true epicentre as the offsets say
    _, y_true, _ = load_epicentre(tiny_quakeset, split="all")
    truth = read_epicentres(tiny_quakeset)
    located = np.flatnonzero(~np.isnan(y_true[:, 1]))
    assert len(located) > 5
    for i in located:
        r = rows[i]
        lon, lat = truth[r["event_id"]][:2]
        distance = haversine_km(float(r["longitude"]), float(r["latitude"]), lon, lat)
        expected = np.hypot(*(y_pred[i, 1:3] - y_true[i, 1:3]))
        assert distance == pytest.approx(expected, rel=1e-3, abs=1e-3)


def test_epicentre_single_positions_from_the_footprint_centre(tiny_quakeset, tmp_path):
    model, out = tmp_path / "e.skq", tmp_path / "e.csv"
    manifest = fit_model("epicentre-centre", tiny_quakeset, model, task="epicentre-single", pool=2)
    assert manifest["input"]["mode"] == "single" and manifest["input"]["shape"] == [2, 16, 16]
    assert predict_file(model, tiny_quakeset, out, split="all") > 0
    rows = _rows(out)
    # epicentre-centre predicts the offset (0, 0): its position is the footprint centre, from
    # which load_epicentre measures the true offsets
    assert {(r["east_km"], r["north_km"]) for r in rows} == {("0", "0")}
    _, y_true, _ = load_epicentre(tiny_quakeset, split="all", mode="single")
    truth = read_epicentres(tiny_quakeset)
    for r, y in zip(rows, y_true):
        if not np.isnan(y[1]):
            east, north = lonlat_offset(float(r["longitude"]), float(r["latitude"]), *truth[r["event_id"]][:2])
            np.testing.assert_allclose([east, north], y[1:3], atol=1e-3)


def test_epicentre_table_for_a_file_without_epicentres(tiny_quakeset, tmp_path, capsys, strip_file):
    real = strip_file(tiny_quakeset, tmp_path / "real.h5")
    with pytest.raises(ValueError, match="has no epicentre attribute.*pass epicentres=TABLE"):
        fit_model("epicentre-centre", real, tmp_path / "x.skq", task="epicentre-single")
    assert main(["fit", "epicentre-centre", "--data", str(real), "--task", "epicentre-single",
                 "--out", str(tmp_path / "x.skq")]) == 2
    assert "pass --epicentres TABLE" in capsys.readouterr().err and not (tmp_path / "x.skq").exists()
    table = write_epicentre_table(tiny_quakeset, tmp_path / "epicentres.csv")
    assert main(["fit", "epicentre-centre", "--data", str(real), "--task", "epicentre-single",
                 "--out", str(tmp_path / "t.skq"), "--epicentres", str(table)]) == 0
    manifest = read_manifest(tmp_path / "t.skq")
    with_table = manifest["metrics"]
    from_attributes = fit_model("epicentre-centre", tiny_quakeset, tmp_path / "a.skq", task="epicentre-single")
    assert with_table == from_attributes["metrics"] and with_table["epicentre_error_km"] > 0
    # the table the targets came from is part of the model's provenance, the attributes are not a file
    record = manifest["data"]["epicentres"]
    assert record["path"] == str(table.resolve()) and record["size"] == table.stat().st_size
    assert len(record["sha256"]) == 64 and "epicentres" not in from_attributes["data"]


@pytest.mark.parametrize("model", ["epicentre-rf", "epicentre-svm"])
def test_seed_reaches_the_epicentre_pipelines(tiny_quakeset, tmp_path, model):
    # their factories seed the epicentre step by default: --seed must replace that, not collide with it
    out = fit_model(model, tiny_quakeset, tmp_path / "s.skq", task="epicentre-bitemporal", seed=3,
                    params={"epicentre__classifier__n_estimators": 5} if model == "epicentre-rf" else None)
    assert out["model"]["params"]["epicentre__random_state"] == 3


def test_a_file_without_coordinates_leaves_the_position_empty(tiny_quakeset, tmp_path, strip_file):
    model = tmp_path / "e.skq"
    fit_model("epicentre-centre", tiny_quakeset, model, task="epicentre-bitemporal")
    bare = strip_file(tiny_quakeset, tmp_path / "bare.h5", truth=False, coordinates=True)
    predict_file(model, bare, tmp_path / "e.csv")
    rows = _rows(tmp_path / "e.csv")
    assert rows and {(r["longitude"], r["latitude"]) for r in rows} == {("", "")}
    assert {r["depth_km"] for r in rows} != {""}


@pytest.fixture(scope="module")
def magnitude_model(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("magnitude") / "m.skq"
    fit_model("rfr", tiny_quakeset, out, task="magnitude-single", params={"rf__n_estimators": 5})
    return out


@pytest.mark.parametrize("argv, message", [
    (["predict", "{magnitude}", "--data", "{data}", "--out", "{new}", "--masks", "{new_h5}"],
     ("--masks '{new_h5}' writes the predicted masks of a change model; {magnitude} holds a model of task "
      "'magnitude-single' (magnitude), which predicts no masks")),
    (["fit", "rfc", "--data", "{data}", "--task", "detection-single", "--out", "{new}", "--epicentres", "{table}"],
     ("--epicentres '{table}' is read by the tasks epicentre-bitemporal, epicentre-single; task "
      "'detection-single' takes no epicentres")),
    (["fit", "epicentre-centre", "--data", "{data}", "--task", "epicentre-single", "--out", "{new}",
      "--epicentres", "missing.csv"], "argument --epicentres"),
    (["fit", "change-logratio-otsu", "--data", "{data}", "--task", "epicentre-bitemporal", "--out", "{new}"],
     "'change-logratio-otsu' is a change model; task 'epicentre-bitemporal' takes epicentre models"),
    (["predict", "{change}", "--data", "{data}", "--out", "{new}", "--masks", "{new}"], "is the CSV file"),
    (["predict", "{change}", "--post", "{data}", "--out", "{new}", "--masks", "{new_h5}"],
     "--masks goes with --data"),
])
def test_bad_inputs(magnitude_model, change_model, tiny_quakeset, tmp_path, capsys, argv, message):
    subs = {"data": tiny_quakeset, "magnitude": magnitude_model, "change": change_model, "new": tmp_path / "new",
            "new_h5": tmp_path / "new.h5", "table": write_epicentre_table(tiny_quakeset, tmp_path / "table.csv")}
    assert main([a.format(**subs) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message.format(**subs) in err and "Traceback" not in err, err
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.h5").exists()


def test_an_existing_masks_file_is_never_replaced_without_overwrite(change_model, tiny_quakeset, tmp_path, capsys):
    out, masks = tmp_path / "c.csv", tmp_path / "mine.h5"
    masks.write_bytes(b"the user's file")
    assert main(["predict", str(change_model), "--data", str(tiny_quakeset), "--out", str(out),
                 "--masks", str(masks)]) == 2
    assert "argument --masks" in capsys.readouterr().err
    with pytest.raises(FileExistsError, match="mine.h5 already exists"):
        predict_file(change_model, tiny_quakeset, out, masks=masks)
    assert masks.read_bytes() == b"the user's file" and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.h5"]  # no temporary file left
    predict_file(change_model, tiny_quakeset, out, masks=masks, overwrite=True)
    with h5py.File(masks, "r") as f:
        assert f["masks"].shape == (len(_rows(out)), 16, 16)


def test_a_task_registered_later_can_be_trained(tiny_quakeset, tmp_path, monkeypatch):
    from skquake.benchmark import register_task
    from skquake.datasets import load_quakeset

    # the registry is module state: the test's task is removed again whatever happens
    monkeypatch.setattr("skquake.benchmark._tasks.TASKS", dict(TASKS))
    from skquake.benchmark import _tasks

    @register_task("vv-detection-single", registry_task="detection", metrics=("accuracy",))
    def load_vv(path, split, *, pool=1, lazy=False):
        X, y, _ = load_quakeset(path, split=split, mode="single", target="label", pool=pool)
        return X, y

    assert "vv-detection-single" in _tasks.TASKS
    monkeypatch.setattr("skquake.inference._fit.TASKS", _tasks.TASKS)
    assert QUAKESET_TASKS["vv-detection-single"] == ("detection", "single", "label")
    manifest = fit_model("rfc", tiny_quakeset, tmp_path / "vv.skq", task="vv-detection-single", seed=0,
                         params={"rf__n_estimators": 5})
    assert set(manifest["metrics"]) == {"accuracy"}
    with pytest.raises(ValueError, match=r"The 'task' parameter of fit_model must be a str among \[.*'vv-detec"):
        fit_model("rfc", tiny_quakeset, tmp_path / "x.skq", task="nope")
