"""int8 post-training quantization of exported deep nets (onnxruntime's quantization tools).

Imported only by :func:`skquake.export.to_onnx` with ``quantize="int8"``, after the ``export``
extra was found, so onnxruntime is imported at the top.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.shape_inference import quant_pre_process

__all__ = ["quantize_int8"]


def quantize_int8(model):
    """Dynamic int8 quantization of an ONNX model: int8 weights, activations quantized per batch.

    Dynamic quantization needs no calibration data: the weights of the convolutions and
    matrix products are stored as int8 (about 4 times smaller) and activations are quantized on
    the fly. The model is first pre-processed (shape inference and graph optimisation), as
    onnxruntime recommends.
    """
    with tempfile.TemporaryDirectory(prefix="skquake-quantize-") as tmp:
        source, prepared, target = (Path(tmp) / name for name in ("model.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(model, source)
        quant_pre_process(str(source), str(prepared))
        # onnxruntime logs advice on the root logger; the export has followed it.
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            quantize_dynamic(prepared, target, weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().setLevel(level)
        return onnx.load(target)
