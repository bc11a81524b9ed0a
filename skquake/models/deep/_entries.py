"""Registry entries of the deep models: the papers' backbones (and a small CNN), each as a
magnitude regressor (MSE, and MSE + ranking) and a detection classifier."""
from __future__ import annotations

from .._registry import FloatRange, register_model
from ._estimators import QuakeClassifier, QuakeRegressor
from ._losses import RegressionRankingLoss

# The QuakeSet paper's deep baselines (CNN: 6 epochs, lr 1e-4; ViT: 10 epochs, lr 1e-3) and the
# ranking paper's regression + ranking variant of each.
_PAPER_BACKBONES = (
    # (registry prefix, timm name, paper row name, kind)
    ("mobilenetv2", "mobilenetv2_100", "MobileNetV2", "cnn"),
    ("convnextv2-atto", "convnextv2_atto", "ConvNextV2-Atto", "cnn"),
    ("mobilevitv2", "mobilevitv2_100", "MobileViTV2-1.0", "vit"),
    ("pvt-v2-b0", "pvt_v2_b0", "MiT-B0 (pvt_v2_b0)", "vit"),
)
# Not a paper model: a small CNN that learns from scratch within a CPU budget (the quick
# benchmark profile). On the default synthetic file (32 x 32, 10 epochs, lr 1e-3) resnet10t
# reaches a test detection accuracy of ~0.7 where mobilenetv2_100 and resnet18, whose stems
# downsample at once, stay at chance (docs/deep.md, "Why the deep models learned nothing").
_SMALL_BACKBONES = (
    ("resnet10t", "resnet10t", None, "small"),
)
_RECIPE = {"cnn": {"max_epochs": 6, "lr": 1e-4}, "vit": {"max_epochs": 10, "lr": 1e-3},
           "small": {"max_epochs": 10, "lr": 1e-3}}


def _space(kind, ranking):
    lr = _RECIPE[kind]["lr"]
    space = {
        "lr": FloatRange(lr / 10, lr * 10, log=True, grid_values=(lr / 3, lr, lr * 3)),
        "weight_decay": FloatRange(1e-4, 1e-1, log=True, grid_values=(0.01, 0.05)),
    }
    if ranking:
        space["criterion__ranking_weight"] = FloatRange(0.1, 3.0, log=True, grid_values=(0.5, 1.0, 2.0))
        space["criterion__margin"] = FloatRange(0.0, 0.5, grid_values=(0.02, 0.1))
    return space


def _make_factory(estimator_cls, defaults):
    def factory(**overrides):
        params = dict(defaults)
        params.update(overrides)
        return estimator_cls(**params)

    return factory


def _register_builtins():
    for prefix, timm_name, paper_name, kind in _PAPER_BACKBONES + _SMALL_BACKBONES:
        recipe = dict(_RECIPE[kind], backbone=timm_name)
        source = "QuakeSet paper recipe" if kind != "small" else "small CNN, not a paper model"
        tags = ("paper",) if kind != "small" else ("small",)
        register_model(
            f"{prefix}-mse", task="magnitude", family="deep",
            description=f"{timm_name} regressor, MSE loss ({source})",
            paper_name=paper_name, search_space=_space(kind, False), tags=tags,
        )(_make_factory(QuakeRegressor, recipe))
        register_model(
            f"{prefix}-rank", task="magnitude", family="deep",
            description=f"{timm_name} regressor, MSE + half-batch margin ranking loss 1:1 (ranking paper's loss)",
            paper_name=paper_name and f"{paper_name} + ranking", search_space=_space(kind, True),
            tags=tags + ("ranking",),
        )(_make_factory(QuakeRegressor, dict(recipe, criterion=RegressionRankingLoss)))
        register_model(
            f"{prefix}-det", task="detection", family="deep",
            description=f"{timm_name} detection classifier, cross-entropy ({source})",
            paper_name=paper_name, search_space=_space(kind, False), tags=tags,
        )(_make_factory(QuakeClassifier, recipe))


# The ranking paper's public code (../shared/reference/QUAKESET.md, "Recipes of the public code"):
# the backbones its configs list, each with the timm name of the ImageNet weights it names.
_RANKING_PAPER_BACKBONES = (
    ("mobilenetv3-small", "mobilenetv3_small_100"),
    ("convnextv2-atto", "convnextv2_atto"),
    ("mobilevitv2", "mobilevitv2_100"),
    ("levit-128s", "levit_128s"),
    ("vit-tiny", "vit_tiny_patch16_224"),
    ("resnet18", "resnet18"),
)
#: The ranking paper's recipe, as its code trains: AdamW (lr 1e-4, weight decay 0.01), batch 16,
#: 10 epochs, OneCycleLR stepped per batch from ~0 (div_factor 1e9, pct_start 0.1,
#: final_div_factor 1e4), MSE + margin ranking 1:1 (margin 0.02, half-batch pairs, ties not
#: masked), raw magnitudes (no target standardisation), timm's own head init, output clamped to
#: [0, 10], decibels and random flips. ``pretrained=False`` as everywhere in skquake: the paper
#: used ImageNet weights (``pretrained=True`` online, or the path of a weights file).
RANKING_PAPER_RECIPE = {
    "max_epochs": 10, "lr": 1e-4, "batch_size": 16, "weight_decay": 0.01, "warmup": 0.1,
    "callbacks__lr_schedule__div_factor": 1e9, "callbacks__lr_schedule__final_div_factor": 1e4,
    "criterion": RegressionRankingLoss, "criterion__ranking_weight": 1.0, "criterion__margin": 0.02,
    "standardize_target": False, "module__head_init": "timm", "clamp": (0.0, 10.0),
    "decibels": True, "flips": True, "pretrained": False,
}


def _register_ranking_paper():
    space = _space("cnn", True)  # around lr 1e-4, with the ranking weight and margin
    for prefix, timm_name in _RANKING_PAPER_BACKBONES:
        register_model(
            f"{prefix}-rank-rp", task="magnitude", family="deep",
            description=(f"{timm_name} regressor, MSE + ranking, the ranking paper's recipe (one-cycle "
                         "from ~0; ImageNet weights in the paper: pass pretrained=)"),
            paper_name=f"{timm_name} (ranking paper)", search_space=space, tags=("ranking-paper", "ranking"),
        )(_make_factory(QuakeRegressor, dict(RANKING_PAPER_RECIPE, backbone=timm_name)))


_register_builtins()
_register_ranking_paper()
