"""Loss functions for the deep models, as ``torch.nn.Module`` criteria.

Every loss here is a plain module whose hyperparameters are ``__init__`` arguments, so a skorch
net routes them with the ``criterion__`` prefix (``criterion__margin=0.05``,
``criterion__ranking_weight=0.5``) and ``GridSearchCV`` / Optuna can tune them.

- :class:`PairwiseRankingLoss`: a ranking term over the pairs of a batch (the ranking paper's
  half-batch pairing, or all pairs), hinge or logistic.
- :class:`RegressionRankingLoss`: a regression loss plus a weighted ranking term (the ranking
  paper trains with MSE + margin ranking, 1:1).
- :class:`FocalLoss`: class-weighted multi-class focal loss on logits (building damage).

Each takes per-sample weights (``forward(y_pred, y_true, sample_weight=None)``), and
:func:`weighted_loss` weights any criterion: what ``fit(X, y, sample_weight=...)`` of the
deep estimators uses.
"""
from __future__ import annotations

import inspect
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from ...utils import StrictInterval, StrOptions, validate_parameter_constraints

__all__ = ["PairwiseRankingLoss", "RegressionRankingLoss", "FocalLoss", "weighted_loss"]

_NON_NEGATIVE = [StrictInterval(Real, 0, None, closed="left")]


def _check_arguments(module, **values):
    """Check a loss's arguments against its ``_parameter_constraints`` (scikit-learn's messages)."""
    validate_parameter_constraints(module._parameter_constraints, values, caller_name=type(module).__name__)


def _flat(t: torch.Tensor, what: str) -> torch.Tensor:
    # Accept (n,) and (n, 1): regressors output (n, 1) while y often arrives as (n,).
    if t.dim() == 2 and t.shape[1] == 1:
        return t[:, 0]
    if t.dim() != 1:
        raise ValueError(f"{what} must have shape (n,) or (n, 1), got {tuple(t.shape)}")
    return t


def _zero_with_grad(like: torch.Tensor) -> torch.Tensor:
    # A batch with no usable pair contributes nothing but must stay in the graph, so that
    # ``loss.backward()`` works on every batch.
    return like.sum() * 0.0


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None, norm: torch.Tensor | None = None):
    """``sum(weight * values) / sum(norm)`` (``norm`` defaults to ``weight``; plain mean without
    weights); 0, still in the graph, when the norm is 0."""
    if weight is None:
        return values.mean()
    total = (weight if norm is None else norm).sum()
    if total == 0:
        return _zero_with_grad(values)
    return (weight * values).sum() / total


def _sample_weight(sample_weight, n: int, like: torch.Tensor):
    if sample_weight is None:
        return None
    w = torch.as_tensor(sample_weight, device=like.device).to(like.dtype).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} values for a batch of {n} samples")
    return w


class PairwiseRankingLoss(nn.Module):
    r"""Pairwise ranking loss over the samples of a batch.

    For a pair ``(i, j)`` with scores ``s`` (predictions) and true values ``t``, let
    ``d = s_i - s_j`` and ``y = +1`` if ``t_i > t_j``, ``-1`` if ``t_i < t_j``. Then

    - ``kind="hinge"`` (margin ranking): ``max(0, margin - y * d)``;
    - ``kind="logistic"`` (RankNet-like): ``softplus(-y * d) = log(1 + exp(-y * d))``
      (``margin`` is not used).

    The loss is the mean over the pairs kept. With ``sample_weight``, a pair ``(i, j)`` weighs
    ``w_i w_j`` (a sample of weight 0 takes part in no pair; equal weights give the plain mean).

    Parameters
    ----------
    pairing : {"half", "all"}, default="half"
        ``"half"``: the ranking paper's pairing. The (shuffled) batch is cut in two halves
        and element ``i`` of the first half is paired with element ``i`` of the second; an odd
        batch drops its last element. ``n // 2`` pairs. ``"all"``: every pair ``i < j`` of the
        batch, ``n (n - 1) / 2`` pairs, computed without a Python loop.
    kind : {"hinge", "logistic"}, default="hinge"
        The per-pair loss (see above).
    margin : float, default=0.02
        Hinge margin (the paper's value).
    ties : {"paper", "ignore"}, default="paper"
        Pairs with equal true values. ``"paper"`` reproduces the public code: the target is
        ``+1`` whenever ``t_i >= t_j``, so a tie asks for ``s_i >= s_j + margin``.
        ``"ignore"`` drops tied pairs (QuakeSet negatives all have magnitude 0, so with
        ``"all"`` many pairs are ties). A batch without any kept pair gives a loss of 0 that
        still has a gradient (of zero).
    """

    _parameter_constraints = {
        "pairing": [StrOptions({"half", "all"})],
        "kind": [StrOptions({"hinge", "logistic"})],
        "margin": _NON_NEGATIVE,
        "ties": [StrOptions({"paper", "ignore"})],
    }

    def __init__(self, pairing="half", kind="hinge", margin=0.02, ties="paper"):
        super().__init__()
        _check_arguments(self, pairing=pairing, kind=kind, margin=margin, ties=ties)
        self.pairing = pairing
        self.kind = kind
        self.margin = margin
        self.ties = ties

    def pairs(self, n: int, device=None):
        """Indices ``(first, second)`` of the pairs used for a batch of ``n`` samples."""
        if self.pairing == "half":
            h = n // 2
            first = torch.arange(h, device=device)
            return first, first + h
        first, second = torch.triu_indices(n, n, offset=1, device=device)
        return first, second

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> torch.Tensor:
        s = _flat(y_pred, "y_pred")
        t = _flat(y_true, "y_true").to(s.dtype)
        if s.shape[0] != t.shape[0]:
            raise ValueError(f"y_pred has {s.shape[0]} samples but y_true has {t.shape[0]}")
        w = _sample_weight(sample_weight, s.shape[0], s)
        first, second = self.pairs(s.shape[0], device=s.device)
        if first.numel() == 0:
            return _zero_with_grad(s)
        d = s[first] - s[second]
        dt = t[first] - t[second]
        if self.ties == "paper":
            sign = torch.where(dt >= 0, 1.0, -1.0).to(s.dtype)
            keep = None
        else:
            sign = torch.sign(dt)
            keep = dt != 0
        if self.kind == "hinge":
            per_pair = torch.clamp(self.margin - sign * d, min=0.0)
        else:
            per_pair = F.softplus(-sign * d)
        pair_weight = None if w is None else w[first] * w[second]
        if keep is None:
            return _weighted_mean(per_pair, pair_weight)
        if pair_weight is None:
            pair_weight = torch.ones_like(per_pair)
        return _weighted_mean(per_pair, pair_weight * keep)

    def extra_repr(self) -> str:
        return f"pairing={self.pairing!r}, kind={self.kind!r}, margin={self.margin}, ties={self.ties!r}"


