"""The shared decoder of the CNN-vs-Transformer pair: Hu et al.'s multi-scale fusion decoder.

The study (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1 / 4 "Models") compares a ResNet-50 and a
SegFormer (MiT) encoder under *one* decoder, data pipeline, schedule and Hu et al.'s loss
(Eq. 18–19), so that the encoder is the only difference. The decoder follows Hu, Ozay,
Zhang, Okatani, "Revisiting Single Image Depth Estimation: Toward Higher Resolution Maps with
Accurate Object Boundaries" (WACV 2019): D (decoder) + MFF (multi-scale feature fusion) + R
(refinement).
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth
from .hu_up_projection import HuUpProjection

__all__ = ['HuDecoderHead']


@MODELS.register_module()
class HuDecoderHead(DepthBaseHead):
    """Hu et al.'s decoder: up-projection decoder + multi-scale fusion + refinement.

    With ``inputs`` the selected encoder levels, finest first (strides 4, 8, 16, 32 for
    ResNet and MiT alike)::

        D:   d_0 = ConvBNReLU_1x1(x_3 -> channels)
             d_i = UpProj(d_{i-1}, ×2, channels / 2^i)          i = 1..num_up
        MFF: m   = ConvBNReLU_5x5( cat_l UpProj(x_l -> size(d_num_up), mff_channels) )
        R:   r   = ConvBNReLU_5x5 ∘ ConvBNReLU_5x5 ( cat(d_num_up, m) -> refine_channels )
             depth = min + σ(Conv_5x5(r))·(max − min)

    For stride-32 encoders and ``num_up=4`` the depth map is at 1/2 of the input, as in Hu
    et al.; the base class resizes it to the ground truth for the loss and to the input for
    prediction.

    Choices (Hu et al. / the study leave open or differ from this default):

    * Output activation: Hu et al. regress depth with a linear last conv; here a bounded
      sigmoid (``depth_activation='sigmoid'``) keeps the log terms of Hu's loss finite at
      initialisation; ``'relu'`` gives ``min + ReLU`` (unbounded above).
    * The encoder level widths come from ``in_channels`` (ResNet-50: 256/512/1024/2048;
      MiT-B2: 64/128/320/512); everything after the first 1×1 conv and the MFF up-projections
      is independent of the encoder, which is what makes the pair comparable.
    * Hu et al.'s MFF output width (16 per level → 64) and refinement width
      (64 + 64 = 128) are the defaults ``mff_channels=16``, ``refine_channels=128`` with
      ``channels=1024`` (their 2048→1024 bottleneck).
    * MFF cost: Hu et al. up-project every level *before* reducing it, i.e. a 5×5 conv with
      the level's full width (2048 for ResNet-50's last level) at the output resolution.
      ``mff_pre_reduce=C`` first maps every level to C channels with a 1×1 ConvBNReLU at
      its own resolution (cheap, and makes the MFF cost independent of the encoder);
      ``None`` (default) is Hu et al.'s layout.

    Args:
        mff_channels (int): Channels of each level after its MFF up-projection.
            Defaults to 16.
        refine_channels (int): Width of the refinement convs. Defaults to 128.
        mff_pre_reduce (int, optional): Width of a 1×1 reduction of every level before its
            MFF up-projection; None = no reduction (Hu et al.). Defaults to None.
        refine_kernel (int): Kernel of the MFF and refinement convs (Hu et al.: 5).
            Defaults to 5.
        num_up (int): Up-projection blocks in D; ``channels`` must be divisible by
            ``2**num_up``. Defaults to 4.
        depth_activation (str): See :func:`bounded_depth`. Defaults to 'sigmoid'.
        norm_cfg (dict): Norm of every conv. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments (in_channels, channels, in_index, ...).
    """

    def __init__(self,
                 mff_channels: int = 16,
                 refine_channels: int = 128,
                 mff_pre_reduce: Optional[int] = None,
                 refine_kernel: int = 5,
                 num_up: int = 4,
                 depth_activation: str = 'sigmoid',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 **kwargs):
        super().__init__(**kwargs)
        if num_up < 1 or self.channels % (2**num_up):
            raise ValueError(f'HuDecoderHead: channels={self.channels} must be divisible '
                             f'by 2**num_up={2**num_up} (num_up >= 1).')
        if refine_kernel % 2 != 1:
            raise ValueError(f'HuDecoderHead: refine_kernel must be odd, got {refine_kernel}.')
        self.depth_activation = depth_activation
        self.num_up = num_up
        pad = refine_kernel // 2
        act = dict(type='ReLU')
        # D
        self.bottleneck = ConvModule(self.in_channels[-1], self.channels, 1,
                                     norm_cfg=norm_cfg, act_cfg=act)
        widths = [self.channels // 2**i for i in range(num_up + 1)]
        self.up = nn.ModuleList(
            HuUpProjection(widths[i], widths[i + 1], norm_cfg, self.align_corners)
            for i in range(num_up))
        # MFF
        if mff_pre_reduce is None:
            self.mff_reduce = nn.ModuleList(nn.Identity() for _ in self.in_channels)
            mff_in = list(self.in_channels)
        else:
            self.mff_reduce = nn.ModuleList(
                ConvModule(c, mff_pre_reduce, 1, norm_cfg=norm_cfg, act_cfg=act)
                for c in self.in_channels)
            mff_in = [mff_pre_reduce] * len(self.in_channels)
        self.mff_up = nn.ModuleList(
            HuUpProjection(c, mff_channels, norm_cfg, self.align_corners) for c in mff_in)
        mff_total = mff_channels * len(self.in_channels)
        self.mff_fuse = ConvModule(mff_total, mff_total, refine_kernel, padding=pad,
                                   norm_cfg=norm_cfg, act_cfg=act)
        # R
        self.refine = nn.Sequential(
            ConvModule(widths[-1] + mff_total, refine_channels, refine_kernel, padding=pad,
                       norm_cfg=norm_cfg, act_cfg=act),
            ConvModule(refine_channels, refine_channels, refine_kernel, padding=pad,
                       norm_cfg=norm_cfg, act_cfg=act))
        self.depth_pred = nn.Conv2d(refine_channels, 1, refine_kernel, padding=pad)

    def decode(self, inputs: Sequence[Tensor]) -> Tensor:
        """Refined features (B, refine_channels, h, w) before the depth conv."""
        feats: List[Tensor] = self._select_inputs(inputs)
        d = self.bottleneck(feats[-1])
        for block in self.up:
            d = block(d)
        size = d.shape[2:]
        m = self.mff_fuse(torch.cat([
            up(red(x), size) for red, up, x in zip(self.mff_reduce, self.mff_up, feats)], 1))
        return self.refine(torch.cat([d, m], dim=1))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, h, w) in metres, h = 2**num_up × the coarsest level's height."""
        return bounded_depth(self.depth_pred(self.decode(inputs)), self.min_depth,
                             self.max_depth, self.depth_activation)
