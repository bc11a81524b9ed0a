"""Studies: resumed, never overwritten, and not stuck on a dead worker's trial."""
import time

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState

from skquake.datasets import load_quakeset
from skquake.tuning import best_estimator, study_summary, tune

SHALLOW = "svr-rbf"
# Small fixed settings so a trial takes a fraction of a second on one core.
SHALLOW_SPACE = ["svr__C"]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def test_existing_study_is_never_overwritten(tiny_quakeset, tmp_path, read_study):
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
    after = [(t.number, t.state, t.value, t.params) for t in read_study(url, "mine").trials]
    assert after == before
    assert len(read_study(url, "theirs").trials) == 1


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
    assert summary["meta"]["scoring"] == "neg_mae"
    # By name from the storage, as another machine would.
    by_name = best_estimator(f"{SHALLOW}-bitemporal-{tiny_quakeset.stem}", storage=tmp_path, fit=False)
    assert by_name.get_params()["svr__C"] == pytest.approx(summary["best_params"]["svr__C"])
    est = best_estimator(again)
    X, _, _ = load_quakeset(tiny_quakeset, split="test")
    assert np.all(np.isfinite(est.predict(X)))
    assert est.get_params()["svr__C"] == pytest.approx(summary["best_params"]["svr__C"])


def test_trial_of_a_worker_killed_before_its_first_heartbeat_is_failed_and_retried(tiny_quakeset, tmp_path,
                                                                                   read_study):
    # A worker killed between creating a trial and writing its first heartbeat leaves a
    # RUNNING trial with no heartbeat row, which Optuna's own stale check never fails: a
    # resumed study must not wait for it for ever. ``ask`` on a storage without heartbeat
    # leaves exactly such a trial, deterministically (the kill test lands there by chance).
    url = f"sqlite:///{tmp_path / 'beatless.db'}"
    tune(SHALLOW, tiny_quakeset, n_trials=2, storage=url, study_name="b", param_space=SHALLOW_SPACE, cv=2)
    orphan = read_study(url, "b").ask()
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
