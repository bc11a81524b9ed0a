"""Building-damage models: image + metadata fusion (QuakeMetaFormer), its image-only variant
and a metadata-only random forest.

:class:`DamageFusionClassifier` is a skorch net on the base of every skquake deep estimator
(:class:`skquake.models.deep.QuakeNetBase`) with the torch module :class:`FusionNet`;
:class:`MetadataSelector` and :func:`make_metadata_forest` are scikit-learn only. Importing
this package registers ``damage-fusion``, ``damage-image`` and ``damage-meta-rf``.
"""
from . import _entries  # noqa: F401  (registers the damage models)
from ._fusion import DamageFusionClassifier
from ._metadata import MetadataSelector, make_metadata_forest
from ._nets import FusionNet
from ._weights import balanced_class_weights

__all__ = ["DamageFusionClassifier", "FusionNet", "MetadataSelector", "balanced_class_weights", "make_metadata_forest"]
