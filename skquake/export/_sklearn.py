"""skl2onnx converters of skquake's SAR transformers, and the export of a fitted pipeline.

Imported only by :func:`skquake.export.to_onnx` once the ``export`` extra is known to be
installed, so skl2onnx is imported at the top. Importing this module registers, for each
transformer of :mod:`skquake.preprocessing`, a shape calculator and a converter with skl2onnx;
scikit-learn's own steps (``StandardScaler``, ``PCA``, SVMs, forests) use skl2onnx's converters.

Every converter mirrors :class:`skquake.preprocessing._base._ImageTransformer`: 2-D input is
reshaped to the fitted ``input_shape_`` first; the output is 2-D when the input was 2-D or the
transformer makes features (``Flatten``, ``SpatialStatistics``), else ``(n, C', H', W')``.
The batch axis stays dynamic. The graph works in float32, as the transformers do on the
float32 arrays :func:`skquake.datasets.load_quakeset` returns.

What the graph does not do: the checks that refuse bad input in Python
(``Decibels(clip_negative=False)`` and ``ChangeFeatures(kind="log_ratio")`` raise on negative
intensities) are not in it; there a negative value gives NaN.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from skl2onnx import convert_sklearn, supported_converters, update_registered_converter
from skl2onnx.algebra.onnx_ops import (
    OnnxAdd,
    OnnxAveragePool,
    OnnxCast,
    OnnxConcat,
    OnnxDiv,
    OnnxEqual,
    OnnxFloor,
    OnnxGather,
    OnnxGatherElements,
    OnnxGreaterOrEqual,
    OnnxIdentity,
    OnnxIsNaN,
    OnnxLog,
    OnnxMax,
    OnnxMin,
    OnnxMul,
    OnnxNot,
    OnnxOr,
    OnnxReduceSumApi11,
    OnnxReshape,
    OnnxSlice,
    OnnxSqrt,
    OnnxSub,
    OnnxTopK,
    OnnxWhere,
)
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator
from sklearn.pipeline import Pipeline

from ..preprocessing import (
    AveragePooling,
    ChangeFeatures,
    ChannelSelector,
    Decibels,
    Flatten,
    NaNFiller,
    SpatialStatistics,
    ToImages,
)

__all__ = ["convert_estimator"]

_F32 = np.float32
_TEN_OVER_LN10 = 10.0 / math.log(10.0)  # 10 log10(x) = ln(x) * 10 / ln(10): ONNX has only Log


def _f(value):
    return np.asarray(value, dtype=_F32).reshape(-1)


def _i(values):
    return np.asarray(values, dtype=np.int64)


# ----------------------------------------------------------------------------- bodies
# Each body takes the (n, C, H, W) node and returns a node of the transformer's output; the
# ones listed in _FEATURE_MAKERS return (n, F).
def _to_images(op, x, opv):
    return x


def _flatten(op, x, opv):
    return OnnxReshape(x, _i([0, -1]), op_version=opv)


def _nan_filler(op, x, opv):
    return OnnxWhere(OnnxIsNaN(x, op_version=opv), _f(op.fill_value), x, op_version=opv)


def _decibels_of(x, eps, opv):
    return OnnxMul(OnnxLog(OnnxAdd(x, _f(eps), op_version=opv), op_version=opv), _f(_TEN_OVER_LN10),
                   op_version=opv)


def _decibels(op, x, opv):
    if op.clip_negative:
        x = OnnxMax(x, _f(0.0), op_version=opv)
    return _decibels_of(x, op.eps, opv)


def _average_pooling(op, x, opv):
    k = op.pool_factor_
    if k == 1:
        return OnnxIdentity(x, op_version=opv)
    # Edge rows and columns that do not fill a block are dropped, as AveragePool's default
    # (no padding, floor) does.
    return OnnxAveragePool(x, kernel_shape=[k, k], strides=[k, k], op_version=opv)


def _channel_selector(op, x, opv):
    return OnnxGather(x, _i(op.channels_), axis=1, op_version=opv)


def _channels(x, start, stop, opv):
    return OnnxSlice(x, _i([start]), _i([stop]), _i([1]), op_version=opv)


def _change_features(op, x, opv):
    if op.passthrough_:
        return OnnxIdentity(x, op_version=opv)
    t0, t1 = _channels(x, 0, 2, opv), _channels(x, 2, 4, opv)
    if op.kind == "difference":
        change = OnnxSub(t1, t0, op_version=opv)
    else:
        change = OnnxSub(_decibels_of(t1, op.eps, opv), _decibels_of(t0, op.eps, opv), op_version=opv)
    if op.keep_dates:
        return OnnxConcat(x, change, axis=1, op_version=opv)
    return change


def _spatial_statistics(op, x, opv):
    """NaN-aware mean, std and linear-interpolation quantiles per channel (np.nanquantile)."""
    c, h, w = op.input_shape_
    n_pixels = h * w
    flat = OnnxReshape(x, _i([0, c, n_pixels]), op_version=opv)
    nan = OnnxIsNaN(flat, op_version=opv)
    count = OnnxReduceSumApi11(OnnxCast(OnnxNot(nan, op_version=opv), to=1, op_version=opv), axes=[2],
                               keepdims=1, op_version=opv)  # (n, C, 1) valid pixels
    parts = []
    if op.moments:
        zeroed = OnnxWhere(nan, _f(0.0), flat, op_version=opv)
        total = OnnxReduceSumApi11(zeroed, axes=[2], keepdims=1, op_version=opv)
        mean = OnnxDiv(total, count, op_version=opv)
        dev = OnnxWhere(nan, _f(0.0), OnnxSub(flat, mean, op_version=opv), op_version=opv)
        var = OnnxDiv(OnnxReduceSumApi11(OnnxMul(dev, dev, op_version=opv), axes=[2], keepdims=1,
                                         op_version=opv), count, op_version=opv)
        parts += [mean, OnnxSqrt(var, op_version=opv)]
    if op.quantiles_.size:
        parts.append(_quantiles(flat, nan, count, op.quantiles_, n_pixels, opv))
    stats = parts[0] if len(parts) == 1 else OnnxConcat(*parts, axis=2, op_version=opv)  # (n, C, k)
    # A channel without a valid pixel gets fill_value for every statistic, as in Python.
    empty = OnnxOr(OnnxIsNaN(stats, op_version=opv), OnnxEqual(count, _f(0.0), op_version=opv), op_version=opv)
    stats = OnnxWhere(empty, _f(op.fill_value), stats, op_version=opv)
    return OnnxReshape(stats, _i([0, -1]), op_version=opv)


def _quantiles(flat, nan, count, q, n_pixels, opv):
    # NaN sorts last as +inf, so the first `count` sorted values of a row are its valid pixels
    # and numpy's "linear" method reads them at the virtual index q * (count - 1).
    filled = OnnxWhere(nan, _f(np.inf), flat, op_version=opv)
    ordered = OnnxTopK(filled, _i([n_pixels]), axis=2, largest=0, sorted=1, op_version=opv)[0]
    last = OnnxSub(count, _f(1.0), op_version=opv)
    position = OnnxMul(last, _f(q), op_version=opv)  # (n, C, Q)
    below = OnnxFloor(position, op_version=opv)
    gamma = OnnxSub(position, below, op_version=opv)
    lo = OnnxMax(below, _f(0.0), op_version=opv)
    hi = OnnxMax(OnnxMin(OnnxAdd(below, _f(1.0), op_version=opv), last, op_version=opv), _f(0.0),
                 op_version=opv)
    a = OnnxGatherElements(ordered, OnnxCast(lo, to=7, op_version=opv), axis=2, op_version=opv)
    b = OnnxGatherElements(ordered, OnnxCast(hi, to=7, op_version=opv), axis=2, op_version=opv)
    diff = OnnxSub(b, a, op_version=opv)
    # numpy's _lerp: a + diff * g below g = 0.5, b - diff * (1 - g) from it (exact at both ends).
    low = OnnxAdd(a, OnnxMul(diff, gamma, op_version=opv), op_version=opv)
    high = OnnxSub(b, OnnxMul(diff, OnnxSub(_f(1.0), gamma, op_version=opv), op_version=opv), op_version=opv)
    return OnnxWhere(OnnxGreaterOrEqual(gamma, _f(0.5), op_version=opv), high, low, op_version=opv)


_BODIES = {
    ToImages: _to_images,
    Flatten: _flatten,
    NaNFiller: _nan_filler,
    Decibels: _decibels,
    AveragePooling: _average_pooling,
    ChannelSelector: _channel_selector,
    ChangeFeatures: _change_features,
    SpatialStatistics: _spatial_statistics,
}
_FEATURE_MAKERS = (Flatten, SpatialStatistics)


# ----------------------------------------------------------------------------- registration
def _output_is_2d(op, input_rank):
    if isinstance(op, ToImages):
        return input_rank == 2 and op.input_shape is None
    return input_rank == 2 or isinstance(op, _FEATURE_MAKERS)


def _shape_calculator(operator):
    op = operator.raw_operator
    in_shape = operator.inputs[0].type.shape
    n = in_shape[0]
    out_shape = tuple(op.output_shape_)
    if _output_is_2d(op, len(in_shape)):
        operator.outputs[0].type = FloatTensorType([n, math.prod(out_shape)])
    else:
        operator.outputs[0].type = FloatTensorType([n, *out_shape])


def _converter(scope, operator, container):
    op = operator.raw_operator
    opv = container.target_opset
    x = operator.inputs[0]
    rank = len(x.type.shape)
    if rank == 2:
        x = OnnxReshape(x, _i([-1, *op.input_shape_]), op_version=opv)
    y = _BODIES[type(op)](op, x, opv)
    if _output_is_2d(op, rank) and not isinstance(op, _FEATURE_MAKERS):
        y = OnnxReshape(y, _i([0, -1]), op_version=opv)
    OnnxIdentity(y, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


for _cls in _BODIES:
    update_registered_converter(_cls, f"Skquake{_cls.__name__}", _shape_calculator, _converter)


# ----------------------------------------------------------------------------- export
def _final_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def convert_estimator(estimator, X_sample, target_opset=None):
    """Convert a fitted scikit-learn estimator (a skquake pipeline) to an ONNX model.

    The input ``X`` is float32 with the shape of ``X_sample``'s samples and a dynamic batch
    axis. A regressor's output is ``variable`` (n, 1); a classifier's are ``label`` (n,) and,
    when it has ``predict_proba``, ``probabilities`` (n, n_classes) in the order of
    ``classes_`` (no ZipMap).

    Raises
    ------
    NotImplementedError
        A step that skl2onnx has no converter for, naming it.
    """
    final = _final_step(estimator)
    options = {id(final): {"zipmap": False}} if hasattr(final, "classes_") else None
    initial_types = [("X", FloatTensorType([None, *np.shape(X_sample)[1:]]))]
    try:
        with warnings.catch_warnings():
            # skl2onnx's SVC converter reads probA_ / probB_, deprecated by scikit-learn 1.9:
            # a notice for skl2onnx, not for the user.
            warnings.filterwarnings("ignore", message="Attribute `prob[AB]_` was deprecated", category=FutureWarning)
            return convert_sklearn(estimator, initial_types=initial_types, options=options,
                                   target_opset=target_opset)
    except (MissingShapeCalculator, MissingConverter) as exc:
        steps = estimator.steps if isinstance(estimator, Pipeline) else [(type(estimator).__name__, estimator)]
        known = [name for name, step in steps if _has_converter(step)]
        missing = [f"{name!r} ({type(step).__name__})" for name, step in steps if name not in known]
        raise NotImplementedError(
            f"cannot export {type(estimator).__name__} to ONNX: no ONNX converter for step "
            f"{', '.join(missing) or type(final).__name__}; skquake converts its SAR transformers "
            f"({', '.join(sorted(c.__name__ for c in _BODIES))}) and skl2onnx scikit-learn's own estimators"
        ) from exc


def _has_converter(step):
    if step is None or isinstance(step, str):  # None / "passthrough" steps
        return True
    names = set(supported_converters())
    return any(f"{prefix}{type(step).__name__}" in names for prefix in ("Skquake", "Sklearn"))
