"""Tuning that does what it says: fixed parameters stay fixed, a study is recorded only for a
setup that works, storages that would lose the study are refused, summaries name the storage."""
import json

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState

from skquake.tuning import (
    STORAGE_ENV,
    best_estimator,
    default_storage_url,
    describe_storage,
    main,
    make_search_cv,
    study_summary,
    tune,
)

SHALLOW = "svr-rbf"  # search space: pca__n_components, svr__C in [0.1, 100], svr__gamma
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _studies(url):
    return optuna.study.get_all_study_names(storage=optuna.storages.RDBStorage(url))


# --------------------------------------------------------------------------- fixed parameters
def test_a_fixed_parameter_holds_in_every_trial(tiny_quakeset, tmp_path, capsys, read_study):
    url = f"sqlite:///{tmp_path / 'fixed.db'}"
    # Outside the space's bounds ([0.1, 100]): allowed, and recorded.
    study = tune(SHALLOW, tiny_quakeset, n_trials=3, storage=url, study_name="py", cv=2, params={"svr__C": 1e6})
    trials = [t for t in study.trials if t.state in FINISHED]
    assert len(trials) == 3 and all("svr__C" not in t.params for t in trials), [t.params for t in trials]
    meta = study_summary(study)["meta"]
    assert meta["params"] == {"svr__C": 1e6} and "svr__C" not in meta["space"]
    assert best_estimator(study, fit=False).get_params()["svr__C"] == 1e6
    # The command line: --set, as the issue reports it.
    rc = main([SHALLOW, "--data", str(tiny_quakeset), "--storage", url, "--study-name", "cli", "--n-trials", "2",
               "--cv", "2", "--set", "svr__C=1e6", "--quiet", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["meta"]["params"] == {"svr__C": 1e6}
    assert "svr__C" not in summary["best_params"]
    assert all("svr__C" not in t.params for t in read_study(url, "cli").trials)


def test_a_fixed_parameter_leaves_the_search_space():
    grid = make_search_cv(SHALLOW, "grid", params={"svr__C": 1e6}).param_grid
    assert "svr__C" not in grid and grid.keys() == {"pca__n_components", "svr__gamma"}
    # Fixing a step fixes what routes into it.
    assert "pca__n_components" not in make_search_cv(SHALLOW, "grid", params={"pca": "passthrough"}).param_grid
    with pytest.raises(ValueError, match=r"'svr__C'.*both fixed.*and tuned"):
        make_search_cv(SHALLOW, "grid", params={"svr__C": 1.0}, param_space=["svr__C", "svr__gamma"])
    with pytest.raises(ValueError, match="nothing is left to tune"):
        make_search_cv(SHALLOW, "grid", params={"svr": None, "pca": "passthrough"})


# --------------------------------------------------------------------------- setup validated first
BAD_SETUPS = {
    "cv-over-events": (dict(cv=50), r"cv=50.*event"),                             # checked before any trial
    "fit-refuses-a-value": (dict(params={"pca__n_components": 10**6}), "n_components"),  # only a fit can tell
    "scorer-of-another-task": (dict(scoring="accuracy"), "continuous|classification"),  # only scoring can tell
}


@pytest.mark.parametrize("bad,match", BAD_SETUPS.values(), ids=list(BAD_SETUPS))
def test_no_study_is_recorded_before_its_setup_works(bad, match, tiny_quakeset, tmp_path):
    url = f"sqlite:///{tmp_path / 'setup.db'}"
    good = dict(cv=2, param_space=["svr__C"])
    with pytest.raises(ValueError, match=match):
        tune(SHALLOW, tiny_quakeset, n_trials=2, storage=url, study_name="s", **{**good, **bad})
    assert _studies(url) == []
    # The corrected command is not refused as "a different setup".
    study = tune(SHALLOW, tiny_quakeset, n_trials=2, storage=url, study_name="s", **good)
    assert sum(t.state in FINISHED for t in study.trials) == 2 and not [t for t in study.trials if t.state not in FINISHED]
    assert study_summary(study)["meta"]["cv"] == 2


def test_corrected_command_runs_after_a_bad_cv(tiny_quakeset, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = [SHALLOW, "--data", str(tiny_quakeset), "--storage", url, "--n-trials", "1", "--param", "svr__C", "--quiet"]
    assert main(args + ["--cv", "50"]) != 0
    assert "--cv" in capsys.readouterr().err and _studies(url) == []
    assert main(args + ["--cv", "2"]) == 0, capsys.readouterr().err


# --------------------------------------------------------------------------- in-memory storages
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file:m?mode=memory&uri=true"])
def test_in_memory_sqlite_is_refused(url, tiny_quakeset, capfd):
    with pytest.raises(ValueError, match=r"in-memory SQLite.*resumed.*lost.*sqlite:///PATH"):
        tune(SHALLOW, tiny_quakeset, n_trials=1, storage=url, cv=2, param_space=["svr__C"])
    rc = main([SHALLOW, "--data", str(tiny_quakeset), "--storage", url, "--n-trials", "1", "--cv", "2", "--quiet"])
    err = capfd.readouterr().err
    assert rc != 0 and "in-memory" in err
    assert "Traceback" not in err and "Exception in thread" not in err


# --------------------------------------------------------------------------- storage in summaries
def test_summary_names_the_storage_of_every_kind(tiny_quakeset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    run = dict(n_trials=1, cv=2, param_space=["svr__C"])
    default = default_storage_url()
    assert study_summary(tune(SHALLOW, tiny_quakeset, **run))["storage"] == default
    (tmp_path / "folder").mkdir()
    by_path = study_summary(tune(SHALLOW, tiny_quakeset, storage=tmp_path / "folder", **run))["storage"]
    assert by_path == f"sqlite:///{tmp_path / 'folder' / 'skquake-optuna.db'}"
    memory = study_summary(tune(SHALLOW, tiny_quakeset, storage=optuna.storages.InMemoryStorage(), **run))
    assert memory["storage"].startswith("in memory")
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log")))
    assert study_summary(tune(SHALLOW, tiny_quakeset, storage=journal, **run))["storage"] == (
        f"journal file {tmp_path / 'j.log'}"
    )
    assert describe_storage("postgresql://me:s3cret@db/optuna").endswith("://me:***@db/optuna")
    # The command line, default storage: the line and --json.
    args = [SHALLOW, "--data", str(tiny_quakeset), "--n-trials", "1", "--cv", "2", "--param", "svr__C", "--quiet"]
    assert main(args) == 0
    assert f"in {default}" in capsys.readouterr().out
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["storage"] == default
