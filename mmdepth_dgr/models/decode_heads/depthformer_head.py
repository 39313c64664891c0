"""DepthFormer's head (Agarwal & Arora, ICIP 2022): global–local fusion decoder + Transbins.

NOT Li et al.'s DepthFormer (MIR 2023). Encoder: the released code uses SegFormer's MiT-B4
(a multi-scale vision transformer), here mmseg's ``MixVisionTransformer``.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from .depth_base_head import DepthBaseHead, add_loss
from .depthformer_fusion import DepthFormerGlobalLocalFusion
from .depthformer_transbins import DepthFormerTransbins

__all__ = ['DepthFormerHead']


@MODELS.register_module()
class DepthFormerHead(DepthBaseHead):
    """U-Net decoder whose skips are fused globally and locally, then adaptive bins.

    With ``x_0..x_3`` the encoder levels (finest first)::

        y = ConvBNLReLU_3x3(x_3 -> channels)
        for l = 2, 1, 0:  y = GlobalLocalFusion_l(up2(y), x_l)          (width ``channels``)
        y = ConvBNLReLU_3x3 ∘ ConvBNLReLU_3x3(up2(y))                    1/2 of the input
        depth, centres = Transbins(y)                                     (B,1,h,w), (B,K)

    Losses: ``loss_decode`` on the depth (SILog in AdaBins form for the paper's setting) and,
    when ``loss_bins`` is set, AdaBins' chamfer loss between bin centres and the valid
    ground-truth depths (``BinsChamferLoss``, weight 0.1 in the released training args).

    Choices: the decoder width is uniform (``channels``; the released decoder narrows from
    the encoder widths 320/128/64 and ends at 128); the up-sampling is bilinear instead of
    transposed convs; ``global_levels`` selects the skips that get the attention branch
    (all by default; the released code has none). See the two layer files for the rest.

    Args:
        global_levels (Sequence[int]): Skip positions (0..L-2) fused with attention.
            Defaults to (0, 1, 2).
        fusion (dict): Extra arguments of :class:`DepthFormerGlobalLocalFusion`
            (``num_heads``, ``kv_size``). Defaults to ``{}``.
        transbins (dict): Arguments of :class:`DepthFormerTransbins` except
            ``in_channels``/``min_depth``/``max_depth`` (``n_bins``, ``patch_size``, ...).
            Defaults to ``{}``.
        loss_bins (dict, optional): Loss on the bin centres, called as
            ``loss(centers (B, K), gt (B, 1, H, W), valid_mask=...)``. Defaults to None.
        norm_cfg (dict): Norm of the convs. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments (in_channels, channels, ...).
    """

    def __init__(self,
                 global_levels: Sequence[int] = (0, 1, 2),
                 fusion: dict = dict(),
                 transbins: dict = dict(),
                 loss_bins: Optional[ConfigType] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 **kwargs):
        super().__init__(**kwargs)
        n = len(self.in_channels)
        if n < 2:
            raise ValueError('DepthFormerHead: needs at least two input levels.')
        bad = [g for g in global_levels if not 0 <= g < n - 1]
        if bad:
            raise ValueError(f'DepthFormerHead: global_levels {bad} out of range 0..{n - 2}.')
        c = self.channels
        act = dict(type='LeakyReLU', negative_slope=0.01)
        self.bottleneck = ConvModule(self.in_channels[-1], c, 3, padding=1,
                                     norm_cfg=norm_cfg, act_cfg=act)
        self.fusions = nn.ModuleList(
            DepthFormerGlobalLocalFusion(c, self.in_channels[l], c,
                                         with_global=l in global_levels,
                                         norm_cfg=norm_cfg, **fusion)
            for l in range(n - 1))
        self.final = nn.Sequential(
            ConvModule(c, c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act),
            ConvModule(c, c, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act))
        self.transbins = DepthFormerTransbins(c, min_depth=self.min_depth,
                                              max_depth=self.max_depth, **transbins)
        self.loss_bins = MODELS.build(loss_bins) if loss_bins is not None else None

    def forward_with_bins(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Depth (B, 1, h, w) in metres at 2× the finest level, and centres (B, K)."""
        feats = self._select_inputs(inputs)
        y = self.bottleneck(feats[-1])
        for l in range(len(feats) - 2, -1, -1):
            y = self.fusions[l](self.resize_to(y, feats[l].shape[2:]), feats[l])
        y = self.final(self.resize_to(y, (y.shape[2] * 2, y.shape[3] * 2)))
        return self.transbins(y)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, h, w) in metres."""
        return self.forward_with_bins(inputs)[0]

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Depth losses (``loss_decode``) plus the optional bin-centre loss."""
        depth, centers = self.forward_with_bins(inputs)
        losses = self.loss_by_feat(depth, batch_data_samples)
        if self.loss_bins is not None:
            gt, valid = self.gt_and_valid(batch_data_samples, depth)
            add_loss(losses, self.loss_bins.loss_name,
                     self.loss_bins(centers, gt, valid_mask=valid))
        return losses
