"""The medium profile: its settings end to end on tiny files, and its larger built-in file."""
from dataclasses import replace
from pathlib import Path

import h5py

from skquake import benchmark as bench
from skquake.benchmark import PROFILES, TASKS, default_data_file
from skquake.benchmark._store import RESULTS_FILE


def test_medium_profile_runs_every_task_on_tiny_files(tiny_quakeset, tmp_path):
    from skquake.datasets.synthetic import make_damage_dataset

    damage = make_damage_dataset(tmp_path / "damage.h5", n_buildings=120, random_state=0)
    # the profile as it is, but one epoch and no latency loop: its models, tasks and pooling
    profile = replace(PROFILES["medium"], deep_overrides={**PROFILES["medium"].deep_overrides, "max_epochs": 1},
                      n_latency=1)
    result = bench.run_benchmark(profile, data=tiny_quakeset, damage_data=damage, out=tmp_path / "out",
                                 progress=False, plots=False, isolate=False, log=lambda *_: None)
    rows, _ = bench.read_rows(Path(tmp_path / "out" / RESULTS_FILE))
    assert result["failed"] == 0, [r["error"] for r in rows if r["status"] != "ok"]
    assert {r["task"] for r in rows} == set(TASKS)  # every task the runner has
    deep = [r for r in rows if r["family"] == "deep"]
    assert deep and all(r["input_shape"].endswith("32x32") or r["task"] == "damage" for r in deep)  # pool 1


def test_a_larger_built_in_file_lives_beside_the_default(tmp_path):
    small = default_data_file("magnitude-bitemporal", cache_dir=tmp_path)
    larger = default_data_file("magnitude-bitemporal", cache_dir=tmp_path, options={"n_events": 24})
    assert larger.name == "quakeset-synthetic-n_events24.h5" and small.is_file() and larger.is_file()
    with h5py.File(larger) as f, h5py.File(small) as g:
        assert len(f) == 24 and len(g) == 200
    assert PROFILES["medium"].synthetic_options["data"]["n_events"] >= 1000
