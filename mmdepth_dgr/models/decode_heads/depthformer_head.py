"""DepthFormer's decoder (Agarwal & Arora, "Depthformer: Multiscale Vision Transformer for
Monocular Depth Estimation with Global Local Information Fusion", ICIP 2022) as the official
``UnetAdaptiveBins`` computes it (ashutosh1807/Depthformer, ``models/unet_adaptive_bins.py``).

NOT Li et al.'s DepthFormer (MIR 2023). The encoder is SegFormer's MiT-B4 (``SegFormerMiT``),
levels ``x_0..x_3`` at strides 4, 8, 16, 32 with widths ``c_0..c_3`` (64, 128, 320, 512)::

    y = CBL(x_3)                                                  c_3       (1/32)
    for l = 2, 1, 0:  y = CBL(CBL(cat(ConvT_{2×2/2}(y), x_l)))   → c_l     (U-Net up-block)
    y = CBL(CBL(ConvT_{2×2/2}(y)))                                → C       (1/2)
    depth, centres = Transbins(y)                                 (B, 1, H/2, W/2), (B, K)

(CBL: 3×3 conv with bias + BatchNorm + LeakyReLU(0.01); the official decoder ends at
``C = c_1`` = 128.) The paper's "global–local information fusion" is the encoder's
multi-head self-attention feeding this convolutional decoder: the released decoder has no
attention. Its unused modules (``conv_transpose2``, ``conv3``, ``conv4``, ``regressor`` of
``DecoderBN`` and the mini-ViT's range-attention conv) are not built here.

Losses: every entry of ``loss_decode`` is called as ``loss(depth, gt, valid_mask)`` except
:class:`~mmdepth_dgr.models.losses.BinsChamferLoss` entries, which get the bin centres
``loss(centers (B, K), gt, valid_mask)`` — the same convention as ``AdaBinsHead``.
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..losses import BinsChamferLoss
from .depth_base_head import DepthBaseHead, add_loss
from .depthformer_transbins import DepthFormerTransbins

__all__ = ['DepthFormerHead', 'DepthFormerUpBlock']

_WHERE = 'mmdepth_dgr/models/decode_heads/depthformer_head.py'
_LRELU = dict(type='LeakyReLU', negative_slope=0.01)


def _cbl(cin: int, cout: int, norm_cfg: dict) -> ConvModule:
    return ConvModule(cin, cout, 3, padding=1, bias=True, norm_cfg=norm_cfg, act_cfg=_LRELU)


class DepthFormerUpBlock(nn.Module):
    """Transposed-conv ×2 of the decoder map, concatenation with the skip, two CBL
    (official ``UpSampleBN``).

    Args:
        in_channels (int): Channels of the decoder map (kept by the transposed conv).
        skip_channels (int): Channels of the encoder skip.
        out_channels (int): Output channels.
        norm_cfg (dict): Norm config. Defaults to BN.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels, 2, stride=2)
        self.convs = nn.Sequential(_cbl(in_channels + skip_channels, out_channels, norm_cfg),
                                   _cbl(out_channels, out_channels, norm_cfg))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = self.up(x)
        if x.shape[2:] != skip.shape[2:]:
            raise ValueError(f'{_WHERE}: the upsampled map {tuple(x.shape[2:])} does not '
                             f'match the skip {tuple(skip.shape[2:])}; the input size must '
                             'be divisible by 32')
        return self.convs(torch.cat([x, skip], dim=1))


@MODELS.register_module()
class DepthFormerHead(DepthBaseHead):
    """U-Net decoder with transposed-conv up-blocks, then Transbins (module docstring).

    Args:
        transbins (dict): Arguments of :class:`DepthFormerTransbins` except
            ``in_channels``/``min_depth``/``max_depth`` (``n_bins`` 256, ``patch_size`` 16,
            ``bin_norm`` 'linear', ...). Defaults to ``dict()``.
        norm_cfg (dict): Norm of the convs. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments: ``in_channels`` (the four encoder
            widths), ``channels`` (C, the decoder output width, official 128), ``min_depth``
            / ``max_depth`` (the bin range), ``loss_decode`` (may include
            ``BinsChamferLoss``), ``align_corners`` (of the final resize; official True).
    """

    def __init__(self,
                 transbins: dict = dict(),
                 norm_cfg: dict = dict(type='BN'),
                 **kwargs) -> None:
        kwargs.setdefault('align_corners', True)
        super().__init__(**kwargs)
        n = len(self.in_channels)
        if n < 2:
            raise ValueError(f'{_WHERE}: DepthFormerHead needs at least two input levels')
        chs = self.in_channels
        self.bottleneck = _cbl(chs[-1], chs[-1], norm_cfg)
        self.up_blocks = nn.ModuleList(
            DepthFormerUpBlock(chs[i + 1], chs[i], chs[i], norm_cfg)
            for i in range(n - 2, -1, -1))
        self.final_up = nn.ConvTranspose2d(chs[0], chs[0], 2, stride=2)
        self.final_convs = nn.Sequential(_cbl(chs[0], self.channels, norm_cfg),
                                         _cbl(self.channels, self.channels, norm_cfg))
        self.transbins = DepthFormerTransbins(self.channels, min_depth=self.min_depth,
                                              max_depth=self.max_depth, **transbins)

    def forward_with_bins(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Depth (B, 1, H/2, W/2) in metres and bin centres (B, K)."""
        feats = self._select_inputs(inputs)
        y = self.bottleneck(feats[-1])
        for block, skip in zip(self.up_blocks, feats[-2::-1]):
            y = block(y, skip)
        return self.transbins(self.final_convs(self.final_up(y)))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, H/2, W/2) in metres."""
        return self.forward_with_bins(inputs)[0]

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward and compute the depth losses and the bin chamfer loss."""
        return self.loss_by_feat(self.forward_with_bins(inputs), batch_data_samples)

    def loss_by_feat(self, pred: Tuple[Tensor, Tensor],
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of ``(depth (B, 1, h, w), bin_centers (B, K))``.

        Args:
            pred (tuple[Tensor, Tensor] | Tensor): Output of :meth:`forward_with_bins`;
                a bare depth tensor is accepted when no chamfer loss is configured.
            batch_data_samples (list[SegDataSample]): Samples with ``gt_depth_map``.

        Returns:
            dict[str, Tensor]: One entry per distinct ``loss_name``.
        """
        depth, centers = pred if isinstance(pred, (tuple, list)) else (pred, None)
        gt, valid = self.gt_and_valid(batch_data_samples, depth)
        depth = self.resize_to(depth, gt.shape[2:])
        losses = {}
        for loss_fn in self.loss_decode:
            if isinstance(loss_fn, BinsChamferLoss):
                if centers is None:
                    raise ValueError(f'{_WHERE}: a BinsChamferLoss is configured but no '
                                     'bin centres were given to loss_by_feat')
                value = loss_fn(centers, gt, valid_mask=valid)
            else:
                value = loss_fn(depth, gt, valid_mask=valid)
            add_loss(losses, loss_fn.loss_name, value)
        return losses

    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Tensor:
        """Depth only, resized to the (padded) network input, (B, 1, H, W)."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)
