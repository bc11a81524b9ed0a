"""Synthetic files in the real layouts, so that everything runs offline.

:func:`make_quakeset` writes the QuakeSet layout with simulated SAR (``skquake make-quakeset``);
:func:`make_damage_dataset` writes the building-damage format (``skquake make-damage``);
:func:`make_scene_pair` tiles a QuakeSet file's samples into a pair of GeoTIFF scenes
(``skquake make-scene``, the ``geo`` extra), to try scene prediction offline;
:func:`write_epicentre_table` writes a file's epicentres as the table a user of the real file
passes (:data:`GENERATOR_VERSION`: the version of the synthetic world, stored in every file).
"""
from ._damage import make_damage_dataset
from ._quakeset import GENERATOR_VERSION, LAND_COVER, make_quakeset
from ._scene import make_scene_pair
from ._table import write_epicentre_table

__all__ = ["GENERATOR_VERSION", "LAND_COVER", "make_damage_dataset", "make_quakeset", "make_scene_pair",
           "write_epicentre_table"]
