"""The torch module of the deep change detector: a fully-convolutional image-to-image regressor.

:class:`TranslationNet` predicts the second date of a pair from the first (Luppino et al.,
"Unsupervised Image Regression for Heterogeneous Change Detection", IEEE TGRS 57(12), 2019):
a timm encoder (``features_only``) and a light decoder (each feature map projected, upsampled
to the input's size and summed, then two 3 x 3 convolutions over it and the input), whose
output is added to the first date, so that a fresh net starts from "nothing changed".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...utils import to_decibels
from ..deep import build_backbone, full_precision, random_flips

__all__ = ["TranslationNet"]


class TranslationNet(nn.Module):
    """Predict the standardised second date of a pair from its first date.

    ``forward(x)`` takes linear pairs ``(n, 2C, H, W)`` (``[t0 channels, t1 channels]``) and
    returns ``(prediction, target, valid)``: the predicted and the actual second date in
    standardised units ``(n, C, H, W)`` (float32), and the pixels with data at both dates
    ``(n, H, W)`` (bool: finite and > 0 in every channel). The loss and the change score are
    computed from them by :class:`~skquake.models.change.TranslationChangeDetector`.

    Steps: decibels (``decibels``) -> ``(x - mean) / std`` per channel (the training pairs'
    statistics, buffers) -> no-data pixels set to 0 (the mean) -> random flips of the whole pair
    (``flips``, training mode only) -> encoder on the first date -> decoder -> first date +
    correction. Under ``torch.autocast`` only the encoder runs in reduced precision.

    Parameters
    ----------
    backbone : str
        A timm model name that supports ``features_only`` (convolutional networks).
    in_chans : int, default=2
        Channels of one date ``C`` (the pair has ``2C``).
    pretrained : bool, str or os.PathLike, default=False
        As :func:`skquake.models.deep.build_backbone`.
    decibels : bool, default=True
        Regress decibels (``10 log10(x)``) rather than linear sigma0.
    flips : bool, default=True
        Random horizontal and vertical flips of training pairs (both dates alike).
    channels_last : bool, default=False
        Channels-last memory format for the encoder and its input.
    decoder_channels : int, default=32
        Width of the decoder.
    mean, std : sequence of float of length ``C``, optional
        Per-channel statistics of the training pairs (both dates pooled; default 0 and 1).
    **backbone_kwargs
        Passed to ``timm.create_model`` (``out_indices``, ``drop_path_rate``, ...).
    """

    def __init__(self, backbone, in_chans=2, pretrained=False, decibels=True, flips=True, channels_last=False,
                 decoder_channels=32, mean=None, std=None, **backbone_kwargs):
        super().__init__()
        c = int(in_chans)
        self.in_chans = c
        self.decibels = decibels
        self.flips = flips
        self.channels_last = channels_last
        mean = torch.zeros(c) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(c) if std is None else torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != (c,) or std.shape != (c,) or not bool((std > 0).all()):
            raise ValueError(f"mean and std must hold {c} values (std > 0), got {mean.tolist()} and {std.tolist()}")
        # One standardisation for both dates, so that "nothing changed" is the identity.
        self.register_buffer("mean", mean.repeat(2).view(1, 2 * c, 1, 1))
        self.register_buffer("std", std.repeat(2).view(1, 2 * c, 1, 1))
        self.encoder = build_backbone(backbone, c, 0, pretrained=pretrained, features_only=True, **backbone_kwargs)
        if channels_last:
            self.encoder = self.encoder.to(memory_format=torch.channels_last)
        width = int(decoder_channels)
        self.lateral = nn.ModuleList(nn.Conv2d(k, width, 1) for k in self.encoder.feature_info.channels())
        self.head = nn.Sequential(
            nn.Conv2d(width + c, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, c, 3, padding=1),
        )
        # The correction starts at 0: a fresh net predicts "t1 = t0".
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def standardize(self, x: torch.Tensor):
        """Linear pairs -> (standardised pairs with no-data at 0, valid pixels (n, H, W))."""
        if x.dim() != 4 or x.shape[1] != 2 * self.in_chans:
            raise ValueError(f"TranslationNet expects pairs of shape (n, {2 * self.in_chans}, H, W), "
                             f"got {tuple(x.shape)}")
        x = x.float()
        valid = (torch.isfinite(x) & (x > 0)).all(dim=1)
        z = to_decibels(x.clamp(min=0.0)) if self.decibels else x
        z = torch.where(valid[:, None], (z - self.mean) / self.std, torch.zeros((), dtype=z.dtype, device=z.device))
        return z, valid

    def forward(self, x: torch.Tensor):
        z, valid = self.standardize(x)
        if self.training and self.flips:
            both = random_flips(torch.cat([z, valid[:, None].to(z.dtype)], dim=1))
            z, valid = both[:, :-1], both[:, -1] > 0.5
        c = self.in_chans
        source, target = z[:, :c], z[:, c:]
        encoder_input = source.contiguous(memory_format=torch.channels_last) if self.channels_last else source
        features = self.encoder(encoder_input)
        with full_precision(source):
            size = source.shape[-2:]
            up = sum(F.interpolate(lateral(f.float()), size=size, mode="bilinear", align_corners=False)
                     for lateral, f in zip(self.lateral, features))
            prediction = source + self.head(torch.cat([F.relu(up), source], dim=1))
        return prediction, target, valid
