"""Deep models: timm backbones as scikit-learn estimators through skorch, and their losses.

:class:`QuakeNetBase` is the base of every deep estimator (validation, seeding, the training
recipe, persistence); :class:`QuakeRegressor` and :class:`QuakeClassifier` take QuakeSet
images, and :class:`skquake.models.damage.DamageFusionClassifier` builds on the same base.
:class:`BackboneFeatures` turns images into a timm backbone's pooled features (a transformer).
Importing this package registers the deep models (``skquake.models.list_models(family="deep")``).
"""
from . import _entries, _feature_entries  # noqa: F401  (register the deep models and feature pipelines)
from ._base import ClassifierNetMixin, QuakeNetBase, softmax
from ._callbacks import FitCheckpoint, WarmupOneCycle
from ._data import NoSingletonBatchSampler
from ._estimators import QuakeClassifier, QuakeRegressor
from ._feature_entries import make_features_pipeline
from ._features import BackboneFeatures
from ._losses import FocalLoss, PairwiseRankingLoss, RegressionRankingLoss, weighted_loss
from ._nets import SARNet, backbone_forward, build_backbone, full_precision, random_flips

__all__ = [
    "BackboneFeatures",
    "ClassifierNetMixin",
    "FitCheckpoint",
    "FocalLoss",
    "NoSingletonBatchSampler",
    "PairwiseRankingLoss",
    "QuakeClassifier",
    "QuakeNetBase",
    "QuakeRegressor",
    "RegressionRankingLoss",
    "SARNet",
    "WarmupOneCycle",
    "backbone_forward",
    "build_backbone",
    "full_precision",
    "make_features_pipeline",
    "random_flips",
    "softmax",
    "weighted_loss",
]
