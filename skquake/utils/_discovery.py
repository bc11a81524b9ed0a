"""Find skquake's estimators, in the manner of :func:`sklearn.utils.discovery.all_estimators`.

The common tests read this, so that a new estimator is checked without being listed anywhere.
It imports the package's modules dynamically, when called: this module sits in the bottom
layer and has no static import of the layers above it.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from operator import itemgetter
from pathlib import Path

from sklearn.base import BaseEstimator, ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin

from ._validation import InvalidParameterError, StrOptions, validate_params

__all__ = ["all_estimators"]

_PACKAGE = "skquake"
_TYPE_FILTERS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def _public_modules():
    root = Path(__file__).resolve().parent.parent
    yield importlib.import_module(_PACKAGE)
    for _, name, _ in pkgutil.walk_packages(path=[str(root)], prefix=f"{_PACKAGE}."):
        # Private modules are re-exported by their package's __init__: what is public is there.
        if "._" in name:
            continue
        yield importlib.import_module(name)


def _is_abstract(cls) -> bool:
    return bool(getattr(cls, "__abstractmethods__", None))


@validate_params(
    {"type_filter": [None, StrOptions(set(_TYPE_FILTERS)), list, tuple]},
    prefer_skip_nested_validation=True,
)
def all_estimators(type_filter=None):
    """Every public scikit-learn estimator class that skquake defines.

    Walks the package (importing every public module, torch included), and keeps the classes
    defined in skquake that subclass :class:`sklearn.base.BaseEstimator`, are not abstract and
    have a public name. Estimators built by factories (the registered pipelines) are not
    classes of their own: :func:`skquake.models.list_models` lists those.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"} or list of such str, \
default=None
        Keep only the estimators of these kinds (a class of several kinds is kept once).

    Returns
    -------
    list of (str, type)
        ``(class name, class)``, sorted by name.

    Examples
    --------
    >>> from skquake.utils import all_estimators
    >>> dict(all_estimators(type_filter="transformer"))["Decibels"]
    <class 'skquake.preprocessing._transformers.Decibels'>
    """
    found = set()
    for module in _public_modules():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (name.startswith("_") or not cls.__module__.startswith(f"{_PACKAGE}.")
                    or not issubclass(cls, BaseEstimator) or _is_abstract(cls)):
                continue
            found.add((name, cls))
    estimators = sorted(found, key=itemgetter(0))
    if type_filter is None:
        return estimators
    kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    # A constraint checks a list's type, not its items.
    if any(k not in _TYPE_FILTERS for k in kinds):
        raise InvalidParameterError(
            f"The 'type_filter' parameter of all_estimators must be None or one or a list of "
            f"{sorted(_TYPE_FILTERS)}. Got {type_filter!r} instead."
        )
    mixins = tuple(_TYPE_FILTERS[k] for k in kinds)
    return [(name, cls) for name, cls in estimators if issubclass(cls, mixins)]
