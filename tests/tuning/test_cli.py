"""The ``skquake tune`` command: killed and resumed, and workers sharing a PostgreSQL study."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from skquake.datasets import load_quakeset
from skquake.models import load_model
from skquake.tuning import main, mask_url

SHALLOW = "svr-rbf"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _cli(*args):
    return [sys.executable, "-m", "skquake.cli", "tune", *map(str, args)]


def _env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def test_the_command_is_torch_free_until_a_trial_runs():
    # The skorch pruning callback sits in its own module, imported when a trial runs.
    code = "import sys, skquake.tuning; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
    assert out.stdout.strip() == "False", out.stderr


def test_help_names_the_scorers(capsys):
    assert main(["--help"]) == 0
    assert "neg_mae" in " ".join(capsys.readouterr().out.split())


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


def test_kill_and_resume(tiny_quakeset, tmp_path, capsys, read_study):
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
            reader["study"] = read_study(url, "k")  # raises until the worker created the study
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
        snapshot = {t.number: (t.state, t.value, t.params) for t in read_study(url, "k").trials}
        running = [n for n, s in snapshot.items() if s[0] == TrialState.RUNNING]
        if running:  # else the kill landed between two trials: try again
            break
    finished = {n: s for n, s in snapshot.items() if s[0] in FINISHED}
    assert len(finished) >= 2 and len(running) == 1 and len(finished) < n_trials, snapshot

    proc = subprocess.run(_cli(*args, "--refit", out), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    study = read_study(url, "k")
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
    assert summary["storage"] == url
    est = load_model(out)  # the .skq format of skquake fit
    X, _, _ = load_quakeset(tiny_quakeset, split="test", target="magnitude")
    assert est.get_params()["rf__max_depth"] == study.best_params["rf__max_depth"]
    assert est.get_params()["rf__n_estimators"] == 100
    assert np.all(np.isfinite(est.predict(X)))
    # --refit never overwrites a file.
    assert main([str(a) for a in args] + ["--refit", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_two_workers_share_a_postgresql_study(tiny_quakeset, tmp_path, read_study):
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
    study = read_study(url, name)
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
    # Nothing skquake or Optuna stored in the study carries the password.
    stored = json.dumps([study.user_attrs, study._storage.get_study_system_attrs(study._study_id),
                         [(t.user_attrs, t.system_attrs) for t in study.trials]], default=repr)
    if password:
        assert password not in stored and quote(password, safe="") not in stored


def _password(url):
    return make_url(url).password
