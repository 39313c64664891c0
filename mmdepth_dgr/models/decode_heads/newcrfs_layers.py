"""Building blocks of the NeWCRFs decoder (Yuan et al., CVPR 2022).

The pieces PixelFormer shares with it (the pyramid-pooling top, the two-source window
attention, the size guard) are in :mod:`mmdepth_dgr.models.utils`.

* :class:`CRFBlock` / :class:`NeWCRFLayer` — one neural-window FC-CRF optimisation:
  window attention with query/key from the image feature ``X`` and value from the
  upper-level prediction feature ``V`` (Sec. 3.3, Eq. 3–5 of NeWCRFs), an MLP, two blocks
  with plain then shifted windows.
"""
import torch.nn as nn
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from torch import Tensor

from ..utils import CRFWindowAttention, match_size, window_attention_2d

__all__ = ['CRFBlock', 'NeWCRFLayer']


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
