"""Deep models: timm backbones as scikit-learn estimators through skorch, and their losses.

:class:`QuakeNetBase` is the base of every deep estimator (validation, seeding, the training
recipe, persistence); :class:`QuakeRegressor` and :class:`QuakeClassifier` take QuakeSet
images, and :class:`skquake.models.damage.DamageFusionClassifier` builds on the same base.
Importing this package registers the deep models (``skquake.models.list_models(family="deep")``).
"""
from . import _entries  # noqa: F401  (registers the deep models)
from ._base import ClassifierNetMixin, QuakeNetBase, softmax
from ._callbacks import FitCheckpoint, WarmupOneCycle
from ._data import NoSingletonBatchSampler
from ._estimators import QuakeClassifier, QuakeRegressor
from ._losses import FocalLoss, PairwiseRankingLoss, RegressionRankingLoss, weighted_loss
from ._nets import SARNet, backbone_forward, build_backbone, full_precision, random_flips

__all__ = [
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
    "random_flips",
    "softmax",
    "weighted_loss",
]
