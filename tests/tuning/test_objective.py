"""One trial: per-epoch reports of deep nets across CV folds, and pruning."""
import math

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState

from skquake.tuning import best_estimator, tune

# A registered deep entry with a tiny timm backbone and short training: seconds per fit.
DEEP_FAST = dict(backbone="mobilenetv3_small_050", max_epochs=1, batch_size=8, random_state=0)


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
    # The good trials reported every epoch of both folds (steps 0..5: epochs counted across
    # folds, not restarted per fold); the bad one stopped at its first.
    assert [sorted(t.intermediate_values) for t in trials[:2]] == [list(range(6))] * 2
    assert [len(t.intermediate_values) for t in trials] == [6, 6, 1]
    assert trials[2].intermediate_values[0] < min(t.intermediate_values[0] for t in trials[:2]) or math.isnan(
        trials[2].intermediate_values[0])
    assert best_estimator(study, fit=False).lr in (3e-4, 1e-3)


def test_shallow_models_report_the_running_mean_per_fold(tiny_quakeset, tmp_path):
    study = tune("svr-rbf", tiny_quakeset, n_trials=1, storage=tmp_path, param_space=["svr__C"], cv=3)
    (trial,) = study.trials
    folds = trial.user_attrs["fold_scores"]
    assert sorted(trial.intermediate_values) == [0, 1, 2]
    assert trial.intermediate_values[2] == pytest.approx(trial.value) == pytest.approx(sum(folds) / 3)
    # Without pruning nothing is reported.
    quiet = tune("svr-rbf", tiny_quakeset, n_trials=1, storage=tmp_path, study_name="quiet",
                 param_space=["svr__C"], cv=3, pruning=False)
    assert quiet.trials[0].intermediate_values == {}
