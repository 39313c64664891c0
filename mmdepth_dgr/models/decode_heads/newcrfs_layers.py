"""Building blocks of the NeWCRFs decoder (Yuan et al., CVPR 2022), reused by PixelFormer.

* :class:`PSPTop` — the pyramid-pooling top module on the deepest encoder map (Sec. 3.4:
  "PPM ... aggregates global information" and initialises the top-level prediction
  feature). PixelFormer's "pixel query initialiser" (PQI) is the same module.
* :class:`CRFBlock` / :class:`NeWCRFLayer` — one neural-window FC-CRF optimisation:
  window attention with query/key from the image feature ``X`` and value from the
  upper-level prediction feature ``V`` (Sec. 3.3, Eq. 3–5 of NeWCRFs), an MLP, two blocks
  with plain then shifted windows.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.models.utils import resize
from torch import Tensor

from .window_cross_attention import CRFWindowAttention, window_attention_2d

__all__ = ['PSPTop', 'CRFBlock', 'NeWCRFLayer', 'match_size']


def match_size(v: Tensor, x: Tensor, align_corners: bool = False) -> Tensor:
    """Bilinearly resize ``v`` (B, C, h, w) to the spatial size of ``x`` if they differ.

    The host repos assume inputs divisible by 32 so that the pixel-shuffled upper level
    has exactly the size of the next encoder map; this guards other sizes.

    Args:
        v (Tensor): (B, C, h, w) map to align.
        x (Tensor): (B, C', H, W) reference map.
        align_corners (bool): Of the bilinear resize. Defaults to False.

    Returns:
        Tensor: (B, C, H, W).
    """
    if v.shape[2:] == x.shape[2:]:
        return v
    return resize(v, size=x.shape[2:], mode='bilinear', align_corners=align_corners)


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


class CRFBlock(BaseModule):
    """One neural-window FC-CRF block (NeWCRFs Sec. 3.3).

    With ``X`` the image tokens and ``V`` the prediction feature (B, H, W, C)::

        X' = X + proj(softmax(Q Kᵀ/√d + B) V),  Q, K = LN(X) W_qk     (window attention)
        X'' = X' + MLP(LN(X'))

    The pairwise potential of every pixel pair in a window is ``Q Kᵀ`` (image similarity
    plus position bias) and the message passing is the weighted sum of ``V``. As in the
    host repo, ``V`` is neither normalised nor projected and the residual stream is the
    image feature.

    Args:
        embed_dims (int): Channels ``C`` of X and V.
        num_heads (int): Attention heads.
        window_size (int): Window side. Defaults to 7.
        shift_size (int): Cyclic shift (0: plain windows). Defaults to 0.
        mlp_ratio (float): MLP hidden width / C. Defaults to 4.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7,
                 shift_size: int = 0, mlp_ratio: float = 4., init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(f'CRFBlock: need 0 <= shift_size < window_size, got '
                             f'{shift_size} and {window_size}.')
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = CRFWindowAttention(embed_dims, num_heads, window_size)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, int(embed_dims * mlp_ratio), num_fcs=2,
                       act_cfg=dict(type='GELU'), add_identity=True)

    def forward(self, x: Tensor, v: Tensor) -> Tensor:
        """x, v: (B, H, W, C) -> (B, H, W, C)."""
        x = x + window_attention_2d(self.attn, self.norm1(x), v, self.window_size,
                                    self.shift_size)
        return self.ffn(self.norm2(x), identity=x)


class NeWCRFLayer(BaseModule):
    """A NeWCRFs decoder level: project X and V, ``depth`` CRF blocks, LayerNorm.

    Blocks alternate plain and shifted (``window_size // 2``) windows; every block reads
    the same ``V`` (as the host code does).

    Args:
        in_channels (int): Channels of the encoder map ``X``.
        value_channels (int): Channels of the upper-level feature ``V``.
        embed_dims (int): Width of the CRF (its output channels).
        num_heads (int): Attention heads.
        window_size (int): Window side. Defaults to 7.
        depth (int): Number of blocks. Defaults to 2.
        mlp_ratio (float): MLP ratio. Defaults to 4.
        align_corners (bool): Of the guard resize of V. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, in_channels: int, value_channels: int, embed_dims: int,
                 num_heads: int, window_size: int = 7, depth: int = 2,
                 mlp_ratio: float = 4., align_corners: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.align_corners = align_corners
        # 3x3 conv projections exactly where the host has them (channel mismatch only).
        self.proj_x = (nn.Conv2d(in_channels, embed_dims, 3, padding=1)
                       if in_channels != embed_dims else nn.Identity())
        self.proj_v = (nn.Conv2d(value_channels, embed_dims, 3, padding=1)
                       if value_channels != embed_dims else nn.Identity())
        self.blocks = nn.ModuleList(
            CRFBlock(embed_dims, num_heads, window_size,
                     shift_size=0 if i % 2 == 0 else window_size // 2,
                     mlp_ratio=mlp_ratio) for i in range(depth))
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor, v: Tensor) -> Tensor:
        """x: (B, C_in, H, W) image feature; v: (B, C_v, h, w) -> (B, C, H, W)."""
        x = self.proj_x(x)
        v = match_size(self.proj_v(v), x, self.align_corners)
        x = x.permute(0, 2, 3, 1)
        v = v.permute(0, 2, 3, 1)
        for blk in self.blocks:
            x = blk(x, v)
        return self.norm(x).permute(0, 3, 1, 2).contiguous()
