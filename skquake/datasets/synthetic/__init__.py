"""Synthetic files in the real layouts, so that everything runs offline.

:func:`make_quakeset` writes the QuakeSet layout with simulated SAR (``skquake make-quakeset``);
:func:`make_damage_dataset` writes the building-damage format (``skquake make-damage``);
:func:`make_scene_pair` tiles a QuakeSet file's samples into a pair of GeoTIFF scenes
(``skquake make-scene``, the ``geo`` extra), to try scene prediction offline.
"""
from ._damage import make_damage_dataset
from ._quakeset import LAND_COVER, make_quakeset
from ._scene import make_scene_pair

__all__ = ["LAND_COVER", "make_damage_dataset", "make_quakeset", "make_scene_pair"]
