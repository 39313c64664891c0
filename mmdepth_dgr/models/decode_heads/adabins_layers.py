"""Building blocks of AdaBins (Bhat, Alhashim, Wonka, CVPR 2021): the UNet up-block, the
mini-ViT ("mViT") that predicts adaptive bins, and the bin arithmetic.

Written here because no dependency offers them (mmseg has no AdaBins); the transformer
encoder itself is torch's ``nn.TransformerEncoder`` and the convs are mmcv's
``ConvModule``. Parameter shapes follow the official code so that
``tools/model_converters/adabins2mmdepth.py`` maps its checkpoint one-to-one.

Math (AdaBins Sec. 3.2-3.3; ``S`` patch tokens, ``N`` bins, ``Q`` query tokens)::

    tokens  = Transformer(PatchEmbed_p(x) + E_pos)                    (S, E) per image
    b'      = MLP(tokens[0])                                          (N,)
    b_i     = (ReLU(b'_i) + eps) / Σ_j (ReLU(b'_j) + eps)             bin widths, Σ b = 1
    c(b_i)  = d_min + (d_max − d_min) · (b_i / 2 + Σ_{j<i} b_j)        bin centres
    R_k     = <Conv3×3(x), tokens[k]>,  k = 1..Q                      range-attention maps
    p       = softmax_N(Conv1×1_{Q→N}(R))                             per-pixel bin probs
    d       = Σ_i c(b_i) · p_i                                        depth
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

__all__ = ['AdaBinsUpBlock', 'AdaBinsMiniViT', 'normalize_bin_widths',
           'bin_edges_and_centers', 'range_attention_maps', 'BIN_NORMS']

_WHERE = 'mmdepth_dgr/models/decode_heads/adabins_layers.py'
BIN_NORMS = ('linear', 'softmax', 'sigmoid')


def normalize_bin_widths(logits: Tensor, norm: str = 'linear', eps: float = 0.1) -> Tensor:
    """Turn the regressor output into bin widths that sum to one (AdaBins Sec. 3.3).

    Args:
        logits (Tensor): (B, N) raw regressor output.
        norm (str): ``'linear'`` (the paper: ``(ReLU(b') + eps) / Σ``), ``'softmax'`` or
            ``'sigmoid'`` (``σ(b') / Σ``), the official code's alternatives.
            Defaults to 'linear'.
        eps (float): Added after the ReLU for ``'linear'`` so that no bin is empty.
            Defaults to 0.1 (official value).

    Returns:
        Tensor: (B, N) positive widths summing to 1 along dim 1.
    """
    if norm == 'linear':
        w = F.relu(logits) + eps
    elif norm == 'softmax':
        return torch.softmax(logits, dim=1)
    elif norm == 'sigmoid':
        w = torch.sigmoid(logits)
    else:
        raise ValueError(f'{_WHERE}: bin norm {norm!r} is unknown; use one of {BIN_NORMS}')
    return w / w.sum(dim=1, keepdim=True)


def bin_edges_and_centers(widths: Tensor, min_depth: float,
                          max_depth: float) -> Tuple[Tensor, Tensor]:
    """Bin edges and centres over ``[min_depth, max_depth]`` from normalised widths.

    Args:
        widths (Tensor): (B, N) widths summing to 1 (:func:`normalize_bin_widths`).
        min_depth (float): First edge, metres.
        max_depth (float): Last edge, metres.

    Returns:
        tuple[Tensor, Tensor]: edges (B, N + 1) and centres (B, N), metres.
    """
    widths_m = (max_depth - min_depth) * widths
    edges = min_depth + torch.cumsum(F.pad(widths_m, (1, 0), value=0.0), dim=1)
    centers = 0.5 * (edges[:, :-1] + edges[:, 1:])
    return edges, centers


def range_attention_maps(feats: Tensor, queries: Tensor) -> Tensor:
    """Per-pixel dot products of a feature map with query embeddings (1×1 "conv").

    Args:
        feats (Tensor): (B, E, H, W) features.
        queries (Tensor): (B, Q, E) query embeddings.

    Returns:
        Tensor: (B, Q, H, W) range-attention maps.
    """
    if feats.shape[1] != queries.shape[2]:
        raise ValueError(f'{_WHERE}: feature channels {feats.shape[1]} != query '
                         f'embedding size {queries.shape[2]}')
    return torch.einsum('behw,bqe->bqhw', feats, queries)


class AdaBinsUpBlock(BaseModule):
    """Decoder up-block: upsample to the skip map, concatenate, two 3×3 conv-BN-LeakyReLU.

    Args:
        in_channels (int): Channels of the upsampled input plus the skip map.
        out_channels (int): Output channels.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to LeakyReLU (slope 0.01).
        align_corners (bool): Of the bilinear upsampling. Defaults to True (official).
        init_cfg (dict, optional): Init config. Defaults to None.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.01),
                 align_corners: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.align_corners = align_corners
        # bias=True: the official convs keep their bias before BN (checkpoint compatible).
        self.convs = nn.Sequential(
            ConvModule(in_channels, out_channels, 3, padding=1, bias=True,
                       norm_cfg=norm_cfg, act_cfg=act_cfg),
            ConvModule(out_channels, out_channels, 3, padding=1, bias=True,
                       norm_cfg=norm_cfg, act_cfg=act_cfg))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """(B, C, h, w), skip (B, C_s, H, W) -> (B, out_channels, H, W)."""
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear',
                          align_corners=self.align_corners)
        return self.convs(torch.cat([x, skip], dim=1))


class AdaBinsMiniViT(BaseModule):
    """AdaBins' mini-ViT: adaptive bin widths and range-attention maps.

    Args:
        in_channels (int): Channels of the decoder output it reads.
        n_bins (int): Number of bins N. Defaults to 256.
        n_query (int): Query tokens Q (= range-attention maps). Defaults to 128.
        embed_dims (int): Token size E. Defaults to 128.
        patch_size (int): Patch embedding kernel/stride p. Defaults to 16.
        num_heads (int): Attention heads. Defaults to 4.
        num_layers (int): Transformer layers. Defaults to 4.
        ffn_dims (int): Feed-forward width. Defaults to 1024.
        max_patches (int): Rows of the learned positional table (the first S are used).
            Defaults to 500 (official).
        dropout (float): Transformer dropout. Defaults to 0.1 (torch's default, used by
            the official code).
        regressor_dims (int): Hidden width of the bin-width MLP. Defaults to 256.
        bin_norm (str): See :func:`normalize_bin_widths`. Defaults to 'linear'.
        width_eps (float): See :func:`normalize_bin_widths`. Defaults to 0.1.
        init_cfg (dict, optional): Init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 n_bins: int = 256,
                 n_query: int = 128,
                 embed_dims: int = 128,
                 patch_size: int = 16,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 ffn_dims: int = 1024,
                 max_patches: int = 500,
                 dropout: float = 0.1,
                 regressor_dims: int = 256,
                 bin_norm: str = 'linear',
                 width_eps: float = 0.1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if bin_norm not in BIN_NORMS:
            raise ValueError(f'{_WHERE}: bin_norm {bin_norm!r} is unknown; use one of '
                             f'{BIN_NORMS}')
        if embed_dims % num_heads:
            raise ValueError(f'{_WHERE}: embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}')
        self.n_bins = n_bins
        self.n_query = n_query
        self.patch_size = patch_size
        self.bin_norm = bin_norm
        self.width_eps = width_eps
        self.patch_embed = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        # Learned table, uniform [0, 1) init as in the official code.
        self.pos_embed = nn.Parameter(torch.rand(max_patches, embed_dims))
        layer = nn.TransformerEncoderLayer(embed_dims, num_heads, dim_feedforward=ffn_dims,
                                           dropout=dropout, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers,
                                                 enable_nested_tensor=False)
        self.conv3x3 = nn.Conv2d(in_channels, embed_dims, 3, padding=1)
        self.regressor = nn.Sequential(
            nn.Linear(embed_dims, regressor_dims), nn.LeakyReLU(),
            nn.Linear(regressor_dims, regressor_dims), nn.LeakyReLU(),
            nn.Linear(regressor_dims, n_bins))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Bins and range-attention maps of a decoder map.

        Args:
            x (Tensor): (B, C, H, W) decoder output.

        Returns:
            tuple[Tensor, Tensor]: normalised widths (B, N) and range-attention maps
            (B, Q, H, W).
        """
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)         # (B, S, E)
        s = tokens.shape[1]
        if s > self.pos_embed.shape[0]:
            raise ValueError(
                f'{_WHERE}: {s} patches of {self.patch_size}px but max_patches is '
                f'{self.pos_embed.shape[0]}; raise decode_head.max_patches or the '
                'patch size, or use smaller inputs')
        if s < self.n_query + 1:
            raise ValueError(
                f'{_WHERE}: {s} patches of {self.patch_size}px but n_query + 1 = '
                f'{self.n_query + 1} tokens are needed (token 0 regresses the bins, tokens '
                '1..n_query are the queries); use larger inputs or a smaller patch_size')
        tokens = self.transformer(tokens + self.pos_embed[:s].unsqueeze(0))
        widths = normalize_bin_widths(self.regressor(tokens[:, 0]), self.bin_norm,
                                      self.width_eps)
        maps = range_attention_maps(self.conv3x3(x), tokens[:, 1:self.n_query + 1])
        return widths, maps
