"""PixelFormer decoder as a depth head (Agarwal & Arora, "Attention Attention
Everywhere: Monocular Depth Prediction with Skip Attention", WACV 2023)."""
from typing import Sequence

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import PSPTop, pixel_shuffle_value_channels
from .depth_base_head import DepthBaseHead
from .pixelformer_layers import BinCentrePredictor, SkipAttentionModule, depth_from_bins

__all__ = ['PixelFormerHead']


@MODELS.register_module()
class PixelFormerHead(DepthBaseHead):
    """Skip-attention decoder with adaptive bins.

    ``Q_3 = PQI(F_3)`` (pyramid pooling); for ``i = 3 … 0``: ``Q'_i = SAM_i(E=F_i,
    Q=Q_i)``, ``Q_{i−1} = PixelShuffle_2(Q'_i)``; bin centres ``c = BCP(Q_3)`` over
    ``[min_depth, max_depth]``; ``depth = Σ_k softmax_k(conv3×3(Q'_0)) c_k`` at 1/4
    resolution, bilinearly upsampled ×4. Trained with SILog (0.85, ×10) on the depth
    only, as the host does (no bin/chamfer loss).

    Interpretation note: the host's ``BCP`` defaults to ``min_depth=0.1`` and its train
    script never overrides it; the configs set ``min_depth=0.1`` for that reason, and
    the head's ``min_depth``/``max_depth`` are the bin range.

    Args:
        sam_dims (Sequence[int]): SAM widths, finest first.
            Defaults to (128, 256, 512, 1024).
        sam_num_heads (Sequence[int]): Heads per level. Defaults to (4, 8, 16, 32).
        sam_window_size (int): Window side. Defaults to 7.
        mlp_ratio (float): SAM MLP ratio. Defaults to 4.
        num_bins (int): Number of depth bins. Defaults to 256.
        bcp_hidden_channels (int): BCP MLP width. Defaults to 2048.
        pool_scales (Sequence[int]): PQI scales. Defaults to (1, 2, 3, 6).
        norm_cfg (dict): Norm of the PQI bottleneck. Defaults to BN.
        ppm_norm_cfg (dict): Norm of the PQI pooling branches. Defaults to GN(256).
        act_cfg (dict): Activation of the PQI convs. Defaults to ReLU.
        upsample_scale (int): Final bilinear upsampling. Defaults to 4.
        **kwargs: :class:`DepthBaseHead` arguments; ``channels`` is the PQI width (512).
    """

    def __init__(self,
                 sam_dims: Sequence[int] = (128, 256, 512, 1024),
                 sam_num_heads: Sequence[int] = (4, 8, 16, 32),
                 sam_window_size: int = 7,
                 mlp_ratio: float = 4.,
                 num_bins: int = 256,
                 bcp_hidden_channels: int = 2048,
                 pool_scales: Sequence[int] = (1, 2, 3, 6),
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 ppm_norm_cfg: dict = dict(type='GN', num_groups=256, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 upsample_scale: int = 4,
                 **kwargs):
        super().__init__(**kwargs)
        n = len(self.in_channels)
        if not len(sam_dims) == len(sam_num_heads) == n:
            raise ValueError(f'PixelFormerHead: sam_dims {list(sam_dims)}, sam_num_heads '
                             f'{list(sam_num_heads)} and in_channels {self.in_channels} '
                             'need one entry per level.')
        self.upsample_scale = upsample_scale
        self.top = PSPTop(self.in_channels[-1], self.channels, pool_scales, norm_cfg,
                          ppm_norm_cfg, act_cfg, self.align_corners)
        q_chans = pixel_shuffle_value_channels(self.channels, sam_dims)
        self.sams = nn.ModuleList(
            SkipAttentionModule(self.in_channels[i], q_chans[i], sam_dims[i],
                                sam_num_heads[i], sam_window_size, mlp_ratio,
                                self.align_corners) for i in range(n))
        self.shuffle = nn.PixelShuffle(2)
        self.bcp = BinCentrePredictor(self.channels, bcp_hidden_channels, num_bins,
                                      self.min_depth, self.max_depth)
        self.bin_conv = nn.Conv2d(sam_dims[0], num_bins, 3, padding=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, s·h0, s·w0) in metres, (h0, w0) the finest level, s the upsample."""
        feats = self._select_inputs(inputs)
        q_top = self.top(feats[-1])
        q = q_top
        for i in range(len(feats) - 1, -1, -1):
            out = self.sams[i](feats[i], q)
            if i > 0:
                q = self.shuffle(out)
        depth = depth_from_bins(self.bin_conv(out), self.bcp(q_top))
        h, w = depth.shape[2:]
        return self.resize_to(depth, (h * self.upsample_scale, w * self.upsample_scale))
