"""Per-pixel change-detection metrics (QuakeSet task 4).

``y_true`` holds the masks of :func:`skquake.datasets.load_change`, ``(n, 2, H, W)`` with
``[:, 0]`` the earthquake change and ``[:, 1]`` any substantial change (the order of
``skquake.datasets.CHANGE_MASKS``), or one mask ``(n, H, W)``; ``y_pred`` the detector's masks
``(n, H, W)`` in {0, 1}. Every metric pools all pixels of all samples into one confusion matrix
(a sample with little change weighs as much as its pixels), and is registered twice: against the
earthquake mask (``change_iou_quake``) and against any change (``change_iou_any``).

A ratio whose denominator is 0 (IoU when neither truth nor prediction has a changed pixel, the
missed-change rate without changed pixels, ...) is NaN: undefined, not perfect. Without truth
(``y_true`` None: the real file has no masks) every metric that needs it is NaN;
:func:`changed_fraction` reads the prediction only.
"""
from __future__ import annotations

import numpy as np

from ._registry import register_metric

__all__ = ["CHANGE_REFERENCES", "change_confusion", "change_scores", "changed_fraction"]

#: Metric-name suffix -> index of that mask on the mask axis of ``y_true`` (``CHANGE_MASKS`` order).
CHANGE_REFERENCES = {"quake": 0, "any": 1}

_TASKS = ("change",)


def _no_truth(y_true) -> bool:
    # The registry passes np.asarray(y_true): None arrives as a 0-d object array.
    return y_true is None or (isinstance(y_true, np.ndarray) and y_true.dtype == object and y_true.ndim == 0
                              and y_true.item() is None)


def _binary(y, name):
    y = np.asarray(y)
    if y.dtype == bool:
        return y
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"{name} must hold 0 and 1, got dtype {y.dtype}")
    if y.size and not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(f"{name} must hold 0 and 1 only (binary change masks), found {bad.tolist()}")
    return y.astype(bool)


def _check_pred(y_pred):
    y_pred = _binary(y_pred, "y_pred")
    if y_pred.ndim != 3:
        raise ValueError(f"y_pred must be change masks of shape (n, H, W), got shape {y_pred.shape}")
    return y_pred


def change_confusion(y_true, y_pred, reference="quake"):
    """Pixel counts ``(tn, fp, fn, tp)`` of predicted masks against one reference mask.

    Parameters
    ----------
    y_true : array-like of shape (n, 2, H, W) or (n, H, W)
        Masks as :func:`skquake.datasets.load_change` gives them, or a single mask per sample
        (then used whatever the ``reference``).
    y_pred : array-like of shape (n, H, W)
        Predicted masks in {0, 1}.
    reference : {"quake", "any"}, default="quake"
        Which mask of ``y_true``: the earthquake change or any substantial change.

    Returns
    -------
    tuple of 4 int

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[[[1, 1], [0, 0]], [[1, 1], [1, 0]]]])  # 1 sample: quake, any
    >>> pred = np.array([[[1, 0], [1, 0]]])
    >>> change_confusion(truth, pred, "quake"), change_confusion(truth, pred, "any")
    ((1, 1, 1, 1), (1, 0, 1, 2))
    """
    if reference not in CHANGE_REFERENCES:
        raise ValueError(f"reference must be one of {sorted(CHANGE_REFERENCES)}, got {reference!r}")
    y_pred = _check_pred(y_pred)
    y_true = _binary(y_true, "y_true")
    if y_true.ndim == 4:
        if y_true.shape[1] != len(CHANGE_REFERENCES):
            raise ValueError(f"y_true of shape {y_true.shape}: expected masks (n, 2, H, W) [earthquake, any] "
                             "or one mask (n, H, W)")
        y_true = y_true[:, CHANGE_REFERENCES[reference]]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true masks have shape {y_true.shape} (after choosing the {reference!r} mask) but "
                         f"y_pred has shape {y_pred.shape}; expected the same (n, H, W)")
    tp = int(np.count_nonzero(y_true & y_pred))
    fp = int(np.count_nonzero(y_pred)) - tp
    fn = int(np.count_nonzero(y_true)) - tp
    tn = int(y_true.size) - tp - fp - fn
    return tn, fp, fn, tp


