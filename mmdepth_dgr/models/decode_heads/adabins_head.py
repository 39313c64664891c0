"""AdaBins decode head (Bhat, Alhashim, Wonka, "AdaBins: Depth Estimation using Adaptive
Bins", CVPR 2021): UNet decoder + mini-ViT adaptive bins + per-pixel bin probabilities.

Pipeline (official ``UnetAdaptiveBins``; encoder taps come from
:class:`~mmdepth_dgr.models.backbones.TIMMEncoder`, EfficientNet-B5: 24, 40, 64, 176
channels at strides 2..16 and the 2048-channel ``conv_head`` output at stride 32)::

    x   = Conv1×1(bottleneck)                       ("conv2", padding 1 as official)
    x   = Up_k(x, skip_k), k = coarse -> fine        channels F/2, F/4, F/8, F/16
    u   = Conv3×3(x)                                 decoder output (stride 2)
    b, R = mViT(u)                                   widths (B, N), maps (B, Q, h, w)
    d   = Σ_i c(b)_i · softmax(Conv1×1(R))_i         depth at stride 2

See :mod:`.adabins_layers` for the bin math. The depth loss (SILog, AdaBins form) reads
``d``; the chamfer loss (λ = 0.1) reads the bin centres ``c(b)`` and the valid ground
truth depths of each image.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from .adabins_layers import AdaBinsMiniViT, AdaBinsUpBlock, bin_edges_and_centers
from .depth_base_head import DepthBaseHead, add_loss

__all__ = ['AdaBinsHead', 'adabins_depth']

_WHERE = 'mmdepth_dgr/models/decode_heads/adabins_head.py'


def adabins_depth(bin_logits: Tensor, centers: Tensor) -> Tensor:
    """Expected depth under the per-pixel bin distribution (AdaBins Eq. 3).

    Args:
        bin_logits (Tensor): (B, N, H, W) per-pixel bin scores.
        centers (Tensor): (B, N) bin centres in metres.

    Returns:
        Tensor: (B, 1, H, W) depth in metres.
    """
    probs = torch.softmax(bin_logits, dim=1)
    return (probs * centers[:, :, None, None]).sum(dim=1, keepdim=True)


@MODELS.register_module()
class AdaBinsHead(DepthBaseHead):
    """UNet decoder with adaptive bins; returns depth, and bin centres for the losses.

    ``in_channels``/``in_index`` list the encoder levels fine -> coarse; the last one is
    the bottleneck. ``channels`` is the decoder width F after the bottleneck conv (2048
    in AdaBins); each of the ``L - 1`` up-blocks halves it.

    Losses: every entry of ``loss_decode`` is called as ``loss(depth, gt, valid_mask)``;
    ``loss_bins`` (AdaBins: :class:`~mmdepth_dgr.models.losses.BinsChamferLoss`, weight
    0.1) as ``loss(bin_centers (B, N), gt, valid_mask)``, as in :class:`DepthFormerHead`.

    Args:
        n_bins (int): Number of adaptive bins. Defaults to 256.
        n_query (int): Query tokens / range-attention maps. Defaults to 128.
        decoder_channels (int): Channels of the decoder output fed to the mini-ViT.
            Defaults to 128.
        embed_dims (int): mini-ViT token size. Defaults to 128.
        patch_size (int): mini-ViT patch size (on the stride-2 decoder map).
            Defaults to 16.
        num_heads (int): mini-ViT heads. Defaults to 4.
        num_layers (int): mini-ViT layers. Defaults to 4.
        ffn_dims (int): mini-ViT feed-forward width. Defaults to 1024.
        max_patches (int): mini-ViT positional table size. Defaults to 500.
        vit_dropout (float): mini-ViT dropout. Defaults to 0.1.
        bin_norm (str): Width normalisation, see
            :func:`~.adabins_layers.normalize_bin_widths`. Defaults to 'linear'.
        width_eps (float): eps of the 'linear' width normalisation. Defaults to 0.1.
        bottleneck_padding (int): Padding of the 1×1 bottleneck conv. The official code
            pads it by 1 (grows the stride-32 map by a one-pixel ring of bias-only
            values before it is resized to the next level); 1 keeps checkpoints
            numerically equal, 0 is the clean alternative. Defaults to 1.
        norm_cfg (dict): Norm of the up-blocks. Defaults to BN.
        act_cfg (dict): Activation of the up-blocks. Defaults to LeakyReLU(0.01).
        loss_bins (dict, optional): Loss on the bin centres, called as
            ``loss(centers (B, N), gt (B, 1, H, W), valid_mask=...)``. Defaults to None.
        **kwargs: :class:`DepthBaseHead` arguments (``in_channels``, ``channels``,
            ``in_index``, ``min_depth``, ``max_depth``, ``loss_decode``, ...).
    """

    def __init__(self,
                 n_bins: int = 256,
                 n_query: int = 128,
                 decoder_channels: int = 128,
                 embed_dims: int = 128,
                 patch_size: int = 16,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 ffn_dims: int = 1024,
                 max_patches: int = 500,
                 vit_dropout: float = 0.1,
                 bin_norm: str = 'linear',
                 width_eps: float = 0.1,
                 bottleneck_padding: int = 1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.01),
                 loss_bins: Optional[ConfigType] = None,
                 **kwargs) -> None:
        kwargs.setdefault('align_corners', True)
        super().__init__(**kwargs)
        n_levels = len(self.in_channels)
        if n_levels < 2:
            raise ValueError(f'{_WHERE}: AdaBinsHead needs at least 2 levels '
                             f'(skips + bottleneck), got in_channels={self.in_channels}')
        if self.channels % 2 ** (n_levels - 1):
            raise ValueError(f'{_WHERE}: AdaBinsHead channels={self.channels} must be '
                             f'divisible by 2**{n_levels - 1} (one halving per up-block)')
        self.n_bins = n_bins
        self.bottleneck_conv = nn.Conv2d(self.in_channels[-1], self.channels, 1,
                                         padding=bottleneck_padding)
        self.up_blocks = nn.ModuleList()
        width = self.channels
        for skip in reversed(self.in_channels[:-1]):
            self.up_blocks.append(
                AdaBinsUpBlock(width + skip, width // 2, norm_cfg=norm_cfg,
                               act_cfg=act_cfg, align_corners=self.align_corners))
            width //= 2
        self.decoder_out = nn.Conv2d(width, decoder_channels, 3, padding=1)
        self.mvit = AdaBinsMiniViT(
            decoder_channels, n_bins=n_bins, n_query=n_query, embed_dims=embed_dims,
            patch_size=patch_size, num_heads=num_heads, num_layers=num_layers,
            ffn_dims=ffn_dims, max_patches=max_patches, dropout=vit_dropout,
            bin_norm=bin_norm, width_eps=width_eps)
        self.conv_out = nn.Conv2d(n_query, n_bins, 1)
        self.loss_bins = MODELS.build(loss_bins) if loss_bins is not None else None

    def forward_with_bins(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Depth (B, 1, h, w) at the finest level's resolution and bin centres (B, N)."""
        feats = self._select_inputs(inputs)
        x = self.bottleneck_conv(feats[-1])
        for block, skip in zip(self.up_blocks, reversed(feats[:-1])):
            x = block(x, skip)
        widths, maps = self.mvit(self.decoder_out(x))
        _, centers = bin_edges_and_centers(widths, self.min_depth, self.max_depth)
        return adabins_depth(self.conv_out(maps), centers), centers

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth in metres, (B, 1, h, w) with (h, w) the finest selected level."""
        return self.forward_with_bins(inputs)[0]

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward and compute the depth losses and the bin chamfer loss."""
        return self.loss_by_feat(self.forward_with_bins(inputs), batch_data_samples)

    def loss_by_feat(self, pred: Tuple[Tensor, Tensor],
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of ``(depth (B, 1, h, w), bin_centers (B, N))``.

        Args:
            pred (tuple[Tensor, Tensor] | Tensor): Output of :meth:`forward_with_bins`;
                a bare depth tensor is accepted when no ``loss_bins`` is configured.
            batch_data_samples (list[SegDataSample]): Samples with ``gt_depth_map``.

        Returns:
            dict[str, Tensor]: One entry per distinct ``loss_name``.
        """
        depth, centers = pred if isinstance(pred, (tuple, list)) else (pred, None)
        losses = super().loss_by_feat(depth, batch_data_samples)
        if self.loss_bins is not None:
            if centers is None:
                raise ValueError(f'{_WHERE}: loss_bins is configured but no bin centres '
                                 'were given to loss_by_feat')
            gt, valid = self.gt_and_valid(batch_data_samples, depth)
            add_loss(losses, self.loss_bins.loss_name,
                     self.loss_bins(centers, gt, valid_mask=valid))
        return losses

    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Tensor:
        """Depth only, resized to the (padded) network input, (B, 1, H, W)."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)
