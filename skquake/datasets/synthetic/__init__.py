"""Synthetic files in the real layouts, so that everything runs offline.

:func:`make_quakeset` writes the QuakeSet layout with simulated SAR (``skquake make-quakeset``);
:func:`make_damage_dataset` writes the building-damage format (``skquake make-damage``).
"""
from ._damage import make_damage_dataset
from ._quakeset import LAND_COVER, make_quakeset

__all__ = ["LAND_COVER", "make_damage_dataset", "make_quakeset"]
