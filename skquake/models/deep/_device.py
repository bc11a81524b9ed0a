"""Device-dependent defaults of the deep estimators: ``amp="auto"`` and ``channels_last="auto"``.

On a CUDA device bfloat16 autocast (where the GPU computes in bfloat16 natively) and the
channels-last memory format make convolutions use the tensor cores; on a CPU bfloat16 autocast
was slower and channels-last a mixed result (docs/deep.md, Benchmarks), so ``"auto"`` leaves a
CPU fit exactly as it was.
"""
from __future__ import annotations

import torch

__all__ = ["resolve_auto"]

#: the value of ``amp`` / ``channels_last`` that depends on the device
AUTO = "auto"


def _is_cuda(device) -> bool:
    return device is not None and torch.device(device).type == "cuda"


def resolve_auto(value, device, *, bfloat16=False) -> bool:
    """The effective value of a boolean option that may be ``"auto"``.

    Parameters
    ----------
    value : bool or "auto"
        True / False are kept as given.
    device : str, torch.device or None
        The estimator's device (None: skorch's "leave the module where it is", read as CPU).
    bfloat16 : bool, default=False
        ``"auto"`` also needs the CUDA device to compute in bfloat16 natively
        (``torch.cuda.is_bf16_supported()``, Ampere and newer); for ``amp``.

    Returns
    -------
    bool
        ``value`` itself when it is a bool; for ``"auto"``: whether ``device`` is a CUDA device
        (and, with ``bfloat16``, one that supports bfloat16) and CUDA is available.
    """
    if isinstance(value, str) and value == AUTO:
        if not (_is_cuda(device) and torch.cuda.is_available()):
            return False
        return bool(torch.cuda.is_bf16_supported()) if bfloat16 else True
    return bool(value)
