"""Small pieces every layer uses: all-or-nothing file output and array functions on SAR images.

This is the bottom layer: it imports nothing else from skquake.
"""
from ._io import atomic_output
from ._sar import average_pool, fill_nan, from_decibels, to_decibels

__all__ = ["atomic_output", "average_pool", "fill_nan", "from_decibels", "to_decibels"]
