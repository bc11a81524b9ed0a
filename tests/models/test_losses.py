"""Losses: values against hand computations and loop references, ties, gradients."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skquake.models.deep import FocalLoss, PairwiseRankingLoss, RegressionRankingLoss, weighted_loss


def _loop_reference(s, t, pairs, kind, margin, ties):
    """Per-pair Python loop, written independently of the vectorised code."""
    total, count = 0.0, 0
    for i, j in pairs:
        if t[i] == t[j] and ties == "ignore":
            continue
        y = 1.0 if t[i] >= t[j] else -1.0
        d = s[i] - s[j]
        total += max(0.0, margin - y * d) if kind == "hinge" else math.log1p(math.exp(-y * d))
        count += 1
    return total / count if count else 0.0


def test_half_pairing_matches_hand_computation():
    # pairs (0, 2) and (1, 3); targets 5 > 4 -> +1, 0 < 6 -> -1
    s = torch.tensor([1.0, 2.0, 0.99, 1.0])
    t = torch.tensor([5.0, 0.0, 4.0, 6.0])
    loss = PairwiseRankingLoss(pairing="half", margin=0.02)(s, t)
    # pair (0, 2): max(0, 0.02 - (1.0 - 0.99)) = 0.01 ; pair (1, 3): max(0, 0.02 + (2 - 1)) = 1.02
    assert loss.item() == pytest.approx((0.01 + 1.02) / 2, abs=1e-6)


def test_half_pairing_equals_torch_margin_ranking_loss():
    # the public code: margin_ranking_loss(first half, second half, sign(t1 >= t2))
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(16, 1, generator=g), torch.randint(0, 3, (16,), generator=g).float()
    target = torch.where(t[:8] >= t[8:], 1.0, -1.0)
    expected = F.margin_ranking_loss(s[:8, 0], s[8:, 0], target, margin=0.02)
    assert PairwiseRankingLoss()(s, t).item() == pytest.approx(expected.item(), abs=1e-6)


def test_half_pairing_odd_batch_drops_last():
    loss = PairwiseRankingLoss(pairing="half")
    s = torch.tensor([0.3, 0.1, 0.2, 0.0, 100.0])
    t = torch.tensor([1.0, 2.0, 3.0, 4.0, -50.0])
    assert loss(s, t).item() == pytest.approx(loss(s[:4], t[:4]).item())
    assert [p.tolist() for p in loss.pairs(5)] == [[0, 1], [2, 3]]


@pytest.mark.parametrize("kind", ["hinge", "logistic"])
@pytest.mark.parametrize("ties", ["paper", "ignore"])
@pytest.mark.parametrize("pairing", ["half", "all"])
def test_vectorised_matches_loop_reference(kind, ties, pairing):
    g = torch.Generator().manual_seed(1)
    n = 9
    s = torch.randn(n, generator=g)
    t = torch.randint(0, 4, (n,), generator=g).float()  # many ties
    loss = PairwiseRankingLoss(pairing=pairing, kind=kind, margin=0.3, ties=ties)
    if pairing == "all":
        pairs = list(itertools.combinations(range(n), 2))
    else:
        pairs = [(i, i + n // 2) for i in range(n // 2)]
    expected = _loop_reference(s.tolist(), t.tolist(), pairs, kind, 0.3, ties)
    assert loss(s, t).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_all_pairs_counts_every_pair_once():
    first, second = PairwiseRankingLoss(pairing="all").pairs(5)
    assert sorted(zip(first.tolist(), second.tolist())) == list(itertools.combinations(range(5), 2))


def test_ties_paper_versus_ignore():
    s = torch.tensor([0.0, 0.0])
    t = torch.tensor([3.0, 3.0])
    # paper: a tie is target +1, so s_0 >= s_1 + margin is asked for
    assert PairwiseRankingLoss(ties="paper", margin=0.5)(s, t).item() == pytest.approx(0.5)
    assert PairwiseRankingLoss(ties="ignore", margin=0.5)(s, t).item() == 0.0


@pytest.mark.parametrize("n", [0, 1])
def test_no_pairs_gives_zero_with_gradient(n):
    s = torch.randn(n, 1, requires_grad=True)
    loss = PairwiseRankingLoss()(s, torch.zeros(n))
    assert loss.item() == 0.0
    loss.backward()
    assert s.grad is not None and torch.all(s.grad == 0)


def test_all_ties_ignored_gives_zero_with_gradient():
    s = torch.randn(6, requires_grad=True)
    loss = PairwiseRankingLoss(pairing="all", ties="ignore")(s, torch.zeros(6))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(s.grad == 0)


@pytest.mark.parametrize("kind", ["hinge", "logistic"])
def test_gradient_pushes_scores_into_order(kind):
    s = torch.zeros(4, requires_grad=True)
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    PairwiseRankingLoss(pairing="all", kind=kind, margin=0.1)(s, t).backward()
    # descending the gradient raises high-magnitude scores and lowers low ones
    step = -s.grad
    assert step[3] > step[2] > step[1] > step[0]


def test_ranking_rejects_bad_arguments():
    with pytest.raises(ValueError, match="pairing"):
        PairwiseRankingLoss(pairing="quarter")
    with pytest.raises(ValueError, match="kind"):
        PairwiseRankingLoss(kind="square")
    with pytest.raises(ValueError, match="ties"):
        PairwiseRankingLoss(ties="random")
    with pytest.raises(ValueError, match="margin"):
        PairwiseRankingLoss(margin=-1)
    with pytest.raises(ValueError, match="shape"):
        PairwiseRankingLoss()(torch.zeros(4, 2), torch.zeros(4))


def test_regression_ranking_is_weighted_sum():
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(8, 1, generator=g), 5 + torch.randn(8, generator=g)
    rank = PairwiseRankingLoss(pairing="all", margin=0.1)(s, t)
    mse = F.mse_loss(s[:, 0], t)
    loss = RegressionRankingLoss(ranking_weight=0.7, pairing="all", margin=0.1)
    assert loss(s, t).item() == pytest.approx(mse.item() + 0.7 * rank.item(), rel=1e-6)
    assert loss.last_parts_ == pytest.approx({"regression": mse.item(), "ranking": rank.item()}, rel=1e-6)
    assert RegressionRankingLoss(ranking_weight=0)(s, t).item() == pytest.approx(mse.item())
    assert RegressionRankingLoss(regression="l1", ranking_weight=0)(s, t).item() == pytest.approx(
        F.l1_loss(s[:, 0], t).item()
    )
    with pytest.raises(ValueError, match="ranking_weight"):
        RegressionRankingLoss(ranking_weight=-0.5)


def test_focal_loss_hand_computed():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    target = torch.tensor([0, 2])
    w = [1.0, 2.0, 3.0]
    p = torch.softmax(logits, 1)
    p0, p1 = p[0, 0].item(), p[1, 2].item()
    per = [-1.0 * (1 - p0) ** 4 * math.log(p0), -3.0 * (1 - p1) ** 4 * math.log(p1)]
    loss = FocalLoss(gamma=4.0, weight=w)
    assert loss(logits, target).item() == pytest.approx(sum(per) / 4.0, rel=1e-5)
    assert FocalLoss(gamma=4.0, weight=w, reduction="sum")(logits, target).item() == pytest.approx(sum(per), rel=1e-5)
    np.testing.assert_allclose(FocalLoss(gamma=4.0, weight=w, reduction="none")(logits, target).numpy(), per, rtol=1e-5)


def test_focal_loss_gamma_zero_is_weighted_cross_entropy():
    g = torch.Generator().manual_seed(3)
    logits, target = torch.randn(10, 4, generator=g), torch.randint(0, 4, (10,), generator=g)
    w = torch.tensor([0.5, 1.0, 2.0, 4.0])
    expected = F.cross_entropy(logits, target, weight=w)
    assert FocalLoss(gamma=0.0, weight=w)(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)
    assert FocalLoss(gamma=0.0)(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-5)


def test_focal_loss_gradient_and_checks():
    logits = torch.randn(5, 3, requires_grad=True)
    FocalLoss(gamma=2.0, weight=[1, 1, 1])(logits, torch.tensor([0, 1, 2, 0, 1])).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="3 class weights"):
        FocalLoss(weight=[1, 2, 3])(torch.zeros(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="non-negative"):
        FocalLoss(weight=[1, -2])
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)


def test_criterion_parameters_route_through_skorch():
    # criterion__* reaches the loss, also after initialisation (GridSearchCV's set_params)
    from skorch import NeuralNetRegressor

    net = NeuralNetRegressor(
        torch.nn.Linear, module__in_features=2, module__out_features=1,
        criterion=RegressionRankingLoss, criterion__margin=0.3, criterion__pairing="all",
    ).initialize()
    assert net.criterion_.ranking.margin == 0.3 and net.criterion_.ranking.pairing == "all"
    net.set_params(criterion__ranking_weight=2.0, criterion__margin=0.1)
    assert net.criterion_.ranking_weight == 2.0 and net.criterion_.ranking.margin == 0.1


# --------------------------------------------------------------------------- sample weights
def test_weighted_torch_regression_losses_are_weighted_means():
    torch.manual_seed(0)
    pred, true = torch.randn(6, 1), torch.randn(6, 1)
    w = torch.tensor([0.0, 1.0, 2.0, 0.5, 3.0, 1.0])
    expected = (w * (pred - true)[:, 0] ** 2).sum() / w.sum()
    criterion = torch.nn.MSELoss()
    torch.testing.assert_close(weighted_loss(criterion, pred, true, w), expected)
    assert criterion.reduction == "mean"  # restored after the per-sample evaluation
    torch.testing.assert_close(weighted_loss(criterion, pred, true, torch.ones(6)), criterion(pred, true))
    summed = weighted_loss(torch.nn.L1Loss(reduction="sum"), pred, true, w)
    torch.testing.assert_close(summed, (w * (pred - true)[:, 0].abs()).sum())


def test_weighted_cross_entropy_normalises_like_torch():
    torch.manual_seed(0)
    logits, target = torch.randn(7, 3), torch.tensor([0, 1, 2, 1, -100, 0, 2])
    class_weight = torch.tensor([1.0, 2.0, 0.5])
    w = torch.tensor([1.0, 0.0, 2.0, 1.0, 5.0, 0.5, 1.0])
    criterion = torch.nn.CrossEntropyLoss(weight=class_weight)
    per_sample = F.cross_entropy(logits, target, weight=class_weight, reduction="none")
    kept = target != -100
    norm = (w * class_weight[target.clamp(min=0)] * kept).sum()
    torch.testing.assert_close(weighted_loss(criterion, logits, target, w), (w * per_sample).sum() / norm)
    # equal weights: torch's own mean, which divides by the targets' class weights
    equal = weighted_loss(criterion, logits, target, torch.full((7,), 3.0))
    torch.testing.assert_close(equal, criterion(logits, target))
    # the focal loss with gamma=0 is that very weighted cross-entropy
    focal = FocalLoss(gamma=0.0, weight=class_weight)
    torch.testing.assert_close(weighted_loss(focal, logits, target, w), weighted_loss(criterion, logits, target, w))


def test_zero_weight_samples_leave_regression_and_ranking():
    torch.manual_seed(0)
    s, t = torch.randn(6), torch.tensor([0.0, 5.0, 4.0, 6.0, 0.0, 5.5])
    w = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    keep = w > 0
    for pairing in ("all", "half"):
        loss = RegressionRankingLoss(pairing=pairing, ties="ignore")
        if pairing == "all":  # every pair of the kept samples, and only those
            torch.testing.assert_close(loss(s, t, sample_weight=w), loss(s[keep], t[keep]))
        # equal weights are no weights
        torch.testing.assert_close(loss(s, t, sample_weight=torch.full((6,), 2.0)), loss(s, t))
    # pairs weigh w_i * w_j: pair (0, 2) weighs 2 * 2 = 4, pair (1, 3) 1 * 0.5
    s2, t2 = torch.tensor([0.0, 1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
    ranking = PairwiseRankingLoss(pairing="half", margin=1.0)  # pairs (0, 2) and (1, 3)
    # hinge max(0, margin - y d): pair (0, 2) has y = -1, d = 0 -> 1; pair (1, 3) y = +1, d = 1 -> 0
    per_pair = torch.tensor([1.0, 0.0])
    w2 = torch.tensor([2.0, 1.0, 2.0, 0.5])
    pair_w = torch.tensor([4.0, 0.5])
    torch.testing.assert_close(ranking(s2, t2, sample_weight=w2), (pair_w * per_pair).sum() / pair_w.sum())


def test_a_criterion_that_cannot_weight_is_refused():
    class Plain(torch.nn.Module):
        def forward(self, y_pred, y_true):
            return (y_pred - y_true).abs().mean()

    with pytest.raises(ValueError, match="criterion Plain cannot weight samples"):
        weighted_loss(Plain(), torch.zeros(3), torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="reduction='none'"):
        weighted_loss(torch.nn.MSELoss(reduction="none"), torch.zeros(3), torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="2 values for a batch of 3"):
        weighted_loss(torch.nn.MSELoss(), torch.zeros(3), torch.ones(3), torch.ones(2))
