"""SAR preprocessing as scikit-learn transformers, and the array functions they use.

The transformers take 4-D image stacks ``(n, C, H, W)`` or flattened ones with ``input_shape``
(see :mod:`skquake.preprocessing._base`): layout and radiometry in ``_transformers``
(:class:`ToImages`, :class:`Flatten`, :class:`NaNFiller`, :class:`Decibels`,
:class:`AveragePooling`), channel operations in ``_change`` (:class:`ChannelSelector`,
:class:`ChangeFeatures`), location-invariant features in ``_statistics``
(:class:`SpatialStatistics`).
"""
from ..utils import average_pool, fill_nan, from_decibels, to_decibels
from ._change import ChangeFeatures, ChannelSelector
from ._statistics import SpatialStatistics
from ._transformers import AveragePooling, Decibels, Flatten, NaNFiller, ToImages

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
