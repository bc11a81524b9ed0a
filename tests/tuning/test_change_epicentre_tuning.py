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
