"""ONNX export of the deep QuakeSet estimators through torch's exporter.

Imported only by :func:`skquake.export.to_onnx` for a deep estimator, so torch, onnx and the
deep models are imported at the top. The exported graph is the fitted
:class:`~skquake.models.deep.SARNet` in evaluation mode: the decibel conversion, the backbone,
the output affine and the clamp are all inside it (no flips: they are training-only), and a
classifier's graph ends with the softmax of ``predict_proba``.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import torch
from torch import nn

from ..models.deep import QuakeClassifier, QuakeRegressor

__all__ = ["convert_net", "is_deep_estimator"]


def is_deep_estimator(estimator):
    """Whether ``estimator`` is a QuakeRegressor or a QuakeClassifier (this module exports those)."""
    return isinstance(estimator, (QuakeRegressor, QuakeClassifier))


class _Exported(nn.Module):
    """What ``predict`` / ``predict_proba`` compute, on a (n, C*H*W) or (n, C, H, W) batch."""

    def __init__(self, module, input_shape, proba):
        super().__init__()
        self.module = module
        self.input_shape = tuple(int(s) for s in input_shape)
        self.proba = proba

    def forward(self, x):
        out = self.module(x.reshape((-1,) + self.input_shape))
        return torch.softmax(out, dim=-1) if self.proba else out


def convert_net(estimator, X_sample, target_opset=None):
    """Export a fitted QuakeRegressor / QuakeClassifier to an ONNX model.

    The input ``X`` is float32 with the shape of ``X_sample``'s samples (flattened or
    ``(C, H, W)``) and a dynamic batch axis; the output is ``variable`` (n, 1) magnitudes for a
    regressor, ``probabilities`` (n, n_classes) in the order of ``classes_`` for a classifier.
    """
    proba = isinstance(estimator, QuakeClassifier)
    wrapper = _Exported(estimator.module_, estimator.input_shape_, proba).cpu()
    was_training = estimator.module_.training
    wrapper.eval()
    sample = torch.as_tensor(np.asarray(X_sample[:1], dtype=np.float32))
    output = "probabilities" if proba else "variable"
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The classic (TorchScript) exporter: on torch 2.14 the dynamo exporter took 4 s more
            # for resnet10t and its graph returned NaN where predict does not. Its deprecation
            # notices are not the user's to act on.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                wrapper, (sample,), buffer, input_names=["X"], output_names=[output],
                dynamic_axes={"X": {0: "n"}, output: {0: "n"}}, opset_version=target_opset or 17,
                dynamo=False,
            )
    finally:
        estimator.module_.train(was_training)
    return onnx.load_from_string(buffer.getvalue())
