"""The export API: :func:`to_onnx` and :func:`check_onnx_parity`.

The converters live in ``_sklearn`` (skl2onnx) and ``_torch`` (torch's exporter); they import
the ``export`` extra at their top, so they are imported here only when a model is exported,
after :func:`skquake.utils.import_optional` has said which extra is missing.
"""
from __future__ import annotations

import os

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ..utils import atomic_output, import_optional

__all__ = ["check_onnx_parity", "run_onnx", "to_onnx"]

_EXTRA = "export"


def _check_sample(X_sample):
    X = np.asarray(X_sample)
    if X.ndim not in (2, 4) or X.shape[0] < 1 or X.dtype.kind not in "fiu":
        raise ValueError(
            f"X_sample must be a numeric array of shape (n, C, H, W) or (n, C*H*W) with n >= 1, "
            f"got {'dtype ' + str(X.dtype) + ', ' if X.dtype.kind not in 'fiu' else ''}shape {X.shape}"
        )
    return X.astype(np.float32, copy=False)


def _is_deep(estimator):
    # skorch nets hold their torch module in module_; only then is torch imported.
    if not hasattr(estimator, "module_"):
        return False
    from ._torch import is_deep_estimator  # torch: only deep estimators import it

    if not is_deep_estimator(estimator):
        raise NotImplementedError(
            f"cannot export {type(estimator).__name__} to ONNX: the deep estimators that export are "
            "QuakeRegressor and QuakeClassifier"
        )
    return True


def to_onnx(estimator, X_sample, path=None, *, target_opset=None, quantize=None, overwrite=False):
    """Export a fitted skquake model to ONNX, for inference without Python's libraries.

    Parameters
    ----------
    estimator : fitted estimator
        A shallow pipeline of the registry (``create_model("svr-rbf")``, ``"rfc-change"``, ...;
        any pipeline of skquake transformers and scikit-learn estimators that skl2onnx knows),
        or a fitted :class:`~skquake.models.deep.QuakeRegressor` /
        :class:`~skquake.models.deep.QuakeClassifier`.
    X_sample : array-like of shape (n, C, H, W) or (n, C*H*W)
        Input like the one the model predicts on; fixes the per-sample shape (the batch axis
        stays dynamic). Its values are not stored.
    path : str or path-like, optional
        Also write the model there (all or nothing, :func:`skquake.utils.atomic_output`).
    target_opset : int, optional
        ONNX opset; default: skl2onnx's latest tested opset for pipelines, 17 for deep nets.
    quantize : {None, "int8"}, default=None
        ``"int8"``: dynamic int8 post-training quantization of a deep net (onnxruntime's
        ``quantize_dynamic``: int8 weights, about 4 times smaller; activations quantized per
        batch, no calibration data). Predictions change: measure it with
        :func:`check_onnx_parity`. Shallow pipelines are not quantized (``ValueError``).
    overwrite : bool, default=False
        Replace an existing ``path``.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` (float32). Outputs: ``variable`` (n, 1) for a regressor; ``label`` (n,) and
        ``probabilities`` (n, n_classes) for a shallow classifier (columns in the order of
        ``classes_``); ``probabilities`` only for a deep classifier, whose label is
        ``classes_[probabilities.argmax(1)]``.

    Raises
    ------
    ImportError
        The ``export`` extra (onnx, onnxruntime, skl2onnx) is not installed.
    NotImplementedError
        A step or an estimator that has no ONNX converter, named.
    ValueError
        A bad ``X_sample``, ``target_opset`` or ``quantize``, or ``quantize`` for a shallow model.
    sklearn.exceptions.NotFittedError
        ``estimator`` is not fitted.
    """
    if target_opset is not None and (isinstance(target_opset, bool) or not isinstance(target_opset, int)
                                     or target_opset < 7):
        raise ValueError(f"target_opset must be an int >= 7 or None, got {target_opset!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    check_is_fitted(estimator)
    X_sample = _check_sample(X_sample)
    import_optional("onnx", extra=_EXTRA)
    if _is_deep(estimator):
        from ._torch import convert_net  # torch: only deep estimators import it

        model = convert_net(estimator, X_sample, target_opset=target_opset)
        if quantize == "int8":
            import_optional("onnxruntime", extra=_EXTRA)
            from ._quantize import quantize_int8  # optional: the export extra, checked above

            model = quantize_int8(model)
    elif quantize is not None:
        raise ValueError(
            f"quantize={quantize!r} applies to deep nets (QuakeRegressor, QuakeClassifier), not to "
            f"{type(estimator).__name__}: export the pipeline with quantize=None"
        )
    else:
        import_optional("skl2onnx", extra=_EXTRA)
        from ._sklearn import convert_estimator  # optional: the export extra, checked above

        model = convert_estimator(estimator, X_sample, target_opset=target_opset)
    if path is not None:
        with atomic_output(path, overwrite=overwrite) as tmp, open(tmp, "wb") as f:
            f.write(model.SerializeToString())
    return model


def _session(onnx_model):
    ort = import_optional("onnxruntime", extra=_EXTRA)
    if isinstance(onnx_model, (str, os.PathLike)):
        if not os.path.isfile(onnx_model):
            raise FileNotFoundError(f"no ONNX model at {os.fspath(onnx_model)}")
        source = os.fspath(onnx_model)
    elif hasattr(onnx_model, "SerializeToString"):
        source = onnx_model.SerializeToString()
    else:
        raise TypeError(f"onnx_model must be an onnx.ModelProto or a path, got {type(onnx_model).__name__}")
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def run_onnx(onnx_model, X):
    """Run an exported model with onnxruntime on ``X`` (cast to float32).

    Returns
    -------
    dict
        Output name -> array (``variable``, ``label``, ``probabilities``).
    """
    session = _session(onnx_model)
    names = [o.name for o in session.get_outputs()]
    values = session.run(None, {session.get_inputs()[0].name: np.asarray(X, dtype=np.float32)})
    return dict(zip(names, values))


def check_onnx_parity(estimator, onnx_model, X):
    """Largest absolute difference between the estimator's and the ONNX model's predictions.

    Compares ``predict`` with the ONNX ``variable`` (regressors) and, for classifiers,
    ``predict_proba`` with ``probabilities`` and ``predict`` with the ONNX label
    (``label``, or ``classes_[argmax]`` for deep classifiers); a differing label counts as
    the difference of the labels (infinity for non-numeric labels).

    Parameters
    ----------
    estimator : fitted estimator
    onnx_model : onnx.ModelProto or path
    X : array-like
        Passed as is to the estimator and as float32 to onnxruntime.

    Returns
    -------
    float
    """
    outputs = run_onnx(onnx_model, X)
    if not is_classifier(estimator):
        return float(np.max(np.abs(estimator.predict(X).reshape(-1) - outputs["variable"].reshape(-1)),
                            initial=0.0))
    diffs = [0.0]
    proba = outputs.get("probabilities")
    if proba is not None and hasattr(estimator, "predict_proba"):
        diffs.append(float(np.max(np.abs(estimator.predict_proba(X) - proba), initial=0.0)))
    label = outputs["label"] if "label" in outputs else np.asarray(estimator.classes_)[proba.argmax(axis=1)]
    expected = np.asarray(estimator.predict(X))
    label = label.reshape(expected.shape)
    if np.issubdtype(expected.dtype, np.number) and np.issubdtype(label.dtype, np.number):
        diffs.append(float(np.max(np.abs(expected.astype(float) - label.astype(float)), initial=0.0)))
    elif np.any(expected != label):
        diffs.append(float("inf"))
    return max(diffs)
