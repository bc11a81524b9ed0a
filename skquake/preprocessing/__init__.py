"""SAR preprocessing as scikit-learn transformers, and the array functions they use.

The transformers take 4-D image stacks ``(n, C, H, W)`` or flattened ones with ``input_shape``
(see :mod:`skquake.preprocessing._base`): layout and radiometry in ``_transformers``
(:class:`ToImages`, :class:`Flatten`, :class:`NaNFiller`, :class:`Decibels`,
:class:`AveragePooling`), channel operations in ``_change`` (:class:`ChannelSelector`,
:class:`ChangeFeatures`), speckle filters in ``_speckle`` (:class:`SpeckleFilter`),
location-invariant features in ``_statistics`` (:class:`SpatialStatistics`), location-aware
ones in ``_location`` (:class:`LocationFeatures`).
"""
from ..utils import average_pool, fill_nan, from_decibels, to_decibels
from ._change import ChangeFeatures, ChannelSelector
from ._speckle import SPECKLE_FILTERS, SpeckleFilter, local_mean, speckle_filter
from ._location import LocationFeatures
from ._statistics import SpatialStatistics
from ._transformers import AveragePooling, Decibels, Flatten, NaNFiller, ToImages

__all__ = [
    "SPECKLE_FILTERS",
    "AveragePooling",
    "ChangeFeatures",
    "ChannelSelector",
    "Decibels",
    "Flatten",
    "LocationFeatures",
    "NaNFiller",
    "SpatialStatistics",
    "SpeckleFilter",
    "ToImages",
    "average_pool",
    "fill_nan",
    "from_decibels",
    "local_mean",
    "speckle_filter",
    "to_decibels",
]
