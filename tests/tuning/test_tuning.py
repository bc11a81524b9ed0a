"""Tuning: GridSearchCV / OptunaSearchCV helpers, resumable and distributed Optuna studies."""
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from skquake.datasets import load_quakeset  # noqa: E402
from skquake.tuning import (  # noqa: E402
    StorageError,
    best_estimator,
    main,
    make_search_cv,
    mask_url,
    open_storage,
    study_summary,
    tune,
)

SHALLOW = "svr-rbf"
DEEP = "mobilenetv2-rank"
# A registered deep entry with a tiny timm backbone and short training: seconds per fit.
DEEP_FAST = dict(backbone="mobilenetv3_small_050", max_epochs=1, batch_size=8, random_state=0)
# Small fixed settings so a trial takes a fraction of a second on one core.
SHALLOW_SPACE = ["svr__C"]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _cli(*args):
    return [sys.executable, "-m", "skquake.cli", "tune", *map(str, args)]


def _env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def _load(storage_url, name):
    # A plain reader: no heartbeat, so reading never fails anyone's trial.
    storage = optuna.storages.RDBStorage(storage_url)
    return optuna.load_study(study_name=name, storage=storage)


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------- passwords
def test_mask_url_hides_passwords():
    assert mask_url("postgresql+psycopg2://me:s3cr%40t@db:5432/x") == "postgresql+psycopg2://me:***@db:5432/x"
    assert mask_url("postgresql://db/x?user=me&password=s3cret&sslmode=require") == (
        "postgresql://db/x?user=me&password=***&sslmode=require"
    )
    assert mask_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert mask_url("postgresql://me@db/x") == "postgresql://me@db/x"


def test_unreachable_storage_names_masked_url_quickly(capsys, tiny_quakeset):
    url = f"postgresql+psycopg2://tuner:hunter2secret@127.0.0.1:{_closed_port()}/optuna"
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        open_storage(url, connect_timeout=3)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "tuner:***@127.0.0.1" in message and "hunter2secret" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # The command line says the same and never prints the password.
    rc = main([SHALLOW, "--data", str(tiny_quakeset), "--storage", url, "--n-trials", "1", "--connect-timeout", "3"])
    out = capsys.readouterr()
    assert rc == 1
    assert "tuner:***@127.0.0.1" in out.err
    assert "hunter2secret" not in out.err + out.out


# --------------------------------------------------------------------------- bad input
def test_unknown_model_and_parameter(tiny_quakeset, tmp_path):
    with pytest.raises(KeyError, match="svr-rbf"):
        tune("svr-rfb", tiny_quakeset, n_trials=1, storage=tmp_path)
    with pytest.raises(KeyError, match="svr-rbf"):
        make_search_cv("svr-rfb", "grid")
    with pytest.raises(ValueError, match=r"'svr__gama'.*valid parameters:.*svr__gamma"):
        tune(SHALLOW, tiny_quakeset, n_trials=1, storage=tmp_path, params={"svr__gama": 0.1})
    with pytest.raises(ValueError, match="'nope__x'"):
        make_search_cv(SHALLOW, "optuna", param_space={"nope__x": optuna.distributions.FloatDistribution(0, 1)})
    with pytest.raises(ValueError, match="not in the search space"):
        make_search_cv(SHALLOW, "grid", param_space=["svr__nothing"])
    # Nothing was written for the failed calls.
    assert not (tmp_path / "skquake-optuna.db").exists()


def test_existing_study_is_never_overwritten(tiny_quakeset, tmp_path):
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    study = tune(SHALLOW, tiny_quakeset, n_trials=2, storage=url, study_name="mine",
                 param_space=SHALLOW_SPACE, cv=2)
    before = [(t.number, t.state, t.value, t.params) for t in study.trials]
    # Another model, or the same model with another scoring, under the same name: refused.
    with pytest.raises(ValueError, match="different setup.*model"):
        tune("rfr", tiny_quakeset, n_trials=3, storage=url, study_name="mine", cv=2)
    with pytest.raises(ValueError, match="different setup.*scoring"):
        tune(SHALLOW, tiny_quakeset, n_trials=3, storage=url, study_name="mine", param_space=SHALLOW_SPACE,
             cv=2, scoring="neg_rmse")
    # A foreign study (minimising) of that name: refused too.
    optuna.create_study(storage=url, study_name="theirs", direction="minimize").optimize(lambda t: 1.0, n_trials=1)
    with pytest.raises(ValueError, match="direction"):
        tune(SHALLOW, tiny_quakeset, n_trials=3, storage=url, study_name="theirs", cv=2)
    after = [(t.number, t.state, t.value, t.params) for t in _load(url, "mine").trials]
    assert after == before
    assert len(_load(url, "theirs").trials) == 1


