"""Torch building blocks of the deep models: timm backbones, SAR input handling, augmentation.

These are plain ``torch.nn`` pieces with no skorch in them, shared by the QuakeSet estimators
(:mod:`skquake.models.deep`) and the building-damage fusion classifier:

- :func:`build_backbone`: any timm model with ``in_chans`` channels, a head of
  ``num_classes`` outputs (or ``num_classes=0``: a pooled feature extractor), checked against
  the input size it will see.
- :func:`random_flips`: independent random horizontal and vertical flips per sample.
- :func:`backbone_forward` and :func:`full_precision`: under ``torch.autocast`` (``amp=True``)
  only a backbone's features run in reduced precision, its head and what follows in float32.
- :class:`SARNet`: decibel conversion -> flips (training only) -> backbone -> optional clamp
  (inference only), the module behind the estimators.
"""
from __future__ import annotations

import difflib
import os
from numbers import Integral

import timm
import torch
from torch import nn

from ...utils import StrictInterval, StrOptions, to_decibels, validate_params
from ._pretrained import timm_pretrained_kwargs

__all__ = ["backbone_forward", "build_backbone", "full_precision", "random_flips", "SARNet"]


def _backbone_reduction(model) -> int | None:
    info = getattr(model, "feature_info", None)
    try:
        return int(info[-1]["reduction"]) if info else None
    except (KeyError, IndexError, TypeError):
        return None


def _fresh_head_init(model, pretrained, num_classes, only_if_larger):
    """Re-initialise a freshly created classifier head with fan-in scaling and zero bias.

    timm's EfficientNet-family init (mobilenetv2/v3, efficientnet, ...) draws the head from
    ``U(-1/sqrt(fan_out), 1/sqrt(fan_out))``, which suits 1000 classes but gives weights of
    std ~0.5 for one output: a fresh mobilenetv2_100 regressor then outputs values of std ~6
    whatever the input, and a 2-class head starts at a cross-entropy of ~6 (docs/deep.md,
    "Why the deep models learned nothing"). torch's ``nn.Linear`` default (fan-in) gives
    outputs of std ~0.3 for every backbone. A head loaded from pretrained weights is kept.
    ``only_if_larger``: re-initialise only a head whose weights spread more than twice that
    init's (std ``1/sqrt(3 fan_in)``), leaving the small heads of resnets, convnexts and ViTs as timm
    made them.
    """
    if num_classes <= 0:
        return
    if pretrained:
        cfg = getattr(model, "pretrained_cfg", None) or {}
        if cfg.get("num_classes") == num_classes:
            return  # the pretrained head itself was loaded
    get = getattr(model, "get_classifier", None)
    head = get() if callable(get) else None
    if isinstance(head, (nn.Linear, nn.Conv2d)) and head.weight.shape[0] == num_classes:
        fan_in = head.weight[0].numel()
        # Twice the fan-in std: a head drawn from that very init (resnets) is never caught by
        # sampling noise, while EfficientNet-family heads are ~30 times wider.
        if only_if_larger and float(head.weight.detach().std()) <= 2.0 * (3.0 * fan_in) ** -0.5:
            return
        head.reset_parameters()
        if head.bias is not None:
            nn.init.zeros_(head.bias)


