"""Parameter validation: scikit-learn's declarative constraints, plus the two pieces they lack.

skquake validates parameters the scikit-learn way: estimators declare
``_parameter_constraints`` and public functions use
:func:`sklearn.utils._param_validation.validate_params`. Both raise
:class:`~sklearn.utils._param_validation.InvalidParameterError` (a ``ValueError`` and a
``TypeError``) with a message that names the parameter, the caller, what was expected and what
was given. The constraint classes and ``_fit_context`` live in private scikit-learn modules; they are
re-exported here so that the rest of the package imports them from one place.

Two things the constraints cannot say are written by hand, here:

* :class:`StrictInterval`: scikit-learn's :class:`Interval` takes ``True`` / ``False`` as 1 / 0
  (``bool`` is an ``Integral``). A bool passed as a count, a size or a fill value is a mistake
  in skquake, which has always refused it.
* :func:`check_image_shape`: a constraint checks a value's type or range, not the contents of a
  tuple; ``input_shape`` must be a ``(C, H, W)`` of positive ints.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Hidden,
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "StrictInterval",
    "check_image_shape",
    "fit_context",
    "validate_parameter_constraints",
    "validate_params",
]


#: ``@fit_context(prefer_skip_nested_validation=True)`` on ``fit``: validates the estimator's
#: ``_parameter_constraints`` first (scikit-learn's ``_fit_context``, re-exported from here).
fit_context = _fit_context


class StrictInterval(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` that refuses bools.

    Same arguments and message as scikit-learn's ``Interval``; ``True`` and ``False`` (Python
    or numpy) are not numbers here.

    Examples
    --------
    >>> from numbers import Integral
    >>> positive = StrictInterval(Integral, 1, None, closed="left")
    >>> positive.is_satisfied_by(3), positive.is_satisfied_by(True)
    (True, False)
    >>> str(positive)
    'an int in the range [1, inf)'
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def check_image_shape(value, name="input_shape", owner=None):
    """Check an image shape parameter: ``(C, H, W)`` of positive ints, or None.

    Parameters
    ----------
    value : tuple of 3 int, or None
        The parameter's value (any sequence of three positive integers, not bools).
    name : str, default="input_shape"
        The parameter's name, for the message.
    owner : str, optional
        The estimator or function it belongs to, for the message.

    Returns
    -------
    tuple of 3 int, or None

    Raises
    ------
    InvalidParameterError
        Naming the parameter, its owner and the value.

    Examples
    --------
    >>> check_image_shape([4, 64, 64])
    (4, 64, 64)
    >>> try:
    ...     check_image_shape((4, 64), owner="Decibels")
    ... except ValueError as exc:  # an InvalidParameterError
    ...     print(exc)
    Decibels: input_shape must be (C, H, W) of positive ints or None, got (4, 64)
    """
    if value is None:
        return None
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    ok = len(items) == 3 and all(
        isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) and s >= 1 for s in items
    )
    if not ok:
        prefix = f"{owner}: " if owner else ""
        raise InvalidParameterError(f"{prefix}{name} must be (C, H, W) of positive ints or None, got {value!r}")
    return tuple(int(s) for s in items)
