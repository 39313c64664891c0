"""Window attention between two aligned feature maps (shared by NeWCRFs and PixelFormer).

Both decoders attend inside non-overlapping ``w × w`` windows, Swin style, with a learnt
relative-position bias, but — unlike Swin's self-attention — the queries, keys and values
come from *two different* maps of the same size:

* NeWCRFs (Yuan et al., CVPR 2022, Sec. 3.3, "neural window FC-CRF"): query and key are
  projections of the image feature ``X`` (the unary/pairwise potentials are computed from
  the image), the value is the upper-level prediction feature ``V`` itself (no value
  projection); blocks alternate plain and shifted windows.
  ``out = proj(softmax(Q Kᵀ/√d + B) V)`` with ``Q, K = X W_qk``.
* PixelFormer (Agarwal & Arora, WACV 2023, Sec. 3.2, "skip attention"): the query is a
  projection of the decoder feature, key and value are projections of the encoder skip
  feature; plain windows only.
  ``out = proj(softmax(Q Kᵀ/√d + B) V)`` with ``Q = D W_q``, ``K, V = E W_kv``.

mmseg's ``WindowMSA``/``ShiftWindowMSA`` only do self-attention on one token sequence
(their ``forward`` takes a single input), so the two-source version is written here; the
window bookkeeping uses timm's ``window_partition``/``window_reverse``/
``get_relative_position_index`` and the attention itself PyTorch's
``scaled_dot_product_attention``.
"""
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from timm.models.swin_transformer import (get_relative_position_index, window_partition,
                                          window_reverse)
from torch import Tensor

__all__ = [
    'shifted_window_mask', 'window_attention_2d', 'RelPosWindowAttention',
    'CRFWindowAttention', 'SkipWindowAttention'
]


def shifted_window_mask(hp: int, wp: int, window_size: int, shift_size: int,
                        device: Optional[torch.device] = None) -> Tensor:
    """Additive attention mask of cyclically shifted windows (Swin, Liu et al. 2021).

    After rolling the padded map by ``-shift_size`` the windows on the bottom/right
    border hold pixels from up to 4 regions that were not adjacent in the image; pairs
    from different regions get ``-100`` (≈ −∞ after softmax, the value Swin, NeWCRFs and
    mmseg use), pairs from the same region ``0``. Hand-written: timm and mmseg compute
    this inside their block ``forward``s and offer no function for it.

    Args:
        hp (int): Padded height (a multiple of ``window_size``).
        wp (int): Padded width (a multiple of ``window_size``).
        window_size (int): Window side ``w``.
        shift_size (int): Shift ``s``, ``0 < s < w``.
        device (torch.device, optional): Device of the mask. Defaults to None.

    Returns:
        Tensor: (nW, w*w, w*w) float mask, nW = (hp/w)·(wp/w).
    """
    if hp % window_size or wp % window_size:
        raise ValueError(f'shifted_window_mask: padded size ({hp}, {wp}) is not a '
                         f'multiple of window_size {window_size}.')
    if not 0 < shift_size < window_size:
        raise ValueError(f'shifted_window_mask: need 0 < shift_size < window_size, got '
                         f'{shift_size} and {window_size}.')
    img = torch.zeros((1, hp, wp, 1), device=device)
    bounds = (slice(0, -window_size), slice(-window_size, -shift_size),
              slice(-shift_size, None))
    region = 0
    for hs in bounds:
        for ws in bounds:
            img[:, hs, ws, :] = region
            region += 1
    win = window_partition(img, (window_size, window_size)).view(-1, window_size**2)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def window_attention_2d(attn: Callable[[Tensor, Tensor, Optional[Tensor]], Tensor],
                        x: Tensor, y: Tensor, window_size: int,
                        shift_size: int = 0) -> Tensor:
    """Run a two-input window attention over whole ``(B, H, W, C)`` maps.

    Both maps are zero-padded at the bottom/right to multiples of ``w`` (as the host
    repos do; padded tokens take part in the attention of the border windows), rolled
    by ``-shift_size`` when shifting, split into windows, attended, merged, rolled back
    and cropped.

    Args:
        attn (callable): ``attn(x_win, y_win, mask) -> out_win`` on
            (B*nW, w*w, C) windows, ``mask`` (nW, w*w, w*w) or None.
        x (Tensor): (B, H, W, Cx) query-side map.
        y (Tensor): (B, H, W, Cy) the other map (values for NeWCRFs, keys/values for
            PixelFormer).
        window_size (int): Window side ``w``.
        shift_size (int): Cyclic shift; 0 for plain windows. Defaults to 0.

    Returns:
        Tensor: (B, H, W, C_out).
    """
    if x.shape[:3] != y.shape[:3]:
        raise ValueError('window_attention_2d: the two maps must share (B, H, W), got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}.')
    B, H, W, _ = x.shape
    pad_b = (window_size - H % window_size) % window_size
    pad_r = (window_size - W % window_size) % window_size
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    y = F.pad(y, (0, 0, 0, pad_r, 0, pad_b))
    hp, wp = H + pad_b, W + pad_r
    mask = None
    if shift_size > 0:
        x = torch.roll(x, shifts=(-shift_size, -shift_size), dims=(1, 2))
        y = torch.roll(y, shifts=(-shift_size, -shift_size), dims=(1, 2))
        mask = shifted_window_mask(hp, wp, window_size, shift_size, x.device).to(x.dtype)
    win = (window_size, window_size)
    n = window_size * window_size
    xw = window_partition(x, win).reshape(-1, n, x.shape[-1])
    yw = window_partition(y, win).reshape(-1, n, y.shape[-1])
    out = attn(xw, yw, mask)
    out = window_reverse(out.reshape(-1, window_size, window_size, out.shape[-1]), win,
                         hp, wp)
    if shift_size > 0:
        out = torch.roll(out, shifts=(shift_size, shift_size), dims=(1, 2))
    return out[:, :H, :W, :].contiguous()


