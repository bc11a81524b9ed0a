"""`skquake tune --data CACHE_DIR`: a study reads a decoded cache as it reads the file."""
import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from skquake.datasets import CachedQuakeSet, LazyImages, make_cache
from skquake.tuning import best_estimator, tune
from skquake.tuning._cli import main
from skquake.tuning._data import load_data

SHALLOW, SPACE = "svr-rbf", ["svr__C"]


def test_a_linear_cache_tunes_as_the_file(tiny_quakeset, tmp_path):
    cache = make_cache(tiny_quakeset, tmp_path / "tiny.cache", dtype="float32-linear")
    studies = [tune(SHALLOW, data, n_trials=2, storage=tmp_path / "db", param_space=SPACE, cv=2,
                    study_name=name, random_state=0)
               for name, data in (("file", tiny_quakeset), ("cache", cache))]
    assert [t.value for t in studies[0].trials] == [t.value for t in studies[1].trials]
    assert best_estimator("cache", storage=tmp_path / "db").n_features_in_ > 0  # refits from the folder


def test_lazy_data_from_a_cache(tiny_quakeset, tmp_path):
    cache = make_cache(tiny_quakeset, tmp_path / "tiny.cache")
    X, y, groups, desc = load_data(cache, task="magnitude", split="train", mode="single", pool=1, lazy=True)
    assert isinstance(X, LazyImages) and isinstance(X.dataset, CachedQuakeSet)
    assert X.batch_encoding == "decibels" and X.shape[1] == 2 and desc == str(cache.resolve())
    np.testing.assert_array_equal(y, CachedQuakeSet(cache, split="train").magnitudes)


def test_cli_refuses_a_folder_that_is_not_a_cache(tmp_path, capsys):
    assert main([SHALLOW, "--data", str(tmp_path), "--storage", str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "no manifest.json" in err