class RegressionRankingLoss(nn.Module):
    r"""Regression loss plus a weighted pairwise ranking term.

    ``loss = regression(s, t) + ranking_weight * ranking(s, t)``, where ``ranking`` is a
    :class:`PairwiseRankingLoss` built from ``pairing``, ``kind``, ``margin`` and ``ties``.
    The ranking paper uses MSE + half-batch margin ranking (margin 0.02), weights 1:1: the
    defaults. With ``sample_weight``, the regression term is the weighted mean
    ``sum(w_i l_i) / sum(w_i)`` and each ranking pair ``(i, j)`` weighs ``w_i w_j``.

    Parameters
    ----------
    regression : {"mse", "l1", "huber"}, default="mse"
        The regression term (mean over the batch).
    ranking_weight : float, default=1.0
        Weight of the ranking term; 0 leaves the regression loss alone.
    pairing, kind, margin, ties
        Passed to :class:`PairwiseRankingLoss`.

    Attributes
    ----------
    last_parts_ : dict
        ``{"regression": float, "ranking": float}`` of the last call (detached), for logging.
    """

    _parameter_constraints = {
        "regression": [StrOptions({"mse", "l1", "huber"})],
        "ranking_weight": _NON_NEGATIVE,
    }

    def __init__(self, regression="mse", ranking_weight=1.0, pairing="half", kind="hinge",
                 margin=0.02, ties="paper"):
        super().__init__()
        # pairing, kind, margin and ties are checked by the PairwiseRankingLoss built below.
        _check_arguments(self, regression=regression, ranking_weight=ranking_weight)
        self.regression = regression
        self.ranking_weight = ranking_weight
        self.pairing = pairing
        self.kind = kind
        self.margin = margin
        self.ties = ties
        self.ranking = PairwiseRankingLoss(pairing=pairing, kind=kind, margin=margin, ties=ties)
        self.last_parts_ = {}

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight=None) -> torch.Tensor:
        s = _flat(y_pred, "y_pred")
        t = _flat(y_true, "y_true").to(s.dtype)
        loss = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[self.regression]
        if sample_weight is None:
            reg = loss(s, t)
        else:
            reg = _weighted_mean(loss(s, t, reduction="none"), _sample_weight(sample_weight, s.shape[0], s))
        if self.ranking_weight == 0:
            rank = s.new_zeros(())
            total = reg
        else:
            rank = self.ranking(s, t, sample_weight=sample_weight)
            total = reg + self.ranking_weight * rank
        self.last_parts_ = {"regression": float(reg.detach()), "ranking": float(rank.detach())}
        return total

    def extra_repr(self) -> str:
        return f"regression={self.regression!r}, ranking_weight={self.ranking_weight}"