class RelPosWindowAttention(nn.Module):
    """Multi-head attention inside a window with a relative-position bias table.

    Subclasses make ``q, k, v`` (B_, nH, N, d); this class adds the bias ``B`` (a
    (2w−1)² × nH learnt table indexed by the relative offset, Swin Eq. 4) and the
    optional shift mask, and applies ``proj``.

    Args:
        embed_dims (int): Channels ``C`` (split over heads).
        num_heads (int): Heads ``nH``; must divide ``embed_dims``.
        window_size (int): Window side ``w``.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'{type(self).__name__}: embed_dims {embed_dims} is not '
                             f'divisible by num_heads {num_heads}.')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        # Recomputable from window_size: not part of the state dict.
        self.register_buffer('relative_position_index',
                             get_relative_position_index(window_size, window_size),
                             persistent=False)
        self.proj = nn.Linear(embed_dims, embed_dims)
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def _heads(self, t: Tensor) -> Tensor:
        """(B_, N, C) -> (B_, nH, N, C/nH)."""
        return t.reshape(t.shape[0], t.shape[1], self.num_heads, -1).transpose(1, 2)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor]) -> Tensor:
        """``proj(softmax(q kᵀ/√d + B + M) v)``; q, k, v (B_, nH, N, d) -> (B_, N, C)."""
        b_, nh, n, _ = q.shape
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, nh).permute(2, 0, 1)  # (nH, N, N)
        if mask is not None:
            nw = mask.shape[0]
            # (B, nW, nH, N, d) so that the (nW, 1, N, N) mask broadcasts over B.
            q, k, v = (t.reshape(b_ // nw, nw, nh, n, -1) for t in (q, k, v))
            bias = bias.unsqueeze(0) + mask.unsqueeze(1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        out = out.reshape(b_, nh, n, -1).transpose(1, 2).reshape(b_, n, -1)
        return self.proj(out)


class CRFWindowAttention(RelPosWindowAttention):
    """NeWCRFs' window attention: ``Q, K`` from the image feature, ``V`` given.

    Args: as :class:`RelPosWindowAttention`.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int):
        super().__init__(embed_dims, num_heads, window_size)
        self.qk = nn.Linear(embed_dims, embed_dims * 2)

    def forward(self, x: Tensor, v: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """x, v: (B_, N, C) windows of the (normed) image and prediction features."""
        q, k = self.qk(x).chunk(2, dim=-1)
        return self.attend(self._heads(q), self._heads(k), self._heads(v), mask)


class SkipWindowAttention(RelPosWindowAttention):
    """PixelFormer's skip attention: ``Q`` from the decoder, ``K, V`` from the skip.

    Args: as :class:`RelPosWindowAttention`.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int):
        super().__init__(embed_dims, num_heads, window_size)
        self.q = nn.Linear(embed_dims, embed_dims)
        self.kv = nn.Linear(embed_dims, embed_dims * 2)

    def forward(self, x: Tensor, e: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """x: (B_, N, C) decoder-query windows; e: (B_, N, C) encoder-skip windows."""
        k, v = self.kv(e).chunk(2, dim=-1)
        return self.attend(self._heads(self.q(x)), self._heads(k), self._heads(v), mask)

