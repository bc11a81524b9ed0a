"""skquake: earthquake monitoring from Sentinel-1 SAR image pairs as a scikit-learn problem.

The heavy modules (torch, timm, skorch) are imported lazily: ``import skquake`` is cheap, and
``skquake.QuakeSet`` or ``skquake.create_model`` pull in what they need on first use.
"""
from __future__ import annotations

from ._version import __version__
from ._lazy import lazy_attributes

# Public name -> module that defines it. Resolved on first attribute access (PEP 562).
_LAZY = {
    "QuakeSet": "skquake.datasets",
    "load_quakeset": "skquake.datasets",
    "make_quakeset": "skquake.datasets",
    "lazy_xy": "skquake.datasets",
    "make_damage_dataset": "skquake.datasets",
    "load_damage": "skquake.datasets",
    "list_models": "skquake.models",
    "create_model": "skquake.models",
    "get_model_spec": "skquake.models",
    "get_search_space": "skquake.models",
    "register_model": "skquake.models",
    "get_scorer": "skquake.metrics",
    "get_metric": "skquake.metrics",
    "list_metrics": "skquake.metrics",
    "register_metric": "skquake.metrics",
    "EventKFold": "skquake.model_selection",
    "QuakeRegressor": "skquake.models.deep",
    "QuakeClassifier": "skquake.models.deep",
    "DamageFusionClassifier": "skquake.models.damage",
    "tune": "skquake.tuning",
    "run_benchmark": "skquake.benchmark",
}
__all__ = sorted(_LAZY) + ["__version__"]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
