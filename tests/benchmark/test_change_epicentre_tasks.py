"""QuakeSet tasks 3, 4 and 7 in the runner: change detection and epicentre tasks end to end,
a file without truth (the real file's layout), the epicentre table, a cache folder, stale files."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from skquake import benchmark as bench
from skquake.benchmark import default_data_file
from skquake.benchmark._store import RESULTS_FILE
from skquake.cli import main
from skquake.datasets import make_cache
from skquake.datasets.synthetic import write_epicentre_table

MINI = bench.Profile(name="mini", seeds=(0,), pool=1, shallow_pool=1,
                     deep_overrides={"max_epochs": 1, "batch_size": 16}, n_latency=1)
MODELS = ["change-logratio-otsu", "epicentre-centre", "epicentre-rf"]
NEW_TASKS = ["change-bitemporal", "epicentre-bitemporal", "epicentre-single"]


def _run(data, out, **kwargs):
    notes = []
    result = bench.run_benchmark(profile=MINI, data=data, out=out, models=MODELS, tasks=NEW_TASKS,
                                 progress=False, isolate=False, plots=False, log=notes.append, **kwargs)
    rows, _ = bench.read_rows(Path(out) / RESULTS_FILE)
    return result, {(r["task"], r["model"]): r for r in rows}, notes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from skquake.datasets.synthetic import make_quakeset

    root = tmp_path_factory.mktemp("world")
    return make_quakeset(root / "world.h5", n_events=16, patch_size=16, patches_per_event=2, random_state=1)


def test_all_three_tasks_run_and_score(world, tmp_path):
    result, rows, _ = _run(world, tmp_path / "out")
    assert result["failed"] == 0 and result["tasks_skipped"] == {}
    change = rows[("change-bitemporal", "change-logratio-otsu")]
    assert 0.0 <= change["test_change_iou_quake"] <= 1.0 and 0.0 <= change["test_change_missed_quake"] <= 1.0
    assert 0.0 < change["test_changed_fraction"] < 1.0
    # the row kept its example maps, chosen from the truth (same samples for every model)
    with np.load(tmp_path / "out" / change["examples_file"]) as f:
        assert f["pred"].shape[1:] == (16, 16) and f["truth"].shape[1:] == (2, 16, 16)
        assert f["truth"][0, 0].sum() > 0  # the first example is a sample with an earthquake change
    for task in NEW_TASKS[1:]:
        centre, forest = rows[(task, "epicentre-centre")], rows[(task, "epicentre-rf")]
        assert centre["test_epicentre_error_km"] > 0 and np.isfinite(forest["test_depth_mae_km"])
        assert centre["input_shape"] == ("4x16x16" if "bitemporal" in task else "2x16x16")


def test_change_models_are_fitted_without_masks(world, tmp_path, monkeypatch):
    seen = []
    from skquake.models.change import LogRatioChangeDetector

    original = LogRatioChangeDetector.fit
    monkeypatch.setattr(LogRatioChangeDetector, "fit", lambda self, X, y=None: (seen.append(y), original(self, X))[1])
    _run(world, tmp_path / "out")
    assert seen == [None]


def test_a_file_without_truth_scores_what_needs_none_and_skips_epicentres(world, tmp_path, strip_file):
    real = strip_file(world, tmp_path / "real.h5")
    result, rows, notes = _run(real, tmp_path / "out")
    change = rows[("change-bitemporal", "change-logratio-otsu")]
    assert change["status"] == "ok" and np.isnan(change["test_change_iou_quake"])
    assert 0.0 < change["test_changed_fraction"] < 1.0
    assert set(result["tasks_skipped"]) == {"epicentre-bitemporal", "epicentre-single"}
    assert any("--epicentres TABLE" in n and str(real) in n for n in notes)
    assert not any(t.startswith("epicentre") for t, _ in rows)

    # with the epicentre table, the epicentre tasks run on the same file
    table = write_epicentre_table(world, tmp_path / "epicentres.csv")
    result, rows, _ = _run(real, tmp_path / "out", epicentres=table)
    assert result["tasks_skipped"] == {} and rows[("epicentre-single", "epicentre-rf")]["status"] == "ok"


def test_a_table_without_the_files_events_is_an_error(world, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,longitude,latitude,depth_km\n1,0.0,0.0,10.0\n")
    with pytest.raises(Exception, match="bad.csv"):
        _run(world, tmp_path / "out", epicentres=bad)
    assert not (tmp_path / "out" / RESULTS_FILE).exists()


def test_a_cache_folder_skips_the_tasks_that_need_the_hdf5_file(world, tmp_path):
    cache = make_cache(world, tmp_path / "cache")
    notes = []
    result = bench.run_benchmark(profile=MINI, data=cache, out=tmp_path / "out", models=["rfc", *MODELS],
                                 tasks=["detection-bitemporal", *NEW_TASKS], progress=False, isolate=False,
                                 plots=False, log=notes.append)
    assert set(result["tasks_skipped"]) == set(NEW_TASKS) and result["failed"] == 0
    assert any("decoded cache folder" in n for n in notes)


def test_cli_names_a_missing_epicentre_table(tmp_path, capsys):
    assert main(["benchmark", "--epicentres", str(tmp_path / "nope.csv"), "--dry-run"]) == 2
    assert "--epicentres" in capsys.readouterr().err


def test_an_outdated_default_file_is_written_again(tmp_path):
    path = default_data_file("change-bitemporal", cache_dir=tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["generator_version"] = 1
    messages = []
    assert default_data_file("epicentre-single", cache_dir=tmp_path, log=messages.append) == path
    assert any("older generator" in m for m in messages)
    with h5py.File(path, "r") as f:
        assert f.attrs["generator_version"] >= 2
