"""Unsupervised per-pixel change detection on bitemporal SAR pairs (QuakeSet task 4).

Every detector takes bitemporal pairs ``(n, 4, H, W)`` of linear sigma0 (or a lazy
:class:`~skquake.datasets.QuakeSet`, read one pair at a time), ``fit(X, y=None)`` on unlabelled
pairs, and gives per-pixel scores (``score_samples``, ``decision_function``) and binary masks
(``predict``, ``(n, H, W)`` uint8). The classical baselines decide per pair
(:class:`LogRatioChangeDetector`: log-ratio + Otsu or k-means; :class:`PCAKMeansChangeDetector`:
Celik 2009); :class:`NoveltyChangeDetector` learns what unchanged ground looks like from the
training pairs; :class:`TranslationChangeDetector` (deep, on
:class:`~skquake.models.deep.QuakeNetBase`) learns to predict the second date from the first
and flags where it fails. Importing this package registers them (``list_models(task="change")``).
"""
from ..._lazy import lazy_attributes
from . import _entries  # noqa: F401  (registers the change models)
from ._base import ChangeDetectorMixin, combined_log_ratio, valid_pixels
from ._classical import LogRatioChangeDetector, PCAKMeansChangeDetector
from ._novelty import NoveltyChangeDetector

# The deep detector and its net import torch: they are imported on first access (PEP 562) so
# that ``import skquake.models.change`` stays torch-free for the shallow detectors.
_LAZY_DEEP = ("TranslationChangeDetector", "TranslationNet")

__all__ = [
    "ChangeDetectorMixin",
    "LogRatioChangeDetector",
    "NoveltyChangeDetector",
    "PCAKMeansChangeDetector",
    "TranslationChangeDetector",
    "TranslationNet",
    "combined_log_ratio",
    "valid_pixels",
]


__getattr__, __dir__ = lazy_attributes(__name__, dict.fromkeys(_LAZY_DEEP, "._deep"))
