"""The objective of a study: the mean ``GroupKFold`` score of one trial's parameters."""
from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import clone
from sklearn.utils import _safe_indexing

__all__ = ["Objective", "suggest"]


def suggest(trial, name, dist):
    """Draw parameter ``name`` of ``trial`` from the optuna distribution ``dist``."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    raise TypeError(f"unsupported distribution for {name!r}: {dist!r}")


class Objective:
    """Mean ``GroupKFold`` score of one trial's parameters (greater is better).

    With ``epoch_reports``, a skorch net reports the study's score on the held-out fold after
    every epoch (steps count epochs across folds) and may be pruned there; any other estimator
    reports the running mean of the fold scores after each fold.

    Parameters
    ----------
    estimator : estimator
        The unfitted model; each fold fits a clone with the trial's parameters.
    space : dict
        Parameter name -> optuna distribution.
    X, y, groups : array-like
        The data and the event id of each sample.
    cv : cross-validation splitter
        ``GroupKFold`` by event.
    scorer : callable
        ``scorer(estimator, X, y)``, greater is better.
    epoch_reports : bool
        Report intermediate scores to the pruner.
    """

    def __init__(self, estimator, space, X, y, groups, cv, scorer, epoch_reports=True):
        self.estimator = estimator
        self.space = space
        self.X, self.y, self.groups = X, y, groups
        self.cv = cv
        self.scorer = scorer
        self.epoch_reports = epoch_reports

    def __call__(self, trial):
        # torch: the pruning callback is a skorch class; imported here so that
        # `import skquake.tuning` (and `skquake tune --help`) stays torch-free.
        from ._pruning import with_pruning

        params = {name: suggest(trial, name, dist) for name, dist in self.space.items()}
        estimator = clone(self.estimator).set_params(**params)
        counter = [0]
        scores = []
        for fold, (train, test) in enumerate(self.cv.split(self.X, self.y, self.groups)):
            est = clone(estimator)
            X_test, y_test = _safe_indexing(self.X, test), self.y[test]
            per_epoch = self.epoch_reports and with_pruning(est, trial, self.scorer, X_test, y_test, counter) is not None
            est.fit(_safe_indexing(self.X, train), self.y[train])
            scores.append(float(self.scorer(est, X_test, y_test)))
            if self.epoch_reports and not per_epoch:
                # Shallow models: the running mean after each fold lets the pruner stop early.
                trial.report(float(np.mean(scores)), fold)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {fold} with mean score {np.mean(scores):.6g}")
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))
