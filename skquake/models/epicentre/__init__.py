"""Epicentre and hypocentre estimation from a bitemporal pair or a single image (QuakeSet tasks 3 and 7).

:class:`EpicentreEstimator` pairs any containment classifier with a position / depth
regressor (scikit-learn only); :class:`DeepEpicentreEstimator` is one timm backbone with both
heads. Both take ``y`` of shape ``(n, 4)`` in :data:`EPICENTRE_COLUMNS` order and predict the
same. Importing this package registers the models of task ``"epicentre"``
(``skquake.models.list_models(task="epicentre")``).
"""
from ..._lazy import lazy_attributes
from . import _entries  # noqa: F401  (registers the epicentre models)
from ._entries import make_epicentre_pipeline
from ._meta import EpicentreEstimator
from ._targets import EPICENTRE_COLUMNS, EpicentreMixin, check_epicentre_targets

# The deep estimator, its loss and its net import torch: they are imported on first access
# (PEP 562) so that ``import skquake.models.epicentre`` stays torch-free for the shallow models.
_LAZY_DEEP = {"DeepEpicentreEstimator": "._deep", "EpicentreLoss": "._deep", "EpicentreNet": "._nets"}

__all__ = [
    "EPICENTRE_COLUMNS",
    "DeepEpicentreEstimator",
    "EpicentreEstimator",
    "EpicentreLoss",
    "EpicentreMixin",
    "EpicentreNet",
    "check_epicentre_targets",
    "make_epicentre_pipeline",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY_DEEP)
