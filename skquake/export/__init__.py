"""Export fitted models to ONNX for low-resource inference (the ``export`` extra).

:func:`to_onnx` converts a shallow pipeline (skl2onnx, with converters for skquake's SAR
transformers) or a deep QuakeRegressor / QuakeClassifier (torch's exporter, with the decibel
conversion and the output transform inside the graph); :func:`check_onnx_parity` measures the
largest difference to the estimator's predictions with onnxruntime, and :func:`run_onnx` runs
an exported model. onnx, onnxruntime, skl2onnx and torch are imported only when called.
"""
from ._api import check_onnx_parity, run_onnx, to_onnx

__all__ = ["check_onnx_parity", "run_onnx", "to_onnx"]
