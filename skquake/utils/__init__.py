"""Small pieces every layer uses: all-or-nothing file output, array functions on SAR images,
parameter validation, and the discovery of the package's estimators.

This is the bottom layer: it imports nothing else from skquake (:func:`all_estimators` finds
the estimators with dynamic imports, when it is called).
"""
from ._discovery import all_estimators
from ._io import atomic_output
from ._optional import import_optional
from ._sar import average_pool, fill_nan, from_decibels, to_decibels
from ._validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrictInterval,
    StrOptions,
    check_image_shape,
    fit_context,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "StrictInterval",
    "all_estimators",
    "atomic_output",
    "average_pool",
    "check_image_shape",
    "fill_nan",
    "fit_context",
    "import_optional",
    "from_decibels",
    "to_decibels",
    "validate_parameter_constraints",
    "validate_params",
]
