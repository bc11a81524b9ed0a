"""Small pieces every layer uses: all-or-nothing file output, array functions on SAR images,
parameter validation, readable plots (wrapped text, limits that never zoom to noise, tick labels
that never overlap), the parser and runner every ``skquake`` command shares (:class:`CommandParser`),
and the discovery of the package's estimators.

This is the bottom layer: it imports nothing else from skquake (:func:`all_estimators` finds
the estimators with dynamic imports, when it is called).
"""
from ._cli import CommandParser, checked, input_file, name_value, new_file, output_folder
from ._discovery import all_estimators
from ._geo import EARTH_RADIUS_KM, haversine_km, lonlat_offset, offset_lonlat
from ._io import (
    FileChangedError,
    FileFingerprint,
    ResourceLimitError,
    atomic_output,
    available_memory,
    check_capacity,
    check_input_file,
    check_unchanged,
    file_fingerprint,
    format_bytes,
)
from ._optional import import_optional
from ._plotting import add_figure_legend, chars_that_fit, fit_tick_labels, padded_limits, wrap_text
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
    "EARTH_RADIUS_KM",
    "CommandParser",
    "FileChangedError",
    "FileFingerprint",
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "ResourceLimitError",
    "StrOptions",
    "StrictInterval",
    "add_figure_legend",
    "all_estimators",
    "atomic_output",
    "available_memory",
    "average_pool",
    "chars_that_fit",
    "check_capacity",
    "check_image_shape",
    "checked",
    "check_input_file",
    "check_unchanged",
    "fill_nan",
    "fit_context",
    "file_fingerprint",
    "fit_tick_labels",
    "format_bytes",
    "haversine_km",
    "import_optional",
    "lonlat_offset",
    "offset_lonlat",
    "input_file",
    "name_value",
    "new_file",
    "output_folder",
    "from_decibels",
    "padded_limits",
    "to_decibels",
    "validate_parameter_constraints",
    "validate_params",
    "wrap_text",
]
