"""SAR preprocessing as scikit-learn transformers, and the array functions they use."""
from ..utils import average_pool, fill_nan, from_decibels, to_decibels
from ._transformers import (
    AveragePooling,
    ChangeFeatures,
    ChannelSelector,
    Decibels,
    Flatten,
    NaNFiller,
    SpatialStatistics,
    ToImages,
)

__all__ = [
    "AveragePooling",
    "ChangeFeatures",
    "ChannelSelector",
    "Decibels",
    "Flatten",
    "NaNFiller",
    "SpatialStatistics",
    "ToImages",
    "average_pool",
    "fill_nan",
    "from_decibels",
    "to_decibels",
]
