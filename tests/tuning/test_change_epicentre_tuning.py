"""Tuning the models of QuakeSet tasks 3, 4 and 7 from a file, as for the other tasks."""
import pytest

from skquake.datasets import make_cache
from skquake.tuning import tune


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from skquake.datasets.synthetic import make_quakeset

    root = tmp_path_factory.mktemp("world")
    return make_quakeset(root / "world.h5", n_events=12, patch_size=16, patches_per_event=2, random_state=2)


@pytest.mark.parametrize("model, best", [("change-novelty-gmm", (0.0, 1.0)), ("epicentre-rf", (-10.0, 0.0))])
def test_tune_reads_masks_and_epicentres_from_the_file(world, tmp_path, model, best):
    study = tune(model, world, n_trials=2, storage=f"sqlite:///{tmp_path}/s.db", cv=2, random_state=0)
    assert len(study.trials) == 2
    # IoU against the masks (greater is better); minus the epicentre error in km
    assert best[0] <= study.best_value <= best[1]


def test_tune_names_what_these_tasks_cannot_read(world, tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ValueError, match="two dates"):
        tune("change-novelty-gmm", world, mode="single", n_trials=1, storage=storage, cv=2)
    cache = make_cache(world, tmp_path / "cache")
    with pytest.raises(ValueError, match="decoded cache folder"):
        tune("epicentre-rf", cache, n_trials=1, storage=storage, cv=2)


@pytest.fixture(scope="module")
def without_attributes(world, tmp_path_factory, strip_file):
    """The world as the real file is: epicentres only in a table beside it."""
    from skquake.datasets.synthetic import write_epicentre_table

    root = tmp_path_factory.mktemp("real")
    return strip_file(world, root / "earthquakes.h5"), write_epicentre_table(world, root / "epicentres.csv")


def test_tune_takes_an_epicentre_table(world, without_attributes, tmp_path):
    path, table = without_attributes
    storage = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ValueError, match=r"has no epicentre attribute.*skquake tune --epicentres TABLE\)$"):
        tune("epicentre-rf", path, n_trials=1, storage=storage, cv=2)
    from_table = tune("epicentre-rf", path, epicentres=table, n_trials=1, storage=storage, cv=2, random_state=0,
                      study_name="s")
    from_attributes = tune("epicentre-rf", world, n_trials=1, storage=f"sqlite:///{tmp_path}/a.db", cv=2,
                           random_state=0, study_name="s")
    assert from_table.best_value == from_attributes.best_value  # the same targets, the same trial
    assert from_table.user_attrs["skquake"]["epicentres"] == str(table)
    # resuming the study with another table (by name) is refused; with the same one it resumes
    other = tmp_path / "other.csv"
    other.write_bytes(table.read_bytes())
    with pytest.raises(ValueError, match="different setup.*epicentres"):
        tune("epicentre-rf", path, epicentres=other, n_trials=2, storage=storage, cv=2, study_name="s")
    assert len(tune("epicentre-rf", path, epicentres=table, n_trials=2, storage=storage, cv=2,
                    study_name="s").trials) == 2


def test_epicentre_table_only_where_it_is_read(world, without_attributes, tmp_path):
    import numpy as np

    _, table = without_attributes
    storage = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ValueError, match="epicentre table of a QuakeSet file for epicentre models; this is a "
                                         "magnitude model"):
        tune("svr-rbf", world, epicentres=table, n_trials=1, storage=storage, cv=2)
    X, y, groups = np.zeros((4, 2, 4, 4)), np.zeros((4, 4)), np.arange(4)
    with pytest.raises(ValueError, match="y already holds the epicentre targets"):
        tune("epicentre-rf", (X, y, groups), epicentres=table, n_trials=1, storage=storage, cv=2)


def test_cli_epicentres_option(without_attributes, tmp_path, capsys):
    from skquake.tuning import main

    path, table = without_attributes
    argv = ["epicentre-rf", "--data", str(path), "--n-trials", "1", "--cv", "2", "--quiet",
            "--storage", f"sqlite:///{tmp_path}/s.db"]
    assert main(argv + ["--epicentres", str(table)]) == 0
    assert main(argv + ["--epicentres", str(tmp_path / "missing.csv")]) == 2
    assert "epicentre table" in capsys.readouterr().err
    assert main(argv) == 2  # the file alone has no epicentres: the message names the flag
    assert "--epicentres TABLE" in capsys.readouterr().err
