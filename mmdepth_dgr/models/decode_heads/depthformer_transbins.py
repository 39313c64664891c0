"""DepthFormer's Transbins: adaptive depth bins predicted by a transformer (AdaBins' mViT).

Agarwal & Arora (ICIP 2022) follow AdaBins (Bhat et al., CVPR 2021): patch-embed the decoder
output, run a transformer encoder, and regress normalised bin widths from the first token::

    z      = TransformerEncoder( Conv_{p×p, stride p}(F) + pos )         tokens (B, N, E)
    w      = MLP(z_0);  w = (ReLU(w) + ε) / Σ (ReLU(w) + ε)              normalised widths (B, K)
    edges  = min + cumsum([0, (max − min)·w])                          (B, K + 1)
    c_k    = (edges_k + edges_{k+1}) / 2                                bin centres (B, K)
    p      = softmax_k( Conv1x1(F) )                                    (B, K, H, W)
    depth  = Σ_k p_k · c_k                                              (B, 1, H, W)
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['DepthFormerTransbins', 'bin_centers_from_widths', 'depth_from_bins']


def bin_centers_from_widths(widths: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """Centres of the bins that split ``[min_depth, max_depth]`` by normalised widths.

    Args:
        widths (Tensor): (B, K) non-negative widths summing to 1 per row.
        min_depth (float): Start of the range in metres.
        max_depth (float): End of the range in metres.

    Returns:
        Tensor: (B, K) bin centres in metres, increasing.
    """
    edges = min_depth + torch.cumsum(
        F.pad((max_depth - min_depth) * widths, (1, 0), value=0.0), dim=1)
    return 0.5 * (edges[:, :-1] + edges[:, 1:])


def depth_from_bins(probs: Tensor, centers: Tensor) -> Tensor:
    """Expected depth ``Σ_k probs_k · centers_k``.

    Args:
        probs (Tensor): (B, K, H, W) per-pixel bin probabilities (sum to 1 over K).
        centers (Tensor): (B, K) bin centres in metres.

    Returns:
        Tensor: (B, 1, H, W) depth in metres.
    """
    return (probs * centers[:, :, None, None]).sum(dim=1, keepdim=True)


@MODELS.register_module()
class DepthFormerTransbins(nn.Module):
    """Adaptive bins from a transformer over patches of the decoder output.

    Choices: as the released Depthformer code (and unlike AdaBins), the per-pixel bin
    probabilities come from a 1×1 conv of the decoder features (``use_range_attention=False``);
    ``True`` uses AdaBins' range-attention maps (dot products of the features with the next
    ``n_query`` output tokens) as the input of that conv. Positional embeddings are learned
    for up to ``max_tokens`` patches (AdaBins: 500; raised so KITTI full frames fit).

    Args:
        in_channels (int): Channels C of the decoder features.
        n_bins (int): K. Defaults to 256.
        embed_dims (int): E, transformer width. Defaults to 128.
        patch_size (int): p of the patch embedding. Defaults to 16.
        num_layers (int): Transformer encoder layers. Defaults to 4.
        num_heads (int): Heads. Defaults to 4.
        feedforward_channels (int): FFN width. Defaults to 1024.
        max_tokens (int): Size of the learned positional table. Defaults to 1500.
        use_range_attention (bool): See above. Defaults to False.
        min_depth (float): Start of the bin range (metres). Defaults to 1e-3.
        max_depth (float): End of the bin range (metres). Defaults to 10.0.
        eps (float): ε of the width normalisation (AdaBins' 'linear' norm: 0.1).
            Defaults to 0.1.
    """

    def __init__(self, in_channels: int, n_bins: int = 256, embed_dims: int = 128,
                 patch_size: int = 16, num_layers: int = 4, num_heads: int = 4,
                 feedforward_channels: int = 1024, max_tokens: int = 1500,
                 use_range_attention: bool = False, min_depth: float = 1e-3,
                 max_depth: float = 10.0, eps: float = 0.1):
        super().__init__()
        if use_range_attention and in_channels != embed_dims:
            raise ValueError('DepthFormerTransbins: use_range_attention needs in_channels == '
                             f'embed_dims, got {in_channels} and {embed_dims}.')
        self.n_bins = n_bins
        self.patch_size = patch_size
        self.max_tokens = max_tokens
        self.use_range_attention = use_range_attention
        self.min_depth, self.max_depth, self.eps = float(min_depth), float(max_depth), eps
        self.n_query = in_channels if use_range_attention else 0
        self.patch_embed = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.rand(max_tokens, embed_dims))
        layer = nn.TransformerEncoderLayer(embed_dims, num_heads, feedforward_channels,
                                           batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.regressor = nn.Sequential(
            nn.Linear(embed_dims, 256), nn.LeakyReLU(), nn.Linear(256, 256), nn.LeakyReLU(),
            nn.Linear(256, n_bins))
        self.conv_out = nn.Conv2d(self.n_query or in_channels, n_bins, 1)

    def forward(self, feats: Tensor) -> Tuple[Tensor, Tensor]:
        """Depth (B, 1, H, W) and bin centres (B, K) from features (B, C, H, W)."""
        h, w = feats.shape[2:]
        if h < self.patch_size or w < self.patch_size:
            raise ValueError(f'DepthFormerTransbins: features {h}x{w} smaller than '
                             f'patch_size={self.patch_size}; lower transbins.patch_size.')
        tokens = self.patch_embed(feats).flatten(2).transpose(1, 2)
        n = tokens.shape[1]
        if n > self.max_tokens:
            raise ValueError(f'DepthFormerTransbins: {n} patches exceed max_tokens='
                             f'{self.max_tokens}; raise transbins.max_tokens or patch_size.')
        z = self.transformer(tokens + self.pos_embed[:n].unsqueeze(0))
        widths = F.relu(self.regressor(z[:, 0])) + self.eps
        widths = widths / widths.sum(dim=1, keepdim=True)
        centers = bin_centers_from_widths(widths, self.min_depth, self.max_depth)
        x = feats
        if self.use_range_attention:
            if n < 1 + self.n_query:
                raise ValueError(f'DepthFormerTransbins: {n} patches but range attention '
                                 f'needs {1 + self.n_query}.')
            queries = z[:, 1:1 + self.n_query]                  # (B, Q, E)
            x = torch.einsum('bchw,bqc->bqhw', feats, queries)
        probs = torch.softmax(self.conv_out(x), dim=1)
        return depth_from_bins(probs, centers), centers
