"""Reading QuakeSet and building-damage files (lazily) and writing synthetic ones.

:class:`QuakeSet` and :func:`load_quakeset` read the public ``earthquakes.h5`` layout;
:class:`LazyImages` / :func:`lazy_xy` are views that scikit-learn can split without reading
pixels; :class:`DamageDataset` and :func:`load_damage` read the damage format.
:mod:`skquake.datasets.synthetic` writes files of both layouts.
"""
from ._damage import (
    CLASS_NAMES,
    DEFAULT_METADATA_COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    DamageDataset,
    DamageFormatError,
    load_damage,
    read_damage_layout,
    split_layout,
    to_layout,
)
from ._quakeset import MODES, SPLITS, QuakeSet, QuakeSetFormatError, load_quakeset
from ._views import LazyImages, lazy_xy
from .synthetic import make_damage_dataset, make_quakeset

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_METADATA_COLUMNS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODES",
    "SPLITS",
    "DamageDataset",
    "DamageFormatError",
    "LazyImages",
    "QuakeSet",
    "QuakeSetFormatError",
    "lazy_xy",
    "load_damage",
    "load_quakeset",
    "make_damage_dataset",
    "make_quakeset",
    "read_damage_layout",
    "split_layout",
    "to_layout",
]
