"""Package attributes imported on first access (PEP 562), for names whose module pulls in torch."""
from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_attributes"]


def lazy_attributes(package, names):
    """``(__getattr__, __dir__)`` for a package whose ``names`` are imported on first access.

    A package keeps ``import`` cheap (no torch, timm, skorch) by binding the returned pair
    as its module-level ``__getattr__`` and ``__dir__``: the first access to one of ``names``
    imports the module that defines it and stores the value in the package, so later
    accesses are plain attribute lookups.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict of str to str
        Public name -> the module that defines it, absolute (``"skquake.datasets"``) or
        relative to ``package`` (``"._views"``).

    Returns
    -------
    __getattr__, __dir__ : callables

    Examples
    --------
    In a package's ``__init__.py``:

    >>> __getattr__, __dir__ = lazy_attributes("skquake.datasets", {"LazyImages": "._views"})
    >>> __getattr__("LazyImages").__name__
    'LazyImages'
    """
    names = dict(names)

    def __getattr__(name):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
