"""Building blocks of the PixelFormer decoder (Agarwal & Arora, WACV 2023).

* :class:`SkipAttentionBlock` / :class:`SkipAttentionModule` (SAM, Sec. 3.2): window
  cross-attention from the decoder's pixel queries to the encoder skip feature.
* :class:`BinCentrePredictor` (BCP, Sec. 3.3) with its functional twin
  :func:`bin_centres_from_logits`, and :func:`depth_from_bins` (Sec. 3.4).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from torch import Tensor

from ..utils import SkipWindowAttention, match_size, window_attention_2d

__all__ = [
    'SkipAttentionBlock', 'SkipAttentionModule', 'BinCentrePredictor',
    'bin_centres_from_logits', 'depth_from_bins'
]


def bin_centres_from_logits(logits: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """Adaptive bin centres from unnormalised bin-width logits (AdaBins-style).

    ``w = softmax(logits)·(max − min)``, edges ``e_0 = min, e_i = min + Σ_{j≤i} w_j``,
    centres ``c_i = (e_{i−1} + e_i)/2``.

    Args:
        logits (Tensor): (B, N) bin-width logits.
        min_depth (float): Lower end of the depth range in metres.
        max_depth (float): Upper end in metres.

    Returns:
        Tensor: (B, N) bin centres in metres, increasing, inside (min, max).
    """
    widths = torch.softmax(logits, dim=1) * (max_depth - min_depth)
    edges = min_depth + torch.cumsum(F.pad(widths, (1, 0)), dim=1)
    return 0.5 * (edges[:, :-1] + edges[:, 1:])


def depth_from_bins(bin_logits: Tensor, centres: Tensor) -> Tensor:
    """Depth as the probability-weighted sum of bin centres.

    ``d(p) = Σ_i softmax_i(z(p)) c_i``.

    Args:
        bin_logits (Tensor): (B, N, H, W) per-pixel bin logits ``z``.
        centres (Tensor): (B, N) bin centres in metres.

    Returns:
        Tensor: (B, 1, H, W) depth in metres.
    """
    if bin_logits.shape[:2] != centres.shape:
        raise ValueError(f'depth_from_bins: bin_logits {tuple(bin_logits.shape)} and '
                         f'centres {tuple(centres.shape)} disagree on (B, N).')
    prob = torch.softmax(bin_logits, dim=1)
    return (prob * centres[:, :, None, None]).sum(dim=1, keepdim=True)


class BinCentrePredictor(BaseModule):
    """BCP: global average pool → Linear → GELU → Linear → bin centres.

    Reads the top decoder feature (PixelFormer feeds it the PQI/PSP output).

    Args:
        in_channels (int): Channels of the input map.
        hidden_channels (int): MLP hidden width (2048 in the host repo).
        num_bins (int): Number of bins ``N`` (256 in the host repo).
        min_depth (float): Lower end of the bins in metres.
        max_depth (float): Upper end in metres.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_bins: int,
                 min_depth: float, max_depth: float, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_channels, num_bins)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, h, w) -> (B, N) bin centres in metres."""
        logits = self.fc2(self.act(self.fc1(x.mean(dim=(2, 3)))))
        return bin_centres_from_logits(logits, self.min_depth, self.max_depth)


class SkipAttentionBlock(BaseModule):
    """Window cross-attention from decoder queries ``Q`` to the skip feature ``E``.

    With (B, H, W, C) maps::

        Q' = Q + proj(softmax(q kᵀ/√d + B) v),  q = LN_q(Q) W_q,  k, v = LN_e(E) W_kv
        Q'' = Q' + MLP(LN(Q'))

    Args:
        embed_dims (int): Channels ``C``.
        num_heads (int): Attention heads.
        window_size (int): Window side. Defaults to 7.
        mlp_ratio (float): MLP ratio. Defaults to 4.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7,
                 mlp_ratio: float = 4., init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.window_size = window_size
        self.norm_query = nn.LayerNorm(embed_dims)
        self.norm_skip = nn.LayerNorm(embed_dims)
        self.attn = SkipWindowAttention(embed_dims, num_heads, window_size)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, int(embed_dims * mlp_ratio), num_fcs=2,
                       act_cfg=dict(type='GELU'), add_identity=True)

    def forward(self, q: Tensor, e: Tensor) -> Tensor:
        """q, e: (B, H, W, C) -> (B, H, W, C)."""
        q = q + window_attention_2d(self.attn, self.norm_query(q), self.norm_skip(e),
                                    self.window_size, 0)
        return self.ffn(self.norm2(q), identity=q)


class SkipAttentionModule(BaseModule):
    """SAM: project skip and query to ``embed_dims``, attend, add both projections.

    ``out = LN(Block(Q̂, Ê)) + Ê + Q̂`` with ``Ê = conv3×3(E)``, ``Q̂ = conv3×3(Q)``
    (each conv only where the channels differ, as in the host).

    Args:
        skip_channels (int): Channels of the encoder skip map ``E``.
        query_channels (int): Channels of the decoder query map ``Q``.
        embed_dims (int): Width (output channels).
        num_heads (int): Attention heads.
        window_size (int): Window side. Defaults to 7.
        mlp_ratio (float): MLP ratio. Defaults to 4.
        align_corners (bool): Of the guard resize of Q. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, skip_channels: int, query_channels: int, embed_dims: int,
                 num_heads: int, window_size: int = 7, mlp_ratio: float = 4.,
                 align_corners: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.align_corners = align_corners
        self.proj_skip = (nn.Conv2d(skip_channels, embed_dims, 3, padding=1)
                          if skip_channels != embed_dims else nn.Identity())
        self.proj_query = (nn.Conv2d(query_channels, embed_dims, 3, padding=1)
                           if query_channels != embed_dims else nn.Identity())
        self.block = SkipAttentionBlock(embed_dims, num_heads, window_size, mlp_ratio)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, e: Tensor, q: Tensor) -> Tensor:
        """e: (B, C_e, H, W) skip; q: (B, C_q, h, w) queries -> (B, C, H, W)."""
        e = self.proj_skip(e)
        q = match_size(self.proj_query(q), e, self.align_corners)
        out = self.block(q.permute(0, 2, 3, 1), e.permute(0, 2, 3, 1))
        return self.norm(out).permute(0, 3, 1, 2) + e + q
