"""Optional dependencies: imported when a feature needs them, with an error naming the extra."""
from __future__ import annotations

import importlib

__all__ = ["import_optional"]


def import_optional(module: str, extra: str):
    """Import ``module``, or raise an ``ImportError`` that says which skquake extra installs it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"matplotlib.pyplot"``.
    extra : str
        The skquake extra that brings it (``"plot"`` for matplotlib).

    Examples
    --------
    >>> import_optional("json", extra="none").dumps([1])
    '[1]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(f"{top} is needed for this feature but is not installed; install it with "
                          f"pip install 'skquake[{extra}]'") from exc
