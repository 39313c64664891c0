"""The pyramid-pooling top module of the NeWCRFs (Yuan et al., CVPR 2022, Sec. 3.4: "PPM
... aggregates global information" and initialises the top-level prediction feature) and
PixelFormer (Agarwal & Arora, WACV 2023: the "pixel query initialiser", PQI, is the same
module) decoders.
"""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.decode_heads.psp_head import PPM
from torch import Tensor

__all__ = ['PSPTop']


class PSPTop(BaseModule):
    """Pyramid pooling on the deepest map, concatenated with it and fused by a 3×3 conv.

    ``out = bottleneck([x, up(PPM_1(x)), up(PPM_2(x)), up(PPM_3(x)), up(PPM_6(x))])``
    (mmseg's :class:`~mmseg.models.decode_heads.psp_head.PPM` does the pooling branches).

    Args:
        in_channels (int): Channels of the deepest encoder map.
        channels (int): Output channels (512 in both host repos).
        pool_scales (Sequence[int]): Adaptive pooling sizes. Defaults to (1, 2, 3, 6).
        norm_cfg (dict): Norm of the bottleneck conv. Defaults to BN.
        ppm_norm_cfg (dict): Norm of the pooling-branch convs. The host repos switch
            these to GroupNorm with 256 groups (their code switches at scale 1, the first
            scale, so every branch gets GN; batch-size-1 safe). Defaults to
            ``dict(type='GN', num_groups=256, requires_grad=True)``.
        act_cfg (dict): Activation. Defaults to ReLU.
        align_corners (bool): Of the upsampling. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 pool_scales: Sequence[int] = (1, 2, 3, 6),
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 ppm_norm_cfg: dict = dict(type='GN', num_groups=256, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        groups = (ppm_norm_cfg or {}).get('num_groups')
        if groups is not None and channels % groups:
            raise ValueError(f'PSPTop: channels {channels} not divisible by '
                             f'ppm_norm_cfg.num_groups {groups}; set decode_head.'
                             'ppm_norm_cfg to a divisor.')
        self.psp_modules = PPM(pool_scales, in_channels, channels, conv_cfg=None,
                               norm_cfg=ppm_norm_cfg, act_cfg=act_cfg,
                               align_corners=align_corners)
        self.bottleneck = ConvModule(in_channels + len(pool_scales) * channels, channels,
                                     3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, channels, h, w)."""
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))