def _ratio(num, den):
    return float(num / den) if den else float("nan")


def _kappa(tn, fp, fn, tp):
    n = tn + fp + fn + tp
    if not n:
        return float("nan")
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / (n * n)
    return _ratio(observed - expected, 1.0 - expected)


#: Statistic -> (function of the confusion counts, label, greater is better).
_STATISTICS = {
    "iou": (lambda tn, fp, fn, tp: _ratio(tp, tp + fp + fn), "IoU", True),
    "f1": (lambda tn, fp, fn, tp: _ratio(2 * tp, 2 * tp + fp + fn), "F1", True),
    "kappa": (_kappa, "Kappa", True),
    "oa": (lambda tn, fp, fn, tp: _ratio(tp + tn, tn + fp + fn + tp), "OA", True),
    "false_alarm": (lambda tn, fp, fn, tp: _ratio(fp, fp + tn), "False alarm", False),
    "missed": (lambda tn, fp, fn, tp: _ratio(fn, fn + tp), "Missed", False),
}


def change_scores(y_true, y_pred, reference="quake"):
    """Every pixel statistic against one reference mask, as a dict.

    Parameters
    ----------
    y_true, y_pred, reference
        As for :func:`change_confusion`; ``y_true`` None gives NaN everywhere.

    Returns
    -------
    dict
        ``iou``, ``f1``, ``kappa``, ``oa`` (overall accuracy), ``false_alarm`` (FP / (FP + TN))
        and ``missed`` (FN / (FN + TP)), floats (NaN where undefined).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[[1, 1], [0, 0]]])  # one mask per sample
    >>> scores = change_scores(truth, np.array([[[1, 0], [1, 0]]]))
    >>> scores["iou"], scores["false_alarm"], scores["missed"]
    (0.3333333333333333, 0.5, 0.5)
    """
    if _no_truth(y_true):
        _check_pred(y_pred)
        return {name: float("nan") for name in _STATISTICS}
    counts = change_confusion(y_true, y_pred, reference)
    return {name: func(*counts) for name, (func, _, _) in _STATISTICS.items()}


def _metric(statistic, reference):
    func = _STATISTICS[statistic][0]

    def metric(y_true, y_pred):
        if _no_truth(y_true):
            _check_pred(y_pred)
            return float("nan")
        return func(*change_confusion(y_true, y_pred, reference))

    name = f"change_{statistic}_{reference}"
    metric.__name__ = metric.__qualname__ = name
    mask = "the earthquake change" if reference == "quake" else "any substantial change"
    metric.__doc__ = (f"Pixel {_STATISTICS[statistic][1]} of change masks ``(n, H, W)`` against {mask} "
                      f"(``y_true[:, {CHANGE_REFERENCES[reference]}]``); see :func:`change_scores`.")
    return name, metric


def _register_all():
    for reference in CHANGE_REFERENCES:
        for statistic, (_, label, greater) in _STATISTICS.items():
            name, func = _metric(statistic, reference)
            register_metric(name, label=f"{label} ({reference})", greater_is_better=greater, tasks=_TASKS)(func)


_register_all()


# Descriptive, with no better direction; registered as greater-is-better so that its scorer keeps
# its plain name.
@register_metric("changed_fraction", label="Changed fraction", greater_is_better=None, tasks=_TASKS)
def changed_fraction(y_true, y_pred):
    """Fraction of pixels predicted changed; reads no truth (it works on the real file).

    Parameters
    ----------
    y_true : ignored (may be None)
    y_pred : array-like of shape (n, H, W)
        Predicted masks in {0, 1}.

    Returns
    -------
    float in [0, 1] (NaN for no pixel)

    Examples
    --------
    >>> import numpy as np
    >>> changed_fraction(None, np.array([[[1, 0], [0, 0]]]))
    0.25
    """
    y_pred = _check_pred(y_pred)
    return _ratio(np.count_nonzero(y_pred), y_pred.size)
