"""NeWCRFs decoder as a depth head (Yuan et al., "Neural Window Fully-connected CRFs for
Monocular Depth Estimation", CVPR 2022)."""
from typing import Sequence

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import PSPTop, pixel_shuffle_value_channels
from .depth_base_head import DepthBaseHead, bounded_depth
from .newcrfs_layers import NeWCRFLayer

__all__ = ['NeWCRFsHead']


@MODELS.register_module()
class NeWCRFsHead(DepthBaseHead):
    """Neural-window FC-CRF decoder over a 4-level encoder.

    ``V_3 = PSP(F_3)``; for ``i = 3 … 0``: ``E_i = CRF_i(X=F_i, V=V_i)`` and
    ``V_{i−1} = PixelShuffle_2(E_i)``; then ``depth = min + σ(conv3×3(E_0))·(max − min)``
    at 1/4 resolution, bilinearly upsampled ×4 (the host's ``DispHead``; with
    ``min_depth=0`` it is exactly NeWCRFs' ``sigmoid · max_depth``). Trained with SILog
    (variance focus 0.85, ×10).

    Args:
        crf_dims (Sequence[int]): CRF widths, finest level first.
            Defaults to (128, 256, 512, 1024) (the host's Swin-L setting).
        crf_num_heads (Sequence[int]): Heads per level. Defaults to (4, 8, 16, 32).
        crf_window_size (int): CRF window side. Defaults to 7.
        crf_depth (int): Blocks per level (plain + shifted). Defaults to 2.
        mlp_ratio (float): CRF MLP ratio. Defaults to 4.
        pool_scales (Sequence[int]): PSP scales. Defaults to (1, 2, 3, 6).
        norm_cfg (dict): Norm of the PSP bottleneck. Defaults to BN.
        ppm_norm_cfg (dict): Norm of the PSP pooling branches. Defaults to GN(256).
        act_cfg (dict): Activation of the PSP convs. Defaults to ReLU.
        upsample_scale (int): Final bilinear upsampling of the 1/4-resolution output.
            Defaults to 4.
        depth_activation (str): See :func:`bounded_depth`. Defaults to 'sigmoid'.
        **kwargs: :class:`DepthBaseHead` arguments; ``channels`` is the PSP width
            (512 in the host).
    """

    def __init__(self,
                 crf_dims: Sequence[int] = (128, 256, 512, 1024),
                 crf_num_heads: Sequence[int] = (4, 8, 16, 32),
                 crf_window_size: int = 7,
                 crf_depth: int = 2,
                 mlp_ratio: float = 4.,
                 pool_scales: Sequence[int] = (1, 2, 3, 6),
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 ppm_norm_cfg: dict = dict(type='GN', num_groups=256, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 upsample_scale: int = 4,
                 depth_activation: str = 'sigmoid',
                 **kwargs):
        super().__init__(**kwargs)
        n = len(self.in_channels)
        if not len(crf_dims) == len(crf_num_heads) == n:
            raise ValueError(f'NeWCRFsHead: crf_dims {list(crf_dims)}, crf_num_heads '
                             f'{list(crf_num_heads)} and in_channels {self.in_channels} '
                             'need one entry per level.')
        self.upsample_scale = upsample_scale
        self.depth_activation = depth_activation
        self.top = PSPTop(self.in_channels[-1], self.channels, pool_scales, norm_cfg,
                          ppm_norm_cfg, act_cfg, self.align_corners)
        v_chans = pixel_shuffle_value_channels(self.channels, crf_dims)
        self.crf_layers = nn.ModuleList(
            NeWCRFLayer(self.in_channels[i], v_chans[i], crf_dims[i], crf_num_heads[i],
                        crf_window_size, crf_depth, mlp_ratio, self.align_corners)
            for i in range(n))
        self.shuffle = nn.PixelShuffle(2)
        self.depth_conv = nn.Conv2d(crf_dims[0], 1, 3, padding=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, s·h0, s·w0) in metres, (h0, w0) the finest level, s the upsample."""
        feats = self._select_inputs(inputs)
        v = self.top(feats[-1])
        for i in range(len(feats) - 1, -1, -1):
            e = self.crf_layers[i](feats[i], v)
            if i > 0:
                v = self.shuffle(e)
        depth = bounded_depth(self.depth_conv(e), self.min_depth, self.max_depth,
                              self.depth_activation)
        h, w = depth.shape[2:]
        return self.resize_to(depth, (h * self.upsample_scale, w * self.upsample_scale))
