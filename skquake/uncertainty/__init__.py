"""Honest uncertainty: conformal prediction intervals for magnitude, calibrated detection
probabilities, both with calibration sets drawn by event.

MAPIE (the ``uncertainty`` extra) is imported when a :class:`ConformalRegressor` is fitted, so
that importing this package never needs it.
"""
from ._calibration import GroupCalibratedClassifierCV
from ._conformal import ConformalRegressor

__all__ = ["ConformalRegressor", "GroupCalibratedClassifierCV"]
