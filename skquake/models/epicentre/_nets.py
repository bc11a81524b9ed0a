"""The torch module of the deep epicentre estimator: a soft-argmax position head on a timm CNN."""
from __future__ import annotations

import timm
import torch
from torch import nn

from ...utils import to_decibels
from ..deep import build_backbone, full_precision

__all__ = ["EpicentreNet"]

# The standard deviation of a uniform position in [-0.5, 0.5] (patch widths): the soft-argmax's
# initial scale, so that its output starts with about the spread of the standardised targets.
_UNIFORM_STD = 12.0 ** -0.5


def _feature_stage(backbone, input_size, min_map_size):
    """Index of the deepest feature stage whose map is at least ``min_map_size`` on each side."""
    reductions = timm.create_model(backbone, features_only=True, pretrained=False).feature_info.reduction()
    if input_size is None:
        return len(reductions) - 1
    side = min(input_size)
    fits = [i for i, r in enumerate(reductions) if side // r >= min_map_size]
    return fits[-1] if fits else 0


class EpicentreNet(nn.Module):
    """Containment, position and depth from one timm CNN (four outputs).

    A global-average-pooled CNN forgets where in the image its features are, which is what
    the position is about. Here the position comes from a heat map instead: a 1 x 1
    convolution scores every cell of a feature map, a softmax turns the scores into weights,
    and the position is the weights' centroid (a soft-argmax, "DSNT": differentiable and
    translation-equivariant), mapped to the standardised targets by a learned scale and
    shift per axis. The containment logit and the depth come from the pooled features.

    The feature map is the deepest stage of the backbone (``timm.create_model(...,
    features_only=True)``) whose map is at least ``min_map_size`` cells on each side for the
    input size (at 32 x 32, resnet10t's stride-8 stage: 4 x 4 cells); later stages are not
    built.

    Output columns: ``[containment logit, east, north, depth]``, east / north / depth in the
    estimator's standardised units. Image axes: columns run east, rows run south.

    Parameters
    ----------
    backbone : str
        A timm CNN that ``features_only=True`` supports.
    in_chans : int
    num_outputs : int, default=4
        Must be 4 (taken for the estimators' common module arguments).
    input_size : tuple (H, W), optional
        Chooses the feature stage (see above) and is checked by a test forward pass.
    pretrained : bool, str or os.PathLike, default=False
        See :func:`skquake.models.deep.build_backbone`.
    decibels : bool, default=True
        ``10 log10(max(x, 0) + 1e-9)`` first.
    flips : bool, default=False
        Must be False: the estimator flips images together with their targets.
    clamp : None
        Must be None (no output range: offsets and depth are not bounded here).
    channels_last : bool, default=False
    min_map_size : int, default=4
        Fewest cells per side of the heat map (``module__min_map_size``).
    **backbone_kwargs
        Passed to ``timm.create_model``.
    """

    def __init__(self, backbone, in_chans, num_outputs=4, input_size=None, pretrained=False, decibels=True,
                 flips=False, clamp=None, channels_last=False, min_map_size=4, **backbone_kwargs):
        super().__init__()
        if num_outputs != 4:
            raise ValueError(f"EpicentreNet has 4 outputs (containment, east, north, depth), got num_outputs={num_outputs}")
        if flips or clamp is not None:
            raise ValueError("EpicentreNet neither flips nor clamps: the estimator flips images with their targets "
                             f"(got flips={flips!r}, clamp={clamp!r})")
        stage = _feature_stage(backbone, input_size, min_map_size)
        # input_size=None: build_backbone would check the size against the whole backbone's
        # downsampling, while only the stages up to `stage` are built; the forward pass below checks.
        self.backbone = build_backbone(backbone, in_chans, 0, pretrained=pretrained, features_only=True,
                                       out_indices=(stage,), **backbone_kwargs)
        channels = self.backbone.feature_info.channels()[-1]
        self.decibels = decibels
        self.channels_last = channels_last
        self.heat = nn.Conv2d(channels, 1, kernel_size=1)
        self.head = nn.Linear(channels, 2)  # containment logit, depth
        self.position_scale = nn.Parameter(torch.full((2,), 1.0 / _UNIFORM_STD))
        self.position_shift = nn.Parameter(torch.zeros(2))
        if channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)
        if input_size is not None:
            self._check(in_chans, input_size, backbone)

    def _check(self, in_chans, input_size, backbone):
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                self(torch.ones(1, in_chans, *input_size))
        except Exception as exc:
            raise ValueError(f"backbone {backbone!r} cannot take input of shape ({in_chans}, "
                             f"{input_size[0]}, {input_size[1]}): {exc}") from exc
        finally:
            self.train(was_training)

    def forward(self, x):
        if self.decibels:
            x = to_decibels(x.clamp(min=0.0))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        features = self.backbone(x)[-1]
        with full_precision(features):
            features = features.float()
            h, w = features.shape[-2:]
            weights = torch.softmax(self.heat(features).flatten(1), dim=1).view(-1, h, w)
            east = (torch.arange(w, device=x.device, dtype=weights.dtype) + 0.5) / w - 0.5
            north = 0.5 - (torch.arange(h, device=x.device, dtype=weights.dtype) + 0.5) / h
            position = torch.stack([(weights.sum(1) * east).sum(1), (weights.sum(2) * north).sum(1)], dim=1)
            position = position * self.position_scale + self.position_shift
            pooled = self.head(features.mean(dim=(2, 3)))
            return torch.cat([pooled[:, :1], position, pooled[:, 1:]], dim=1)
