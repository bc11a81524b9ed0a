"""Epicentre and hypocentre estimation from a bitemporal pair or a single image (QuakeSet tasks 3 and 7).

:class:`EpicentreEstimator` pairs any containment classifier with a position / depth
regressor (scikit-learn only); :class:`DeepEpicentreEstimator` is one timm backbone with both
heads. Both take ``y`` of shape ``(n, 4)`` in :data:`EPICENTRE_COLUMNS` order and predict the
same. Importing this package registers the models of task ``"epicentre"``
(``skquake.models.list_models(task="epicentre")``).
"""
from . import _entries  # noqa: F401  (registers the epicentre models)
from ._deep import DeepEpicentreEstimator, EpicentreLoss
from ._entries import make_epicentre_pipeline
from ._meta import EpicentreEstimator
from ._nets import EpicentreNet
from ._targets import EPICENTRE_COLUMNS, check_epicentre_targets

__all__ = [
    "EPICENTRE_COLUMNS",
    "DeepEpicentreEstimator",
    "EpicentreEstimator",
    "EpicentreLoss",
    "EpicentreNet",
    "check_epicentre_targets",
    "make_epicentre_pipeline",
]
