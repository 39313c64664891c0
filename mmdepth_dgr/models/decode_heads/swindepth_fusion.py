"""Swin-Depth's multi-scale fusion attention module (Cheng et al., IEEE Sensors J. 2021).

Cheng, Zhang, Tang, "Swin-Depth: Using Transformers and Multi-Scale Fusion for
Monocular-Based Depth Estimation" describe an attention module based on multi-scale fusion
that strengthens the network's global view; the paper gives no released code, so the module
is written from that description (choices in :class:`SwinDepthFusionAttention`)::

    given S maps F_s (B, C, H, W) at one resolution:
      w      = softmax_s( Conv1x1( ConvBNReLU_3x3(cat_s F_s) ) )    per-pixel scale weights
      F      = Σ_s w_s ⊙ F_s                                         scale attention
      g      = σ( FC( ReLU( FC( GAP(F) ) ) ) )                       channel (global) attention
      out    = F ⊙ g + F
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['SwinDepthFusionAttention', 'scale_softmax_fuse']


def scale_softmax_fuse(feats: Tensor, logits: Tensor) -> Tensor:
    """Per-pixel softmax-weighted sum over scales.

    ``out[b, c, i, j] = Σ_s softmax_s(logits[b, :, i, j])_s · feats[b, s, c, i, j]``.

    Args:
        feats (Tensor): (B, S, C, H, W) the S scale maps, resized to one size.
        logits (Tensor): (B, S, H, W) unnormalised scale scores.

    Returns:
        Tensor: (B, C, H, W).
    """
    if feats.dim() != 5 or logits.shape != feats.shape[:2] + feats.shape[3:]:
        raise ValueError('scale_softmax_fuse: expected feats (B, S, C, H, W) and logits '
                         f'(B, S, H, W), got {tuple(feats.shape)} and {tuple(logits.shape)}.')
    w = torch.softmax(logits, dim=1).unsqueeze(2)
    return (w * feats).sum(dim=1)


@MODELS.register_module()
class SwinDepthFusionAttention(nn.Module):
    """Multi-scale fusion attention: per-pixel scale attention then channel attention.

    Choices (the paper's text leaves the exact layers open):

    * Scale attention: per-pixel softmax over the S scales (``scale_attention=True``);
      ``False`` averages the scales (a plain multi-scale fusion, for ablations).
    * Global attention: squeeze-and-excitation over channels with a residual
      (``out = F·g + F``) so the module starts near identity on ``F``; ``reduction`` sets
      the bottleneck. ``channel_attention=False`` drops it.

    Args:
        channels (int): Width C of every scale map.
        num_scales (int): S, number of maps fused.
        reduction (int): SE bottleneck ratio. Defaults to 4.
        scale_attention (bool): Per-pixel scale softmax. Defaults to True.
        channel_attention (bool): SE gate. Defaults to True.
        norm_cfg (dict): Norm of the 3×3 conv. Defaults to BN.
    """

    def __init__(self, channels: int, num_scales: int, reduction: int = 4,
                 scale_attention: bool = True, channel_attention: bool = True,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        self.num_scales = num_scales
        self.scale_attention = scale_attention
        self.channel_attention = channel_attention
        if scale_attention:
            self.scale_logits = nn.Sequential(
                ConvModule(num_scales * channels, channels, 3, padding=1, norm_cfg=norm_cfg,
                           act_cfg=dict(type='ReLU')),
                nn.Conv2d(channels, num_scales, 1))
        if channel_attention:
            hidden = max(1, channels // reduction)
            self.se = nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Fuse S maps (B, C, H, W) (same size) into one (B, C, H, W)."""
        if len(feats) != self.num_scales:
            raise ValueError(f'SwinDepthFusionAttention: expected {self.num_scales} maps, '
                             f'got {len(feats)}.')
        stack = torch.stack(list(feats), dim=1)
        if self.scale_attention:
            fused = scale_softmax_fuse(stack, self.scale_logits(torch.cat(list(feats), 1)))
        else:
            fused = stack.mean(dim=1)
        if self.channel_attention:
            fused = fused * self.se(fused) + fused
        return fused
