"""Per-epoch pruning of skorch nets inside a cross-validated trial (the torch side of tuning).

This module imports skorch (hence torch); :mod:`skquake.tuning._objective` imports it only when
a trial runs, so that ``import skquake.tuning`` and ``skquake tune --help`` stay torch-free.
"""
from __future__ import annotations

import math

import optuna
from skorch import NeuralNet
from skorch.callbacks import Callback

__all__ = ["PRUNING_CALLBACK", "FoldPruning", "find_net", "with_pruning"]

#: Name under which the per-epoch pruning callback is added to a skorch net.
PRUNING_CALLBACK = "skquake_optuna_pruning"


def find_net(estimator):
    """``(prefix, skorch net)`` of the estimator or of a pipeline's last step; ``(None, None)``.

    ``prefix`` is the ``set_params`` prefix of the net (``""`` or ``"step__"``...).
    """
    prefix = ""
    while True:
        if isinstance(estimator, NeuralNet):
            return prefix, estimator
        steps = getattr(estimator, "steps", None)
        if not steps:
            return None, None
        prefix += steps[-1][0] + "__"
        estimator = steps[-1][1]


class FoldPruning(Callback):
    """Report the study's score on the held-out CV fold after every epoch, and prune.

    optuna-integration's ``SkorchPruningCallback`` cannot do this, for three reasons read in its
    source (``optuna_integration/skorch``):

    * it reports ``net.history[-1, monitor]``, a value the net computed itself; the study's
      scorer on the trial's held-out fold is not in the history (skquake's deep nets train with
      ``train_split=None``, so there is not even a ``valid_loss``), and giving the net the fold
      as its validation split would change how it trains (early stopping, checkpoints);
    * its step is ``len(net.history) - 1``, which starts again at 0 in every fold of the
      cross-validation: Optuna ignores a step reported twice, so folds 2..k would never reach
      the pruner. Here the steps count epochs across folds (``counter``);
    * a diverged net predicts NaN, which scikit-learn metrics refuse with a ``ValueError``;
      such a trial is pruned here instead of failing.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial to report to.
    scorer : callable
        ``scorer(net, X, y)``, greater is better (the study's objective).
    X_val, y_val : array-like
        The held-out fold.
    counter : list of one int
        The next step, shared by the folds of one trial.
    """

    def __init__(self, trial, scorer, X_val, y_val, counter):
        self.trial = trial
        self.scorer = scorer
        self.X_val = X_val
        self.y_val = y_val
        self.counter = counter

    def on_epoch_end(self, net, **kwargs):
        try:
            score = float(self.scorer(net, self.X_val, self.y_val))
        except ValueError as exc:
            # A diverged net predicts NaN/inf, which metrics refuse: a trial to prune.
            if "nan" not in str(exc).lower() and "infinity" not in str(exc).lower():
                raise
            score = float("nan")
        step = self.counter[0]
        self.counter[0] += 1
        net.history.record("tuning_score", score)
        self.trial.report(score if math.isfinite(score) else float("nan"), step)
        if not math.isfinite(score) or self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (epoch {len(net.history)}) with score {score:.6g}")


def with_pruning(estimator, trial, scorer, X_val, y_val, counter):
    """``estimator`` (a clone, changed in place) with a :class:`FoldPruning` callback on its net,
    or None when it holds no skorch net or its net's callbacks are disabled."""
    prefix, net = find_net(estimator)
    if net is None or net.callbacks == "disable":
        return None
    callbacks = [c for c in (net.callbacks or []) if not (isinstance(c, tuple) and c[0] == PRUNING_CALLBACK)]
    reporter = FoldPruning(trial, scorer, X_val, y_val, counter)
    return estimator.set_params(**{prefix + "callbacks": callbacks + [(PRUNING_CALLBACK, reporter)]})
