"""A small multi-level regression head: the simple baseline head of the quickstart."""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth

__all__ = ['DepthRegressionHead']


@MODELS.register_module()
class DepthRegressionHead(DepthBaseHead):
    """All-level fusion decoder with a bounded depth output.

    Each selected level is projected to ``channels`` by a 1×1 conv, upsampled to the
    finest selected level and concatenated (SegFormer's all-MLP decoder, applied to
    regression); a 3×3 fusion conv, a ×2 upsampling with one more 3×3 conv, and a 3×3
    conv to one channel follow, then ``depth = min + σ(logit)·(max − min)``.

    Args:
        fuse_kernel (int): Kernel of the fusion convs. Defaults to 3.
        depth_activation (str): See :func:`bounded_depth`. Defaults to 'sigmoid'.
        norm_cfg (dict): Norm of the fusion convs. Defaults to BN.
        act_cfg (dict): Activation of the fusion convs. Defaults to ReLU.
        **kwargs: :class:`DepthBaseHead` arguments (in_channels, channels, ...).
    """

    def __init__(self,
                 fuse_kernel: int = 3,
                 depth_activation: str = 'sigmoid',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 **kwargs):
        super().__init__(**kwargs)
        self.depth_activation = depth_activation
        self.lateral = nn.ModuleList(
            ConvModule(c, self.channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in self.in_channels)
        pad = fuse_kernel // 2
        self.fuse = ConvModule(self.channels * len(self.in_channels), self.channels,
                               fuse_kernel, padding=pad, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.refine = ConvModule(self.channels, self.channels // 2, 3, padding=1,
                                 norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depth_pred = nn.Conv2d(self.channels // 2, 1, 3, padding=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, 2h, 2w) in metres, (h, w) the finest selected level."""
        feats = self._select_inputs(inputs)
        size = feats[0].shape[2:]
        outs = [self.resize_to(lat(x), size) for lat, x in zip(self.lateral, feats)]
        x = self.fuse(torch.cat(outs, dim=1))
        x = self.resize_to(x, (size[0] * 2, size[1] * 2))
        x = self.refine(x)
        return bounded_depth(self.depth_pred(x), self.min_depth, self.max_depth,
                             self.depth_activation)
