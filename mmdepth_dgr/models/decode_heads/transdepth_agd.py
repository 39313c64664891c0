"""TransDepth's attention-gated message passing (the AGD of Yang et al., ICCV 2021).

Yang, Tang, Ding, Sebe, Ricci, "Transformer-Based Attention Networks for Continuous Pixel-Wise
Prediction" (ICCV 2021) fuse multi-scale features with attention gates whose filters are
*predicted per pixel* (conditional kernels) at several dilation rates. For a receiving map
``r`` and a sending map ``s`` (same size and width), and each dilation ``d``::

    K_d    = Conv3x3_d(cat(s, r))                 per-pixel k×k kernel (k² channels)
    m_d    = DLF(s, K_d, d)                        message: s filtered by its own kernel
    a_d    = r ⊙ m_d + DLF(s, Conv_d^s(s), d) + DLF(r, Conv_d^r(r), d)   attention logits
    g_d    = σ(a_d)                                 attention gate
    out    = ReLU(Conv1x1(cat_d(g_d ⊙ m_d)))

with ``DLF(x, K, d)[b, c, i, j] = Σ_t K[b, t, i, j] · x[b, c, (i, j) + d·o_t]`` the dynamic
local filter over the k×k offsets ``o_t`` (zero padding).
"""
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['TransDepthAttentionGate', 'dynamic_local_filter']


def dynamic_local_filter(x: Tensor, kernels: Tensor, dilation: int = 1) -> Tensor:
    """Filter every pixel of ``x`` with its own k×k kernel (shared over channels).

    ``out[b, c, i, j] = Σ_t kernels[b, t, i, j] · x_pad[b, c, i + d·u_t, j + d·v_t]`` with
    ``(u_t, v_t)`` the k×k offsets in row-major order (t = u·k + v, both from 0) and zero
    padding of ``d·(k−1)/2``: the same indexing as ``F.unfold(x, k, dilation=d, padding=...)``.
    Written as a loop of k² shifted slices instead of ``unfold`` so the (B, C·k², H·W)
    intermediate is never materialised.

    Args:
        x (Tensor): (B, C, H, W) features.
        kernels (Tensor): (B, k*k, H, W) per-pixel kernel weights, k odd.
        dilation (int): Spacing of the taps. Defaults to 1.

    Returns:
        Tensor: (B, C, H, W).
    """
    # int(): under jit tracing (mmengine's FLOP counter) sizes come back as tensors, and
    # round()/sqrt on them would fail or be traced; the tap count is a Python loop bound.
    b, kk, h, w = (int(v) for v in kernels.shape)
    k = math.isqrt(kk)
    if k * k != kk or k % 2 == 0:
        raise ValueError('dynamic_local_filter: kernels must have k*k channels with k odd, '
                         f'got {kk}.')
    if x.shape[0] != b or tuple(x.shape[2:]) != (h, w):
        raise ValueError(f'dynamic_local_filter: x {tuple(x.shape)} and kernels '
                         f'{tuple(kernels.shape)} must share batch and spatial size.')
    pad = dilation * (k // 2)
    xp = F.pad(x, (pad, pad, pad, pad))
    out = torch.zeros_like(x)
    for t in range(kk):
        u, v = divmod(t, k)
        tap = xp[:, :, u * dilation:u * dilation + h, v * dilation:v * dilation + w]
        out = out + kernels[:, t:t + 1] * tap
    return out


@MODELS.register_module()
class TransDepthAttentionGate(nn.Module):
    """Attention-gated message from a sending map to a receiving map (module docstring).

    Choices where the paper and the released code differ or leave room:

    * Gate: the released code multiplies the attention logits by a *random* channel/spatial
      "structured attention" drawn anew at every forward pass (``struc_att`` with
      ``torch.randn`` weights); that makes inference stochastic, so it is replaced by the
      deterministic sigmoid gate of the paper's attention-gate equations
      (``gate='sigmoid'``). ``gate='none'`` uses the logits ungated (``g_d = a_d``).
    * Dilations (1, 4, 8) and k = 3 as in the released code; both configurable.

    Args:
        channels (int): Width of the receiving and sending maps.
        dilations (Sequence[int]): One message per dilation. Defaults to (1, 4, 8).
        kernel_size (int): k of the predicted kernels (odd). Defaults to 3.
        gate (str): 'sigmoid' or 'none'. Defaults to 'sigmoid'.
    """

    def __init__(self, channels: int, dilations: Sequence[int] = (1, 4, 8),
                 kernel_size: int = 3, gate: str = 'sigmoid'):
        super().__init__()
        if gate not in ('sigmoid', 'none'):
            raise ValueError(f'TransDepthAttentionGate: gate must be "sigmoid" or "none", '
                             f'got {gate!r}.')
        if kernel_size % 2 == 0:
            raise ValueError('TransDepthAttentionGate: kernel_size must be odd, got '
                             f'{kernel_size}.')
        self.dilations = tuple(int(d) for d in dilations)
        self.gate = gate
        kk = kernel_size * kernel_size

        def kconv(cin, d):
            return nn.Conv2d(cin, kk, 3, padding=d, dilation=d)

        self.kernel_pred = nn.ModuleList(kconv(2 * channels, d) for d in self.dilations)
        self.kernel_send = nn.ModuleList(kconv(channels, d) for d in self.dilations)
        self.kernel_recv = nn.ModuleList(kconv(channels, d) for d in self.dilations)
        self.combine = nn.Sequential(
            nn.Conv2d(len(self.dilations) * channels, channels, 1), nn.ReLU(inplace=True))

    def forward(self, receiver: Tensor, sender: Tensor) -> Tensor:
        """Message (B, C, H, W) for ``receiver`` (B, C, H, W) from ``sender`` (same shape)."""
        if receiver.shape != sender.shape:
            raise ValueError('TransDepthAttentionGate: receiver and sender must have the '
                             f'same shape, got {tuple(receiver.shape)} and '
                             f'{tuple(sender.shape)}.')
        both = torch.cat([sender, receiver], dim=1)
        msgs = []
        for d, kp, ks, kr in zip(self.dilations, self.kernel_pred, self.kernel_send,
                                 self.kernel_recv):
            m = dynamic_local_filter(sender, kp(both), d)
            logits = (receiver * m + dynamic_local_filter(sender, ks(sender), d) +
                      dynamic_local_filter(receiver, kr(receiver), d))
            g = torch.sigmoid(logits) if self.gate == 'sigmoid' else logits
            msgs.append(g * m)
        return self.combine(torch.cat(msgs, dim=1))
