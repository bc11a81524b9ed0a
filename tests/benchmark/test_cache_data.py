"""`skquake benchmark --data CACHE_DIR`: the runner reads a decoded cache as it reads the file."""
import json

import numpy as np
import pytest

from skquake import benchmark as bench
from skquake.benchmark._store import RESULTS_FILE
from skquake.cli import main
from skquake.datasets import CachedQuakeSet, make_cache

MINI = bench.Profile(name="mini", seeds=(0,), pool=1, shallow_pool=1,
                     deep_overrides={"max_epochs": 1, "batch_size": 16}, n_latency=2)
METRICS = ("val_mae", "test_mae", "test_spearman", "test_magnitude_accuracy")


def _run(data, out, **kwargs):
    bench.run_benchmark(profile=MINI, data=data, out=out, progress=False, log=lambda *_: None,
                        tasks=["magnitude-bitemporal"], **kwargs)
    rows, bad = bench.read_rows(out / RESULTS_FILE)
    assert bad == 0 and all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows]
    return {r["model"]: r for r in rows}


def test_a_linear_cache_gives_the_file_s_figures(tiny_quakeset, tmp_path):
    cache = make_cache(tiny_quakeset, tmp_path / "tiny.cache", dtype="float32-linear")
    models = ["rfr", "mobilenetv2-mse"]
    from_file = _run(tiny_quakeset, tmp_path / "file", models=models)
    from_cache = _run(cache, tmp_path / "cache", models=models)
    for model in models:
        for metric in METRICS:
            assert from_cache[model][metric] == from_file[model][metric], (model, metric)
        assert from_cache[model]["n_train"] == from_file[model]["n_train"]
    assert from_cache["rfr"]["config_id"] != from_file["rfr"]["config_id"]  # other data, other rows
    configs = json.loads((tmp_path / "cache" / "configs.json").read_text())
    assert any(c["data"]["name"] == "tiny.cache" for c in configs.values())


def test_cli_data_cache_and_its_errors(tiny_quakeset_factory, tmp_path, capsys):
    import os

    source = tiny_quakeset_factory()
    cache = make_cache(source, tmp_path / "q.cache")
    out = tmp_path / "out"
    args = ["benchmark", "--profile", "quick", "--models", "svr-rbf", "--tasks", "magnitude-bitemporal",
            "--seeds", "0", "--no-progress", "--no-plots", "--out", str(out)]
    assert main([*args, "--data", str(cache)]) == 0
    rows, _ = bench.read_rows(out / RESULTS_FILE)
    assert [r["status"] for r in rows] == ["ok"] and np.isfinite(rows[0]["test_mae"])
    assert rows[0]["n_train"] == len(CachedQuakeSet(cache, split="train"))
    capsys.readouterr()
    not_cache = tmp_path / "plain"
    not_cache.mkdir()
    assert main([*args, "--data", str(not_cache)]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and str(not_cache) in err and "no manifest.json" in err
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert main([*args, "--data", str(cache)]) == 2
    assert "is stale" in capsys.readouterr().err


def test_run_benchmark_refuses_a_folder_that_is_not_a_cache(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"--data QuakeSet file .* has no manifest.json"):
        bench.run_benchmark(profile=MINI, data=tmp_path, out=tmp_path / "out", progress=False,
                            log=lambda *_: None, models=["rfr"], tasks=["magnitude-bitemporal"])