@validate_params(
    {
        "name": [str],
        "in_chans": [StrictInterval(Integral, 1, None, closed="left")],
        "num_classes": [StrictInterval(Integral, 0, None, closed="left")],
        "pretrained": ["boolean", str, os.PathLike],
        "input_size": [None, tuple, list],
        "head_init": [StrOptions({"auto", "fan_in", "timm"})],
    },
    prefer_skip_nested_validation=True,
)
def build_backbone(name, in_chans, num_classes, *, pretrained=False, input_size=None,
                   head_init="auto", **kwargs):
    """Create the timm model ``name`` for ``in_chans``-channel input.

    Parameters
    ----------
    name : str
        Any name of ``timm.list_models()``.
    in_chans : int
        Input channels (4 for bitemporal QuakeSet pairs, 2 for single images).
    num_classes : int
        Outputs of the head; ``0`` removes the head (the model returns pooled features of size
        ``model.num_features``).
    pretrained : bool, str or os.PathLike, default=False
        ``False``: random initialisation. ``True``: timm's published weights, read from the
        local cache offline, else downloaded when the hub can be reached (a ``ConnectionError``
        naming the model and the hub within seconds when it cannot). A path: a ``.safetensors``
        / ``.pth`` / ``.pt`` state dict of the same architecture, loaded offline by timm, which
        adapts the first convolution to ``in_chans`` and drops a classifier of another size.
    input_size : tuple of int (H, W), optional
        The image size the model will see. Models with a fixed input size (ViTs) are built for
        it, and the size is checked against the backbone's total downsampling.
    head_init : {"auto", "fan_in", "timm"}, default="auto"
        ``"fan_in"`` re-initialises a new classifier head (not one loaded from pretrained
        weights) like ``torch.nn.Linear`` (weights ``U(+-1/sqrt(fan_in))``) with a zero bias.
        ``"timm"`` keeps timm's own init, whose EfficientNet-family heads (mobilenetv2, ...)
        are scaled for 1000 classes and start with outputs of std ~6 for one or two outputs.
        ``"auto"`` applies ``"fan_in"`` only to heads whose weights spread more than twice as
        wide as it (the EfficientNet family) and keeps timm's other inits (resnet, convnext,
        ViTs).
    **kwargs
        Passed to ``timm.create_model`` (``drop_rate``, ``drop_path_rate``, ...).

    Raises
    ------
    ValueError
        Unknown model name, or an input size the backbone cannot take (smaller than its
        downsampling factor, or rejected by a test forward pass).
    """
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown timm backbone {name!r}{hint}")
    if input_size is not None:
        try:
            cfg = timm.models.get_pretrained_cfg(name)
        except Exception:  # pragma: no cover - cfg lookups differ across timm versions
            cfg = None
        fixed = getattr(cfg, "fixed_input_size", False) if cfg is not None else False
        if fixed and "img_size" not in kwargs:
            kwargs["img_size"] = tuple(int(s) for s in input_size)
    weights = timm_pretrained_kwargs(name, pretrained)
    try:
        model = timm.create_model(name, in_chans=int(in_chans), num_classes=int(num_classes), **weights, **kwargs)
    except Exception as exc:
        if not weights["pretrained"]:
            raise
        source = weights.get("pretrained_cfg_overlay", {}).get("file")
        # A file that does not fit the model is a bad value; a failed download is an OSError.
        error = ValueError if source is not None else OSError
        raise error(
            f"timm could not build {name!r} for {in_chans} channels with the pretrained weights "
            f"{source or 'published by timm'}: {type(exc).__name__}: {exc}"
        ) from exc
    if head_init != "timm":
        _fresh_head_init(model, pretrained, int(num_classes), only_if_larger=head_init == "auto")
    if input_size is not None:
        _check_input_size(model, name, int(in_chans), tuple(int(s) for s in input_size))
    return model


def _check_input_size(model, name, in_chans, input_size):
    h, w = input_size
    reduction = _backbone_reduction(model)
    if reduction is not None and min(h, w) < reduction:
        raise ValueError(
            f"images of {h} x {w} pixels are too small for backbone {name!r}, which downsamples "
            f"by {reduction}: use images of at least {reduction} x {reduction} pixels (less pooling) "
            "or a shallower backbone"
        )
    # One sample in eval mode (BatchNorm accepts a batch of 1 there) catches the remaining
    # shape problems (fixed-size ViTs, sizes not divisible by a patch) before training starts.
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_chans, h, w))
    except Exception as exc:
        raise ValueError(
            f"backbone {name!r} cannot take input of shape ({in_chans}, {h}, {w}): {exc}"
        ) from exc
    finally:
        model.train(was_training)


def full_precision(x: torch.Tensor):
    """A context where ``x``'s device runs in float32 even inside ``torch.autocast``.

    The deep estimators' ``amp=True`` autocasts the forward pass to bfloat16; the modules run
    their heads and output transforms in this context, on float32 inputs, so that predictions
    keep float32 resolution (a bfloat16 output has 8 significant bits: magnitudes near 5 would
    come in steps of 0.03).
    """
    return torch.autocast(device_type=x.device.type, enabled=False)


def _autocast_enabled(x: torch.Tensor) -> bool:
    try:
        return torch.is_autocast_enabled(x.device.type)
    except TypeError:  # torch < 2.4 has no device argument
        return torch.is_autocast_cpu_enabled() if x.device.type == "cpu" else torch.is_autocast_enabled()