class FocalLoss(nn.Module):
    r"""Class-weighted multi-class focal loss on logits.

    For a sample of class ``c`` with softmax probability ``p_c`` and class weight ``w_c``:
    ``l = -w_c (1 - p_c)^gamma log p_c``. With ``gamma=0`` it is the (weighted) cross-entropy.
    A ``sample_weight`` ``s_i`` multiplies each sample's loss and its class weight in the
    ``"mean"`` normalisation: ``sum_i s_i l_i / sum_i s_i w_{y_i}``.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter (the damage recipe uses 4).
    weight : sequence of float or torch.Tensor, optional
        One weight per class (e.g. inverse class frequencies). Stored as a buffer, so it moves
        with the module to the net's device.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` divides the sum by the total weight of the batch's targets
        (``sum_i w_{y_i}``), exactly as :func:`torch.nn.functional.cross_entropy` does, so
        ``gamma=0`` matches it.
    ignore_index : int, default=-100
        Target value that is skipped (as in ``cross_entropy``).
    """

    _parameter_constraints = {
        "gamma": _NON_NEGATIVE,
        "reduction": [StrOptions({"mean", "sum", "none"})],
    }

    def __init__(self, gamma=2.0, weight=None, reduction="mean", ignore_index=-100):
        super().__init__()
        _check_arguments(self, gamma=gamma, reduction=reduction)
        self.gamma = gamma
        self.reduction = reduction
        self.ignore_index = ignore_index
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32).flatten()
            if not torch.isfinite(weight).all() or (weight < 0).any():
                raise ValueError(f"FocalLoss weight must be finite and non-negative, got {weight.tolist()}")
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, sample_weight=None) -> torch.Tensor:
        if logits.dim() != 2:
            raise ValueError(f"FocalLoss expects logits of shape (n, n_classes), got {tuple(logits.shape)}")
        target = target.long().flatten()
        n_classes = logits.shape[1]
        if self.weight is not None and self.weight.numel() != n_classes:
            raise ValueError(
                f"FocalLoss has {self.weight.numel()} class weights but the logits have {n_classes} classes"
            )
        valid = target != self.ignore_index
        safe_target = torch.where(valid, target, torch.zeros_like(target))
        log_p = F.log_softmax(logits, dim=1).gather(1, safe_target[:, None])[:, 0]
        p = log_p.exp()
        w = self.weight[safe_target].to(logits.dtype) if self.weight is not None else torch.ones_like(log_p)
        w = w * valid
        if sample_weight is not None:
            w = w * _sample_weight(sample_weight, logits.shape[0], logits)
        per_sample = -w * (1.0 - p).clamp(min=0.0) ** self.gamma * log_p
        if self.reduction == "none":
            return per_sample
        if self.reduction == "sum":
            return per_sample.sum()
        total = w.sum()
        if total == 0:
            return _zero_with_grad(logits)
        return per_sample.sum() / total

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, reduction={self.reduction!r}"


def _takes_sample_weight(criterion) -> bool:
    try:
        return "sample_weight" in inspect.signature(criterion.forward).parameters
    except (TypeError, ValueError):
        return False


def weighted_loss(criterion, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight) -> torch.Tensor:
    """``criterion(y_pred, y_true)`` with per-sample weights (what ``fit(sample_weight=...)`` uses).

    A criterion whose ``forward`` takes ``sample_weight`` (the losses of this module) weights
    itself. A torch loss with ``reduction="mean"`` or ``"sum"`` (``MSELoss``, ``L1Loss``,
    ``HuberLoss``, ``CrossEntropyLoss``, ``NLLLoss``, ...) is evaluated per sample
    (``reduction="none"``; elementwise losses averaged over a sample's outputs) and reduced as
    ``sum(w_i l_i)`` or ``sum(w_i l_i) / sum(w_i)``; for class-index targets of a loss with class
    ``weight`` / ``ignore_index`` the denominator is ``sum(w_i weight[y_i])`` over the kept
    targets, as torch's own mean. Equal weights give the unweighted loss.

    Raises
    ------
    ValueError
        A criterion that can do neither (no ``sample_weight`` argument, not a torch loss with a
        mean or sum reduction).
    """
    if _takes_sample_weight(criterion):
        return criterion(y_pred, y_true, sample_weight=sample_weight)
    reduction = getattr(criterion, "reduction", None)
    if not isinstance(criterion, nn.modules.loss._Loss) or reduction not in ("mean", "sum"):
        raise ValueError(
            f"criterion {type(criterion).__name__} cannot weight samples: fit(sample_weight=...) needs a "
            "criterion whose forward takes sample_weight (skquake's losses) or a torch loss with "
            f"reduction='mean' or 'sum' (got reduction={reduction!r})"
        )
    criterion.reduction = "none"
    try:
        per_sample = criterion(y_pred, y_true)
    finally:
        criterion.reduction = reduction
    per_sample = per_sample.reshape(per_sample.shape[0], -1).mean(dim=1)
    w = _sample_weight(sample_weight, per_sample.shape[0], per_sample)
    if reduction == "sum":
        return (w * per_sample).sum()
    norm = w
    if not torch.is_floating_point(y_true) and y_true.dim() == 1:
        ignore_index = getattr(criterion, "ignore_index", None)
        kept = y_true != ignore_index if ignore_index is not None else torch.ones_like(y_true, dtype=torch.bool)
        class_weight = getattr(criterion, "weight", None)
        if class_weight is not None:
            norm = norm * class_weight.to(w.dtype)[torch.where(kept, y_true, 0)]
        norm = norm * kept
    return _weighted_mean(per_sample, w, norm)
