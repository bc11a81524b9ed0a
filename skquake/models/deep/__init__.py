"""Deep models: timm backbones as scikit-learn estimators through skorch, and their losses."""
from ._estimators import (
    FitCheckpoint,
    NoSingletonBatchSampler,
    QuakeClassifier,
    QuakeRegressor,
    TrainingDefaultsMixin,
    WarmupOneCycle,
    softmax,
)
from ._losses import FocalLoss, PairwiseRankingLoss, RegressionRankingLoss
from ._nets import SARNet, build_backbone, random_flips

__all__ = [
    "FitCheckpoint",
    "FocalLoss",
    "NoSingletonBatchSampler",
    "PairwiseRankingLoss",
    "QuakeClassifier",
    "QuakeRegressor",
    "RegressionRankingLoss",
    "SARNet",
    "TrainingDefaultsMixin",
    "WarmupOneCycle",
    "build_backbone",
    "random_flips",
    "softmax",
]
