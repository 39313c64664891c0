"""TransDepth's head: attention-gated multi-scale fusion (AGD) + an upsampling decoder.

Yang et al., "Transformer-Based Attention Networks for Continuous Pixel-Wise Prediction"
(ICCV 2021). Encoder: the original is the R50+ViT-B/16 hybrid of TransUNet; here mmseg's
``VisionTransformer`` (ViT-B/16) with mmseg's ``MultiLevelNeck`` turning the four 1/16 token
maps into a 1/4–1/32 pyramid (both registry parts, no copied backbone code). A ResNet stem
would need a new backbone class composing ResNet and ViT, which :class:`DGRBackbone` could
not wrap; it is left out and documented in configs/transdepth/README.md.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth
from .transdepth_agd import TransDepthAttentionGate

__all__ = ['TransDepthHead']


@MODELS.register_module()
class TransDepthHead(DepthBaseHead):
    """Attention-gate decoder (AGD) over a feature pyramid, then a BTS-style upsampler.

    With the selected levels ``x_0..x_{L-1}`` finest first::

        AGD (levels a ∈ agd_levels, receiver = the coarsest of them):
            f_a   = resize(ConvBNReLU_3x3(x_a -> channels), size of the finest AGD level)
            msg_a = AttentionGate_a(receiver=f_rcv, sender=f_a)      (f_rcv sends to itself too)
            y     = ConvBNReLU_3x3(cat(msg_a..., f_rcv) -> channels)
        Decoder (finer levels l < min(agd_levels), coarse to fine):
            y = ConvBNReLU_3x3(cat(resize(y, size(x_l)), ConvBNReLU_1x1(x_l)) -> channels)
        Upsampler (num_upsample times): y = ConvBNReLU_3x3(up2(y)), width halved each time
        depth = min + σ(Conv_3x3(y))·(max − min)

    Choices (document of the interpretation):

    * Where the AGD sits: the paper places the attention gates on the decoder's
      multi-scale features; the released depth code builds them on the three deepest
      encoder levels (1/8, 1/16, 1/32 of R50+ViT), passes messages to the coarsest level
      resized to 1/8, and feeds the result to BTS's decoder. Here: same three levels by
      default (``agd_levels=(1, 2, 3)``), messages into the coarsest level at 1/8.
    * Decoder: BTS's local planar guidance (which needs the focal length) is replaced by
      plain skip fusion + ×2 upsampling convs; the output is at full input resolution for
      a 1/4 finest level and ``num_upsample=2``.
    * Gate: deterministic sigmoid (see :class:`TransDepthAttentionGate`).

    Args:
        agd_levels (Sequence[int]): Positions (in the selected inputs) fused by the AGD;
            the last one receives. Defaults to (1, 2, 3).
        dilations (Sequence[int]): Dilations of every attention gate. Defaults to (1, 4, 8).
        gate (str): 'sigmoid' or 'none'. Defaults to 'sigmoid'.
        num_upsample (int): ×2 upsampling convs after the finest skip. Defaults to 2.
        depth_activation (str): See :func:`bounded_depth`. Defaults to 'sigmoid'.
        norm_cfg (dict): Norm of the convs. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments (in_channels, channels, ...).
    """

    def __init__(self,
                 agd_levels: Sequence[int] = (1, 2, 3),
                 dilations: Sequence[int] = (1, 4, 8),
                 gate: str = 'sigmoid',
                 num_upsample: int = 2,
                 depth_activation: str = 'sigmoid',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 **kwargs):
        super().__init__(**kwargs)
        n = len(self.in_channels)
        agd_levels = sorted(int(a) for a in agd_levels)
        if not agd_levels or agd_levels[0] < 0 or agd_levels[-1] >= n or \
                len(set(agd_levels)) != len(agd_levels):
            raise ValueError(f'TransDepthHead: agd_levels {agd_levels} must be distinct '
                             f'positions in the {n} selected inputs.')
        if self.channels % 2**num_upsample:
            raise ValueError(f'TransDepthHead: channels={self.channels} must be divisible by '
                             f'2**num_upsample={2**num_upsample}.')
        self.agd_levels = agd_levels
        self.skip_levels = list(range(agd_levels[0]))[::-1]  # finer levels, coarse first
        self.depth_activation = depth_activation
        act = dict(type='ReLU')
        c = self.channels
        self.agd_proj = nn.ModuleList(
            ConvModule(self.in_channels[a], c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act)
            for a in agd_levels)
        self.gates = nn.ModuleList(
            TransDepthAttentionGate(c, dilations=dilations, gate=gate) for _ in agd_levels)
        self.agd_fuse = ConvModule((len(agd_levels) + 1) * c, c, 3, padding=1,
                                   norm_cfg=norm_cfg, act_cfg=act)
        self.skip_proj = nn.ModuleDict({
            str(l): ConvModule(self.in_channels[l], c, 1, norm_cfg=norm_cfg, act_cfg=act)
            for l in self.skip_levels})
        self.skip_fuse = nn.ModuleDict({
            str(l): ConvModule(2 * c, c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act)
            for l in self.skip_levels})
        self.upsample = nn.ModuleList(
            ConvModule(c // 2**i, c // 2**(i + 1), 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act) for i in range(num_upsample))
        self.depth_pred = nn.Conv2d(c // 2**num_upsample, 1, 3, padding=1)

    def agd(self, feats: List[Tensor]) -> Tensor:
        """Attention-gated fusion of the AGD levels, (B, channels, size of finest AGD level)."""
        size = feats[self.agd_levels[0]].shape[2:]
        maps = [self.resize_to(proj(feats[a]), size)
                for proj, a in zip(self.agd_proj, self.agd_levels)]
        receiver = maps[-1]
        msgs = [gate(receiver, m) for gate, m in zip(self.gates, maps)]
        return self.agd_fuse(torch.cat(msgs + [receiver], dim=1))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, h, w) in metres, h = 2**num_upsample × the finest level's height."""
        feats = self._select_inputs(inputs)
        y = self.agd(feats)
        for l in self.skip_levels:
            skip = self.skip_proj[str(l)](feats[l])
            y = self.skip_fuse[str(l)](
                torch.cat([self.resize_to(y, skip.shape[2:]), skip], dim=1))
        for conv in self.upsample:
            y = conv(self.resize_to(y, (y.shape[2] * 2, y.shape[3] * 2)))
        return bounded_depth(self.depth_pred(y), self.min_depth, self.max_depth,
                             self.depth_activation)
