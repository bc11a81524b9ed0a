"""Building-damage models: image + metadata fusion (QuakeMetaFormer), its image-only variant
and a metadata-only random forest."""
from ._estimators import (
    DamageFusionClassifier,
    MetadataSelector,
    balanced_class_weights,
    make_metadata_forest,
)

__all__ = ["DamageFusionClassifier", "MetadataSelector", "balanced_class_weights", "make_metadata_forest"]
