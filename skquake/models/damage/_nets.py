"""The torch module of the building-damage fusion classifier (QuakeMetaFormer)."""
from __future__ import annotations

import torch
from torch import nn

from ...utils import to_decibels
from ..deep import backbone_forward, build_backbone, full_precision, random_flips

__all__ = ["FusionNet"]


class FusionNet(nn.Module):
    """timm backbone features ++ metadata MLP embedding -> linear head.

    Metadata are standardised with the training statistics (buffers, so they travel with
    the module). A missing value (NaN) is set to 0 (the training mean) and flagged in a
    missingness indicator that enters the MLP beside the values, so the first layer learns
    a per-column "missing" encoding. In training, values are masked at random (each
    column with probability ``meta_dropout``, the whole table with ``meta_drop_all``) so
    the model learns to predict with partial or no metadata.

    Parameters
    ----------
    backbone : str
        timm model name, built as a feature extractor (``num_classes=0``).
    in_chans, n_classes, n_metadata : int
        Image channels, outputs of the head, metadata columns (0: no metadata branch).
    image_mean, image_std : array-like of shape (in_chans,)
        Per-channel standardisation of the (decibel, with ``decibels``) images.
    meta_mean, meta_std : array-like of shape (n_metadata,) or None
        Per-column standardisation of the metadata.
    meta_hidden : int, default=64
        Width of the metadata embedding (``Linear(2M, h) -> GELU -> Linear(h, h) -> LayerNorm``).
    meta_dropout, meta_drop_all : float, default=0.1
        Training-time probabilities of masking a value and a whole table.
    flip : bool, default=True
        Random horizontal and vertical flips in training.
    decibels : bool, default=False
        Convert the images to decibels first.
    pretrained : bool, str or os.PathLike, default=False
        ``True``: timm's published weights; a path: a weights file loaded offline (see
        :func:`~skquake.models.deep.build_backbone`).
    input_size : tuple (H, W), optional
        Checked by :func:`~skquake.models.deep.build_backbone`.
    backbone_kwargs : dict, optional
        Passed to ``timm.create_model``.
    channels_last : bool, default=False
        Feed the backbone channels-last tensors.
    **kwargs
        Also passed to ``timm.create_model`` (what an estimator's ``module__*`` arguments
        reach, as with :class:`~skquake.models.deep.SARNet`).
    """

    def __init__(self, backbone, in_chans, n_classes, n_metadata, image_mean, image_std,
                 meta_mean, meta_std, meta_hidden=64, meta_dropout=0.1, meta_drop_all=0.1,
                 flip=True, decibels=False, pretrained=False, input_size=None, backbone_kwargs=None,
                 channels_last=False, **kwargs):
        super().__init__()
        self.backbone = build_backbone(backbone, in_chans, 0, pretrained=pretrained, input_size=input_size,
                                       **{**(backbone_kwargs or {}), **kwargs})
        self.n_metadata = int(n_metadata)
        self.meta_dropout = float(meta_dropout)
        self.meta_drop_all = float(meta_drop_all)
        self.flip = bool(flip)
        self.decibels = bool(decibels)
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)
        self.register_buffer("image_mean", torch.as_tensor(image_mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("image_std", torch.as_tensor(image_std, dtype=torch.float32).view(1, -1, 1, 1))
        n_features = self.backbone.num_features
        if self.n_metadata:
            self.register_buffer("meta_mean", torch.as_tensor(meta_mean, dtype=torch.float32))
            self.register_buffer("meta_std", torch.as_tensor(meta_std, dtype=torch.float32))
            # the paper's best embedding: a feed-forward stack closed by a LayerNorm
            self.meta = nn.Sequential(
                nn.Linear(2 * self.n_metadata, meta_hidden), nn.GELU(),
                nn.Linear(meta_hidden, meta_hidden), nn.LayerNorm(meta_hidden))
            n_features += meta_hidden
        self.head = nn.Linear(n_features, n_classes)

    def embed_metadata(self, meta):
        z = (meta - self.meta_mean) / self.meta_std
        missing = torch.isnan(z)
        if self.training:
            drop = torch.rand_like(z) < self.meta_dropout
            drop |= torch.rand(z.shape[0], 1, device=z.device) < self.meta_drop_all
            missing = missing | drop
        z = torch.where(missing, torch.zeros_like(z), z)
        return self.meta(torch.cat([z, missing.to(z.dtype)], dim=1))

    def forward(self, image, meta=None):
        if self.decibels:
            image = to_decibels(image)
        image = (image - self.image_mean) / self.image_std
        if self.training and self.flip:
            image = random_flips(image)
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        # Under autocast (amp=True) only the backbone's features run in bfloat16: its pooling,
        # the metadata branch and the head run in float32, so probabilities keep float32 resolution.
        features = backbone_forward(self.backbone, image)
        with full_precision(features):
            if self.n_metadata:
                if meta is None:  # no table at all: every value missing
                    meta = image.new_full((image.shape[0], self.n_metadata), float("nan"))
                features = torch.cat([features, self.embed_metadata(meta)], dim=1)
            return self.head(features)
