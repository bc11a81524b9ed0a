"""What ``pretrained`` means for a timm backbone: no weights, timm's published weights, or a file.

- ``False``: random initialisation; nothing is read or downloaded.
- a path (``str`` or ``os.PathLike``) of a ``.safetensors``, ``.pth``, ``.pt`` or ``.bin`` file:
  loaded offline through timm's own loader (``pretrained_cfg_overlay=dict(file=path)``), which
  adapts the first convolution to the input channels (2 or 4 for SAR) and drops a classifier of
  another size. A state dict saved from a timm model of the same architecture (with ``torch.save``
  or ``safetensors``), or a training checkpoint holding one under ``"state_dict"`` / ``"model"``.
- ``True``: timm's published weights for the model. Weights already in the local cache (the
  Hugging Face hub cache, or torch hub's checkpoint folder for weights published by URL) are
  loaded from there as a file, offline. Otherwise the hub is asked once, with a short timeout,
  whether it can be reached; only then does timm download the weights. Offline
  (``HF_HUB_OFFLINE=1``) or unreachable, a ``ConnectionError`` names the model, the repository
  and the hub within seconds (huggingface_hub alone retries for about 50 s before a generic
  error).
"""
from __future__ import annotations

import os
import socket
import urllib.request
from urllib.parse import urlsplit

import huggingface_hub
import numpy as np
import timm
import torch
from huggingface_hub import constants as hf_constants

from ...utils import check_input_file

__all__ = ["WEIGHT_SUFFIXES", "timm_pretrained_kwargs"]

#: File suffixes timm's loader reads (safetensors; anything else with ``torch.load``).
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")

#: Seconds to wait for the hub to accept a connection before calling it unreachable.
HUB_TIMEOUT_S = 5.0

# The files timm asks the Hugging Face hub for, in its order (a safetensors file first).
_HF_FILES = ("model.safetensors", "pytorch_model.bin")


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_weights_file(path):
    """The path of a readable weights file, or an error naming the path and what was expected."""
    path = check_input_file(path, "pretrained weights file")
    if path.suffix.lower() not in WEIGHT_SUFFIXES:
        raise ValueError(
            f"pretrained weights file {path} has suffix {path.suffix!r}; expected one of "
            f"{', '.join(WEIGHT_SUFFIXES)} (a state dict written by safetensors or torch.save)"
        )
    return path


def _offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; the environment is read again here
    # so that setting it later (in a notebook, a test) is honoured too.
    env = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    return bool(hf_constants.HF_HUB_OFFLINE) or env.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _unreachable(url: str) -> str | None:
    """Why ``url``'s host cannot be reached (None: it accepts a connection within the timeout)."""
    if _offline():
        return "offline mode is on (HF_HUB_OFFLINE is set)"
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # the request goes through it
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=HUB_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _published_weights(name):
    """Where timm takes ``name``'s weights from: (description, hub url, cached-file overlay or None).

    The overlay makes timm load the cached file as it would have loaded the download: as a
    state dict, or with the model's own ``load_pretrained`` where timm does that (``custom_load``).
    """
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise ValueError(f"pretrained=True: timm publishes no pretrained weights for {name!r}; "
                         "pass pretrained=False or the path of a weights file")
    if cfg.hf_hub_id:
        repo, _, revision = cfg.hf_hub_id.partition("@")
        for filename in ((cfg.hf_hub_filename,) if cfg.hf_hub_filename else _HF_FILES):
            found = huggingface_hub.try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str):
                overlay = {"file": found, "custom_load": bool(cfg.hf_hub_filename) and cfg.custom_load == "hf"}
                break
        else:
            overlay = None
        return f"Hugging Face Hub repository {repo!r} at {hf_constants.ENDPOINT}", hf_constants.ENDPOINT, overlay
    # weights published by URL only: timm keeps them in torch hub's checkpoint folder
    local = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlsplit(cfg.url).path))
    overlay = {"file": local, "custom_load": bool(cfg.custom_load)} if os.path.isfile(local) else None
    return cfg.url, cfg.url, overlay


def timm_pretrained_kwargs(name, pretrained) -> dict:
    """The ``timm.create_model`` arguments that load ``pretrained`` (see the module docstring).

    Parameters
    ----------
    name : str
        timm model name.
    pretrained : bool, str or os.PathLike
        ``False``, ``True`` (timm's published weights) or the path of a weights file.

    Returns
    -------
    dict
        ``{"pretrained": False}``, ``{"pretrained": True}`` (timm downloads) or
        ``{"pretrained": True, "pretrained_cfg_overlay": {"file": path}}`` (loaded offline).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, ValueError
        A path that is not a readable weights file; a model without published weights.
    ConnectionError
        ``True``, the weights are not cached and the hub cannot be reached.
    """
    if _is_bool(pretrained) and not pretrained:
        return {"pretrained": False}
    if not _is_bool(pretrained):
        return {"pretrained": True, "pretrained_cfg_overlay": {"file": os.fspath(check_weights_file(pretrained))}}
    source, url, cached = _published_weights(name)
    if cached is not None:
        # The cached file goes through timm's file loader: no request to the hub at all.
        return {"pretrained": True, "pretrained_cfg_overlay": cached}
    reason = _unreachable(url)
    if reason is not None:
        raise ConnectionError(
            f"pretrained=True: the weights of timm model {name!r} ({source}) are not in the local "
            f"cache ({hf_constants.HF_HUB_CACHE}) and the hub cannot be reached ({reason}). Download "
            f"them once with network access (timm.create_model({name!r}, pretrained=True) fills the "
            "cache), or pass pretrained='/path/to/weights.safetensors' (or .pth / .pt) to load a file "
            "offline"
        )
    return {"pretrained": True}