def backbone_forward(backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``backbone(x)``; under autocast only the features are, the head runs in float32.

    timm models split into ``forward_features`` and ``forward_head``: with autocast on, the
    head (pooling and classifier) runs in :func:`full_precision` on float32 features. Without
    autocast, or for a model without that split, it is ``backbone(x)``, in float32 on return.
    """
    if not _autocast_enabled(x):
        return backbone(x)
    if not (hasattr(backbone, "forward_features") and hasattr(backbone, "forward_head")):
        return backbone(x).float()
    features = backbone.forward_features(x)
    with full_precision(x):
        return backbone.forward_head(features.float())


def random_flips(x: torch.Tensor, p: float = 0.5, generator=None) -> torch.Tensor:
    """Flip each sample of a (n, C, H, W) batch horizontally and vertically, independently.

    Each sample is flipped left-right with probability ``p`` and, independently, up-down with
    probability ``p``. The draws use ``generator`` (or torch's global generator).
    """
    if x.dim() != 4:
        raise ValueError(f"random_flips expects a (n, C, H, W) batch, got shape {tuple(x.shape)}")
    draws = torch.rand(x.shape[0], 2, generator=generator, device=x.device if generator is None else "cpu")
    draws = draws.to(x.device) < p
    horizontal = draws[:, 0].view(-1, 1, 1, 1)
    vertical = draws[:, 1].view(-1, 1, 1, 1)
    x = torch.where(horizontal, x.flip(-1), x)
    return torch.where(vertical, x.flip(-2), x)


class SARNet(nn.Module):
    """A timm backbone behind the QuakeSet input handling.

    ``forward``: linear backscatter -> ``10 log10(max(x, 0) + 1e-9)`` (``decibels``) -> random flips
    (``flips``, training mode only) -> backbone -> ``output_shift + output_scale * out`` ->
    clamp to ``clamp`` (evaluation mode only). Under ``torch.autocast`` (the estimators'
    ``amp=True``) only the backbone's features are computed in reduced precision: its head, the
    output affine and the clamp run in float32 (:func:`backbone_forward`).

    The clamp is applied at inference only: clamping during training would zero the gradient
    of every sample whose output starts outside the range (a fresh net often outputs negative
    values for magnitudes of 4 to 8) and stall training.

    Parameters
    ----------
    backbone : str
        timm model name.
    in_chans : int
        Input channels.
    num_outputs : int
        Outputs of the head (1 for regression, number of classes for classification).
    input_size : tuple (H, W), optional
        Image size, checked by :func:`build_backbone`.
    pretrained : bool, str or os.PathLike, default=False
        See :func:`build_backbone`.
    decibels : bool, default=True
    flips : bool, default=True
    clamp : tuple (low, high) or None, default=None
    channels_last : bool, default=False
        Feed the backbone channels-last tensors (faster convolutions on recent GPUs).
    output_shift, output_scale : float, default=0.0, 1.0
        The backbone's output ``o`` becomes ``output_shift + output_scale * o`` (before the
        clamp). :class:`skquake.models.deep.QuakeRegressor` sets them to the training target's mean
        and standard deviation (``standardize_target=True``), so a fresh head, whose outputs are
        near 0 with a spread of ~0.3, starts near the mean magnitude with a spread matching the
        targets, while losses and predictions stay in magnitude units. Stored as buffers (they
        travel with ``state_dict``).
    **backbone_kwargs
        Passed to ``timm.create_model``.
    """

    def __init__(self, backbone, in_chans, num_outputs, input_size=None, pretrained=False,
                 decibels=True, flips=True, clamp=None, channels_last=False, output_shift=0.0,
                 output_scale=1.0, **backbone_kwargs):
        super().__init__()
        self.register_buffer("output_shift", torch.tensor(float(output_shift)))
        self.register_buffer("output_scale", torch.tensor(float(output_scale)))
        self.decibels = decibels
        self.flips = flips
        self.clamp = None if clamp is None else (float(clamp[0]), float(clamp[1]))
        self.channels_last = channels_last
        self.backbone = build_backbone(backbone, in_chans, num_outputs, pretrained=pretrained,
                                       input_size=input_size, **backbone_kwargs)
        if channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.decibels:
            # Negative sigma0 (thermal-noise removal) would give NaN: clip to 0 (-90 dB), like
            # skquake.preprocessing.Decibels(clip_negative=True).
            x = to_decibels(x.clamp(min=0.0))
        if self.training and self.flips:
            x = random_flips(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = backbone_forward(self.backbone, x)
        with full_precision(out):
            out = out * self.output_scale.to(out.dtype) + self.output_shift.to(out.dtype)
            if self.clamp is not None and not self.training:
                out = out.clamp(self.clamp[0], self.clamp[1])
        return out
