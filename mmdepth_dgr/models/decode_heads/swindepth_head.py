"""Swin-Depth's head (Cheng, Zhang, Tang, IEEE Sensors J. 2021): multi-scale fusion decoder.

Encoder: mmseg's ``SwinTransformer`` (four stages, strides 4–32). The head builds a top-down
pyramid over the four stages, fuses the pyramid with :class:`SwinDepthFusionAttention` and
upsamples to the input size. NOT Shim & Kim's self-supervised SwinDepth.
"""
from typing import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth
from .swindepth_fusion import SwinDepthFusionAttention

__all__ = ['SwinDepthHead']


@MODELS.register_module()
class SwinDepthHead(DepthBaseHead):
    """Top-down pyramid + multi-scale fusion attention + upsampling convs.

    With ``x_0..x_3`` the Swin stages (finest first)::

        p_3 = ConvBNReLU_1x1(x_3);  p_l = ConvBNReLU_1x1(x_l) + up(p_{l+1})   (top-down)
        q_l = ConvBNReLU_3x3(p_l)                      all of width ``channels``
        f   = FusionAttention( resize(q_l, size(x_0)) for l = 0..3 )
        y   = ConvBNReLU_3x3(f); then num_upsample × [up2, ConvBNReLU_3x3, width halved]
        depth = min + σ(Conv_3x3(y))·(max − min)

    Choices (the paper publishes no code and no layer table): the top-down pathway (an FPN,
    as the "multi-scale" part) and the fusion module's internals (see
    :class:`SwinDepthFusionAttention`) are this implementation's; ``top_down=False``
    fuses the lateral projections directly; ``fusion=dict(...)`` configures the module.

    Args:
        top_down (bool): Add the coarser pyramid level into each finer one. Defaults to True.
        fusion (dict): Extra keyword arguments of :class:`SwinDepthFusionAttention`
            (``reduction``, ``scale_attention``, ``channel_attention``). Defaults to ``{}``.
        num_upsample (int): ×2 upsampling convs after fusion. Defaults to 2.
        depth_activation (str): See :func:`bounded_depth`. Defaults to 'sigmoid'.
        norm_cfg (dict): Norm of the convs. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments (in_channels, channels, ...).
    """

    def __init__(self,
                 top_down: bool = True,
                 fusion: dict = dict(),
                 num_upsample: int = 2,
                 depth_activation: str = 'sigmoid',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 **kwargs):
        super().__init__(**kwargs)
        c = self.channels
        if c % 2**num_upsample:
            raise ValueError(f'SwinDepthHead: channels={c} must be divisible by '
                             f'2**num_upsample={2**num_upsample}.')
        self.top_down = top_down
        self.depth_activation = depth_activation
        act = dict(type='ReLU')
        self.lateral = nn.ModuleList(
            ConvModule(ch, c, 1, norm_cfg=norm_cfg, act_cfg=act) for ch in self.in_channels)
        self.smooth = nn.ModuleList(
            ConvModule(c, c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act)
            for _ in self.in_channels)
        self.fusion = SwinDepthFusionAttention(c, len(self.in_channels), norm_cfg=norm_cfg,
                                               **fusion)
        self.post = ConvModule(c, c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act)
        self.upsample = nn.ModuleList(
            ConvModule(c // 2**i, c // 2**(i + 1), 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act) for i in range(num_upsample))
        self.depth_pred = nn.Conv2d(c // 2**num_upsample, 1, 3, padding=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, h, w) in metres, h = 2**num_upsample × the finest level's height."""
        feats = self._select_inputs(inputs)
        lat = [lat_conv(x) for lat_conv, x in zip(self.lateral, feats)]
        if self.top_down:
            for i in range(len(lat) - 2, -1, -1):
                lat[i] = lat[i] + self.resize_to(lat[i + 1], lat[i].shape[2:])
        size = feats[0].shape[2:]
        pyr = [self.resize_to(s(p), size) for s, p in zip(self.smooth, lat)]
        y = self.post(self.fusion(pyr))
        for conv in self.upsample:
            y = conv(self.resize_to(y, (y.shape[2] * 2, y.shape[3] * 2)))
        return bounded_depth(self.depth_pred(y), self.min_depth, self.max_depth,
                             self.depth_activation)
