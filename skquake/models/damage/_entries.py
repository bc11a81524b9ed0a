"""Registry entries of the damage models: damage-fusion, damage-image and damage-meta-rf."""
from __future__ import annotations

from .._registry import PIPELINE_EXPECTED_FAILED_CHECKS, Categorical, FloatRange, IntRange, register_model
from ._fusion import DamageFusionClassifier
from ._metadata import make_metadata_forest

_FUSION_SPACE = {
    "lr": FloatRange(1e-4, 1e-2, log=True),
    "gamma": Categorical([0.0, 2.0, 4.0]),
    "meta_dropout": Categorical([0.0, 0.1, 0.3]),
}
# make_metadata_forest's own arguments; the others are the pipeline's (rf__*, ...)
_FOREST_ARGUMENTS = ("metadata_columns", "input_shape", "random_state", "n_estimators", "max_depth",
                     "min_samples_leaf", "class_weight", "n_jobs")


@register_model("damage-fusion", task="damage", family="deep",
                description="timm image backbone + metadata MLP (LayerNorm), class-weighted focal loss",
                paper_name="QuakeMetaFormer (QMF)", search_space=_FUSION_SPACE,
                tags=("paper", "metadata", "image"))
def damage_fusion(**overrides):
    return DamageFusionClassifier(**overrides)


@register_model("damage-image", task="damage", family="deep",
                description="the fusion network without its metadata branch (image only)",
                paper_name="QuakeImageFormer (QIF)",
                search_space={"lr": _FUSION_SPACE["lr"], "gamma": _FUSION_SPACE["gamma"]},
                tags=("paper", "image"))
def damage_image(**overrides):
    return DamageFusionClassifier(**{"use_metadata": False, **overrides})


@register_model("damage-meta-rf", task="damage", family="shallow",
                description="metadata only: median imputation + class-weighted random forest",
                paper_name="RF (Yu et al. 2024)",
                search_space={"rf__n_estimators": IntRange(100, 500, grid_values=(100, 300, 500)),
                              "rf__min_samples_leaf": IntRange(1, 5, grid_values=(1, 2, 5)),
                              "rf__max_depth": Categorical([None, 8, 16])},
                tags=("paper", "metadata"),
                expected_failed_checks={
                    **PIPELINE_EXPECTED_FAILED_CHECKS,
                    "check_estimators_nan_inf": (
                        "missing metadata is imputed by design (SimpleImputer); Pipeline does not take "
                        "allow_nan from its first step"
                    ),
                })
def damage_meta_rf(**overrides):
    top = {k: overrides.pop(k) for k in list(overrides) if k in _FOREST_ARGUMENTS}
    return make_metadata_forest(**top).set_params(**overrides)
