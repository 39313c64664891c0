"""DepthFormer's Transbins (Agarwal & Arora, ICIP 2022): adaptive depth bins regressed by a
transformer over patches of the decoder output, as the official code computes them
(ashutosh1807/Depthformer, ``models/miniViT.py``, ``models/layers.py``,
``models/unet_adaptive_bins.py``; the module is AdaBins' mini-ViT, Bhat et al. CVPR 2021)::

    z      = TransformerEncoder_4( Conv_{p×p, stride p}(F) + E_pos[:S] )      (B, S, E)
    w      = norm(MLP(z_0))                         normalised widths (B, K), Σ w = 1
    edges  = d_min + cumsum([0, (d_max − d_min)·w]);  c_k = (edges_k + edges_{k+1}) / 2
    p      = softmax_K( Conv1x1(F) )                                          (B, K, H, W)
    depth  = Σ_k p_k · c_k                                                    (B, 1, H, W)

The official mini-ViT also computes AdaBins' range-attention maps (a 3×3 conv of the
decoder output dotted with the next 128 tokens) but DepthFormer never uses them — its
per-pixel bin logits come from a 1×1 conv of the decoder output — so that conv is left out
here (``tools/model_converters/depthformer2mmdepth.py`` drops its weights). The width
normalisation and the bin arithmetic are AdaBins' (:mod:`.adabins_layers`).
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .adabins_layers import BIN_NORMS, bin_edges_and_centers, normalize_bin_widths

__all__ = ['DepthFormerTransbins', 'depth_from_bins']

_WHERE = 'mmdepth_dgr/models/decode_heads/depthformer_transbins.py'


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

    Args:
        in_channels (int): Channels C of the decoder features.
        n_bins (int): K. Defaults to 256.
        embed_dims (int): E, transformer width. Defaults to 128.
        patch_size (int): p of the patch embedding. Defaults to 16.
        num_layers (int): Transformer encoder layers. Defaults to 4.
        num_heads (int): Heads. Defaults to 4.
        feedforward_channels (int): FFN width. Defaults to 1024.
        max_tokens (int): Rows of the learned positional table. Defaults to 1500
            (official; uniform [0, 1) init as there).
        dropout (float): Transformer dropout. Defaults to 0.1 (torch's default, used
            by the official code).
        regressor_dims (int): Hidden width of the bin-width MLP. Defaults to 256.
        bin_norm (str): 'linear', 'softmax' or 'sigmoid' (official ``--norm``).
            Defaults to 'linear'.
        width_eps (float): ε of the 'linear' norm. Defaults to 0.1.
        min_depth (float): d_min, first bin edge (metres). Defaults to 1e-3.
        max_depth (float): d_max, last bin edge (metres). Defaults to 10.0.
    """

    def __init__(self, in_channels: int, n_bins: int = 256, embed_dims: int = 128,
                 patch_size: int = 16, num_layers: int = 4, num_heads: int = 4,
                 feedforward_channels: int = 1024, max_tokens: int = 1500,
                 dropout: float = 0.1, regressor_dims: int = 256,
                 bin_norm: str = 'linear', width_eps: float = 0.1,
                 min_depth: float = 1e-3, max_depth: float = 10.0) -> None:
        super().__init__()
        if bin_norm not in BIN_NORMS:
            raise ValueError(f'{_WHERE}: bin_norm {bin_norm!r} is unknown; use one of '
                             f'{BIN_NORMS}')
        self.n_bins, self.patch_size = n_bins, patch_size
        self.bin_norm, self.width_eps = bin_norm, width_eps
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.patch_embed = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.rand(max_tokens, embed_dims))
        layer = nn.TransformerEncoderLayer(embed_dims, num_heads, feedforward_channels,
                                           dropout=dropout, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.regressor = nn.Sequential(
            nn.Linear(embed_dims, regressor_dims), nn.LeakyReLU(),
            nn.Linear(regressor_dims, regressor_dims), nn.LeakyReLU(),
            nn.Linear(regressor_dims, n_bins))
        self.conv_out = nn.Conv2d(in_channels, n_bins, 1)

    def forward(self, feats: Tensor) -> Tuple[Tensor, Tensor]:
        """Depth (B, 1, H, W) and bin centres (B, K) from features (B, C, H, W)."""
        h, w = feats.shape[2:]
        if h < self.patch_size or w < self.patch_size:
            raise ValueError(f'{_WHERE}: features {h}x{w} are smaller than patch_size='
                             f'{self.patch_size}; lower transbins.patch_size')
        tokens = self.patch_embed(feats).flatten(2).transpose(1, 2)        # (B, S, E)
        n = tokens.shape[1]
        if n > self.pos_embed.shape[0]:
            raise ValueError(f'{_WHERE}: {n} patches exceed max_tokens='
                             f'{self.pos_embed.shape[0]}; raise transbins.max_tokens or '
                             'patch_size')
        z = self.transformer(tokens + self.pos_embed[:n].unsqueeze(0))
        widths = normalize_bin_widths(self.regressor(z[:, 0]), self.bin_norm,
                                      self.width_eps)
        _, centers = bin_edges_and_centers(widths, self.min_depth, self.max_depth)
        probs = torch.softmax(self.conv_out(feats), dim=1)
        return depth_from_bins(probs, centers), centers
