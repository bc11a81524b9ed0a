"""Reading QuakeSet and building-damage files (lazily) and writing synthetic ones.

:class:`QuakeSet` and :func:`load_quakeset` read the public ``earthquakes.h5`` layout;
:class:`LazyImages` / :func:`lazy_xy` are views that scikit-learn can split without reading
pixels; :func:`make_cache` / :class:`CachedQuakeSet` convert a file once into a decoded cache read at
memory speed; :func:`open_quakeset` and :func:`load_quakeset` take either a file or a cache
folder; :class:`DamageDataset` and :func:`load_damage` read the damage format.
:mod:`skquake.datasets.synthetic` writes files of both layouts.

Errors: a file not in its layout raises a :class:`HDF5FormatError` (``QuakeSetFormatError``,
``DamageFormatError``) naming the file (``path``) and the HDF5 object (``key``); a file that
changed on disk after it was opened raises :class:`~skquake.utils.FileChangedError`.
"""
from .._lazy import lazy_attributes
from ..utils import FileChangedError
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
from ._cache import CACHE_DTYPES, CachedQuakeSet, StaleCacheError, make_cache
from ._hdf5 import HDF5FormatError
from ._quakeset import MODES, SPLITS, QuakeSet, QuakeSetFormatError
from ._source import check_hdf5_source, check_quakeset_source, load_quakeset, open_quakeset, quakeset_argument
from .synthetic import make_damage_dataset, make_quakeset
from ._change import CHANGE_MASKS, load_change, read_change_masks
from ._epicentre import (
    EPICENTRE_COLUMNS,
    MissingEpicentresError,
    check_epicentre_array,
    epicentre_targets,
    load_epicentre,
    read_epicentres,
    read_patch_centres,
)
from ._epicentre import TABLE_COLUMNS as EPICENTRE_TABLE_COLUMNS

# LazyImages is skorch's SliceDataset, and skorch imports torch: the views are imported on
# first access (PEP 562) so that ``import skquake.datasets`` stays torch-free.
_LAZY_VIEWS = ("LazyImages", "lazy_xy")

__all__ = [
    "CACHE_DTYPES",
    "CHANGE_MASKS",
    "CLASS_NAMES",
    "DEFAULT_METADATA_COLUMNS",
    "EPICENTRE_COLUMNS",
    "EPICENTRE_TABLE_COLUMNS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODES",
    "SPLITS",
    "CachedQuakeSet",
    "DamageDataset",
    "DamageFormatError",
    "FileChangedError",
    "HDF5FormatError",
    "MissingEpicentresError",
    "LazyImages",
    "QuakeSet",
    "QuakeSetFormatError",
    "StaleCacheError",
    "check_epicentre_array",
    "check_hdf5_source",
    "check_quakeset_source",
    "lazy_xy",
    "epicentre_targets",
    "load_change",
    "load_damage",
    "load_epicentre",
    "load_quakeset",
    "make_cache",
    "make_damage_dataset",
    "make_quakeset",
    "open_quakeset",
    "quakeset_argument",
    "read_damage_layout",
    "read_change_masks",
    "read_epicentres",
    "read_patch_centres",
    "split_layout",
    "to_layout",
]


__getattr__, __dir__ = lazy_attributes(__name__, dict.fromkeys(_LAZY_VIEWS, "._views"))
