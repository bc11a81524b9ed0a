"""Metrics of the epicentre tasks (QuakeSet tasks 3 and 7): containment and location.

``y_true`` and ``y_pred`` are ``(n, 4)`` arrays in ``skquake.datasets.EPICENTRE_COLUMNS`` order,
``[contains, east_km, north_km, depth_km]``, the offsets measured from the patch centre on the
local tangent plane (east and north positive), as :func:`skquake.datasets.load_epicentre`
returns them and the epicentre estimators predict them.

- containment (column 0, every row): :func:`epicentre_accuracy`, :func:`epicentre_f1`;
- location, on the rows whose TRUE ``contains`` is 1 (the paper defines position and depth
  there only; elsewhere the truth may be NaN): :func:`epicentre_error_km`, the mean
  great-circle distance between the true and the predicted epicentre, and
  :func:`depth_mae_km`. The predicted containment does not enter them: a model is scored on
  where it puts the epicentre of every patch that has one. With no such row they are NaN.
"""
from __future__ import annotations

import numpy as np
from sklearn import metrics as _skm

from ..datasets import check_epicentre_array
from ..utils import haversine_km, offset_lonlat
from ._registry import register_metric

__all__ = ["depth_mae_km", "epicentre_accuracy", "epicentre_error_km", "epicentre_f1"]


def _check_pair(y_true, y_pred, columns=()):
    """Both as float64 (n, 4), containment checked, and ``columns`` finite on the rows whose TRUE
    contains is 1; the true contains mask."""
    y_true, inside = check_epicentre_array(y_true, "y_true", located=True, columns=columns)
    y_pred, _ = check_epicentre_array(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} samples but y_pred has {len(y_pred)}")
    check_epicentre_array(y_pred, "y_pred", located=inside, columns=columns)
    return y_true, y_pred, inside


def _located(y_true, y_pred, columns):
    """The given columns of both on the rows that contain the epicentre."""
    y_true, y_pred, inside = _check_pair(y_true, y_pred, columns)
    return y_true[inside][:, columns], y_pred[inside][:, columns]


@register_metric("epicentre_accuracy", label="Containment accuracy", tasks=("epicentre",))
def epicentre_accuracy(y_true, y_pred):
    """Accuracy of the predicted containment (column 0) over every sample.

    Examples
    --------
    >>> nan = float("nan")
    >>> epicentre_accuracy([[1, 0.1, 0.2, 10], [0, nan, nan, nan]], [[1, 0, 0, 9], [1, 0, 0, 9]])
    0.5
    """
    y_true, y_pred, _ = _check_pair(y_true, y_pred)
    return float(_skm.accuracy_score(y_true[:, 0], y_pred[:, 0]))


@register_metric("epicentre_f1", label="Containment F1", tasks=("epicentre",))
def epicentre_f1(y_true, y_pred):
    """F1 of the predicted containment (column 0), "contains the epicentre" the positive class.

    0 when neither the truth nor the prediction has a positive (no precision or recall).

    Examples
    --------
    >>> nan = float("nan")
    >>> y_true = [[1, 0.1, 0.2, 10], [1, 0.0, 0.0, 12], [0, nan, nan, nan]]
    >>> epicentre_f1(y_true, [[1, 0, 0, 9], [0, 0, 0, 9], [1, 0, 0, 9]])
    0.5
    """
    y_true, y_pred, _ = _check_pair(y_true, y_pred)
    return float(_skm.f1_score(y_true[:, 0], y_pred[:, 0], pos_label=1.0, zero_division=0.0))


@register_metric("epicentre_error_km", label="Epicentre error (km)", greater_is_better=False, tasks=("epicentre",))
def epicentre_error_km(y_true, y_pred):
    """Mean great-circle distance (km) between the true and the predicted epicentre.

    Over the rows whose true ``contains`` is 1. Both epicentres are placed on the sphere
    from their east / north offsets (:func:`skquake.utils.offset_lonlat`, the azimuthal
    equidistant projection) around a common patch centre, and their distance is
    :func:`skquake.utils.haversine_km`. The centre is put at longitude 0, latitude 0: the
    patch's own centre is not in ``y``, and the distance between two points a few km from it
    changes with its latitude by less than a part in a million.

    Returns
    -------
    float
        km; NaN when no row contains the epicentre.

    Examples
    --------
    >>> nan = float("nan")
    >>> y_true = [[1, 3.0, 4.0, 10.0], [0, nan, nan, nan]]
    >>> y_pred = [[0, 0.0, 0.0, 12.0], [1, 1.0, 1.0, 8.0]]
    >>> round(epicentre_error_km(y_true, y_pred), 6)  # 5 km (3-4-5), the second row not counted
    5.0
    """
    t, p = _located(y_true, y_pred, [1, 2])
    if not len(t):
        return float("nan")
    lon_t, lat_t = offset_lonlat(0.0, 0.0, t[:, 0], t[:, 1])
    lon_p, lat_p = offset_lonlat(0.0, 0.0, p[:, 0], p[:, 1])
    return float(np.mean(haversine_km(lon_t, lat_t, lon_p, lat_p)))


@register_metric("depth_mae_km", label="Depth MAE (km)", greater_is_better=False, tasks=("epicentre",))
def depth_mae_km(y_true, y_pred):
    """Mean absolute error of the hypocentre depth (km), over the rows whose true ``contains`` is 1.

    Returns
    -------
    float
        km; NaN when no row contains the epicentre.

    Examples
    --------
    >>> nan = float("nan")
    >>> depth_mae_km([[1, 0, 0, 10.0], [1, 0, 0, 30.0], [0, nan, nan, nan]],
    ...              [[1, 0, 0, 12.0], [0, 5, 5, 25.0], [0, 0, 0, 99.0]])
    3.5
    """
    t, p = _located(y_true, y_pred, [3])
    if not len(t):
        return float("nan")
    return float(np.mean(np.abs(t[:, 0] - p[:, 0])))