# --------------------------------------------------------------------------- scikit-learn searches
def test_every_registered_search_space_routes():
    # Every name of every registry space reaches a parameter of its model (checked by
    # make_search_cv), so GridSearchCV / OptunaSearchCV can be built for every model.
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from skquake.models import list_models

    names = list_models()
    assert SHALLOW in names and DEEP in names
    for name in names:
        grid = make_search_cv(name, "grid")
        assert isinstance(grid, GridSearchCV) and isinstance(grid.cv, GroupKFold)
        assert grid.param_grid, name
        assert set(make_search_cv(name, "optuna").param_distributions) == set(grid.param_grid)


def test_grid_search_shallow(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude", pool=2)
    search = make_search_cv(SHALLOW, "grid", param_space=SHALLOW_SPACE, cv=2)
    search.fit(X, y, groups=groups)
    assert len(search.cv_results_["params"]) == len(search.param_grid["svr__C"]) > 1
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict(X[:3]).shape == (3,)


def test_optuna_search_shallow(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude", pool=2)
    search = make_search_cv(SHALLOW, "optuna", cv=2, n_trials=3, random_state=0)
    search.fit(X, y, groups=groups)
    assert len(search.trials_) == 3
    assert set(search.best_params_) == set(search.param_distributions)
    assert search.predict(X[:2]).shape == (2,)


def test_grid_search_deep_lazy_parallel(tiny_quakeset):
    from skquake.datasets import QuakeSet
    from skquake.datasets import LazyImages, lazy_xy

    X, y, groups = lazy_xy(QuakeSet(tiny_quakeset, split="train"), target="label")
    search = make_search_cv("mobilenetv2-det", "grid", param_space={"lr": [1e-3, 3e-3]}, cv=2, n_jobs=2,
                            params=DEEP_FAST)
    search.fit(X, y, groups=groups)
    assert isinstance(X, LazyImages)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["lr"] in (1e-3, 3e-3)
    X_test, y_test, _ = lazy_xy(QuakeSet(tiny_quakeset, split="test"), target="label")
    assert set(search.best_estimator_.predict(X_test)) <= {0, 1}
    assert search.best_estimator_.lr == search.best_params_["lr"]


def test_optuna_search_deep(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, target="magnitude")
    search = make_search_cv(DEEP, "optuna", cv=2, n_trials=2, random_state=0, params=DEEP_FAST)
    search.fit(X, y, groups=groups)
    assert len(search.trials_) == 2
    assert all(t.state == TrialState.COMPLETE and np.isfinite(t.value) for t in search.trials_)
    assert set(search.best_params_) == {"lr", "weight_decay", "criterion__ranking_weight", "criterion__margin"}
    assert np.all(np.isfinite(search.predict(X[:4])))


@pytest.mark.filterwarnings("ignore:Fixed parameter lr")
def test_pruning_stops_a_clearly_worse_deep_trial(tiny_quakeset, tmp_path):
    # Two sane trials complete; the third has a learning rate that makes the net diverge and,
    # with the prediction clamp switched off, its per-epoch validation MAE is huge (or NaN)
    # from the first epoch: the median pruner must stop it there.
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    good, bad = [{"lr": 3e-4}, {"lr": 1e-3}], {"lr": 1e4}
    study = tune("mobilenetv2-mse", tiny_quakeset, n_trials=3, storage=tmp_path, study_name="prune",
                 param_space=["lr"], params={**DEEP_FAST, "max_epochs": 3, "clamp": None}, cv=2,
                 enqueue=[*good, bad], pruner=pruner, lazy=True)
    trials = study.trials
    assert [t.params["lr"] for t in trials] == [3e-4, 1e-3, 1e4]
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    # The good trials reported every epoch of both folds; the bad one stopped at its first.
    assert [len(t.intermediate_values) for t in trials] == [6, 6, 1]
    assert trials[2].intermediate_values[0] < min(t.intermediate_values[0] for t in trials[:2]) or math.isnan(
        trials[2].intermediate_values[0])
    assert best_estimator(study, fit=False).lr in (3e-4, 1e-3)


# --------------------------------------------------------------------------- studies
def test_tune_resumes_and_counts_finished_trials(tiny_quakeset, tmp_path):
    study = tune(SHALLOW, tiny_quakeset, n_trials=3, storage=tmp_path, param_space=SHALLOW_SPACE, cv=2)
    assert (tmp_path / "skquake-optuna.db").is_file()
    first = {t.number: t.value for t in study.trials}
    assert sum(t.state in FINISHED for t in study.trials) == 3
    study = tune(SHALLOW, tiny_quakeset, n_trials=5, storage=tmp_path, param_space=SHALLOW_SPACE, cv=2)
    assert sum(t.state in FINISHED for t in study.trials) == 5
    assert {n: v for n, v in ((t.number, t.value) for t in study.trials) if n in first} == first
    # Already there: nothing more is run.
    again = tune(SHALLOW, tiny_quakeset, n_trials=4, storage=tmp_path, param_space=SHALLOW_SPACE, cv=2)
    assert len(again.trials) == 5 and again._skquake_worker_trials == []
    summary = study_summary(again)
    assert summary["meta"]["model"] == SHALLOW and summary["best_params"].keys() == {"svr__C"}
    # By name from the storage, as another machine would.
    by_name = best_estimator(f"{SHALLOW}-bitemporal-{tiny_quakeset.stem}", storage=tmp_path, fit=False)
    assert by_name.get_params()["svr__C"] == pytest.approx(summary["best_params"]["svr__C"])
    est = best_estimator(again)
    X, _, _ = load_quakeset(tiny_quakeset, split="test")
    assert np.all(np.isfinite(est.predict(X)))
    assert est.get_params()["svr__C"] == pytest.approx(summary["best_params"]["svr__C"])


def test_trial_of_a_worker_killed_before_its_first_heartbeat_is_failed_and_retried(tiny_quakeset, tmp_path):
    # A worker killed between creating a trial and writing its first heartbeat leaves a
    # RUNNING trial with no heartbeat row, which Optuna's own stale check never fails: a
    # resumed study must not wait for it for ever. ``ask`` on a storage without heartbeat
    # leaves exactly such a trial, deterministically (the kill test lands there by chance).
    url = f"sqlite:///{tmp_path / 'beatless.db'}"
    tune(SHALLOW, tiny_quakeset, n_trials=2, storage=url, study_name="b", param_space=SHALLOW_SPACE, cv=2)
    orphan = _load(url, "b").ask()
    start = time.monotonic()
    study = tune(SHALLOW, tiny_quakeset, n_trials=3, storage=url, study_name="b", param_space=SHALLOW_SPACE,
                 cv=2, heartbeat_interval=1, grace_period=2, timeout=60)
    assert time.monotonic() - start < 60, "tune waited for the orphan trial"
    trials = {t.number: t for t in study.trials}
    assert trials[orphan.number].state == TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retries) == 1 and retries[0].state in FINISHED
    assert sum(t.state in FINISHED for t in trials.values()) == 3
    assert not [t for t in trials.values() if t.state == TrialState.RUNNING]


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (KeyError, Exception):  # study not created yet, or tables being created
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_and_resume(tiny_quakeset, tmp_path, capsys):
    import datetime

    url = f"sqlite:///{tmp_path / 'resume.db'}"
    n_trials = 10  # several trials to catch in a fresh state, also on a slow machine
    out = tmp_path / "best.pkl"
    # A random forest of 100 trees: trials of most of a second, long enough to be
    # killed in the middle of one.
    args = ["rfr", "--data", tiny_quakeset, "--storage", url, "--study-name", "k", "--n-trials", n_trials,
            "--cv", "2", "--param", "rf__max_depth", "--set", "rf__n_estimators=100", "--heartbeat-interval", "1",
            "--grace-period", "2", "--quiet", "--json", "--no-pruning"]

    reader = {}

    def fresh_running_trial():
        if "study" not in reader:
            reader["study"] = _load(url, "k")  # raises until the worker created the study
        trials = reader["study"].get_trials(deepcopy=False)
        done = sum(t.state == TrialState.COMPLETE for t in trials)
        last = trials[-1] if trials else None
        if done < 2 or last.state != TrialState.RUNNING:
            return None
        age = (datetime.datetime.now() - last.datetime_start).total_seconds()
        return age < 0.3

    for attempt in range(3):
        worker = subprocess.Popen(_cli(*args), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for(fresh_running_trial, 180, "a trial that just started after two complete ones")
            worker.send_signal(signal.SIGKILL)  # kill -9 in the middle of a trial
        finally:
            worker.kill()
            worker.wait()
        snapshot = {t.number: (t.state, t.value, t.params) for t in _load(url, "k").trials}
        running = [n for n, s in snapshot.items() if s[0] == TrialState.RUNNING]
        if running:  # else the kill landed between two trials: try again
            break
    finished = {n: s for n, s in snapshot.items() if s[0] in FINISHED}
    assert len(finished) >= 2 and len(running) == 1 and len(finished) < n_trials, snapshot

    proc = subprocess.run(_cli(*args, "--refit", out), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    study = _load(url, "k")
    trials = {t.number: t for t in study.trials}
    # Every trial that had finished is intact; the killed one failed and was re-run once.
    for n, (state, value, params) in finished.items():
        assert (trials[n].state, trials[n].value, trials[n].params) == (state, value, params)
    killed = trials[running[0]]
    assert killed.state == TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    # (A trial killed before it drew its parameters is retried with freshly drawn ones.)
    assert len(retries) == 1 and retries[0].state in FINISHED
    assert killed.params.items() <= retries[0].params.items()
    assert sum(t.state in FINISHED for t in trials.values()) == n_trials
    assert len(trials) == n_trials + 1 == summary["n_trials"]  # the finished ones and the killed one
    assert len(trials) == len(snapshot) + len(summary["this_worker_trials"])
    assert sorted(summary["this_worker_trials"]) == sorted(set(trials) - set(snapshot))
    assert "***" not in json.dumps(summary)  # no password in an SQLite URL, nothing masked wrongly
    import joblib

    est = joblib.load(out)
    X, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    assert est.get_params()["rf__max_depth"] == study.best_params["rf__max_depth"]
    assert est.get_params()["rf__n_estimators"] == 100
    assert np.all(np.isfinite(est.predict(X)))
    # --refit never overwrites a file.
    assert main([str(a) for a in args] + ["--refit", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_two_workers_share_a_postgresql_study(tiny_quakeset, tmp_path):
    url = os.environ.get("SKQUAKE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SKQUAKE_TEST_POSTGRES_URL is not set (bash .ci/postgres.sh DIR writes one)")
    name = f"two-workers-{os.getpid()}-{time.time_ns()}"
    n_trials = 10
    env = _env()
    # The URL (and its password) goes through the environment, never the command line.
    env["SKQUAKE_OPTUNA_STORAGE"] = url
    args = [SHALLOW, "--data", tiny_quakeset, "--study-name", name, "--n-trials", n_trials, "--cv", "2",
            "--param", "svr__C", "--param", "svr__gamma", "--json"]
    workers = [subprocess.Popen(_cli(*args, "--random-state", i), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    summaries = [json.loads(out) for out, _ in outputs]
    ran = [set(s["this_worker_trials"]) for s in summaries]
    study = _load(url, name)
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(len(numbers)))
    # Each trial was run by exactly one worker and the counts add up.
    assert not ran[0] & ran[1] and ran[0] | ran[1] == set(numbers)
    assert all(ran), "both workers should have run trials"
    finished = sum(t.state in FINISHED for t in study.trials)
    # Two workers may both start the last trial in the same instant: at most one extra.
    assert n_trials <= finished <= n_trials + 1 and finished == len(numbers)
    password = _password(url)
    for out, err in outputs:
        if password:
            assert password not in out + err
    assert all(s["storage"] == mask_url(url) for s in summaries)


def _password(url):
    from sqlalchemy.engine import make_url

    return make_url(url).password
