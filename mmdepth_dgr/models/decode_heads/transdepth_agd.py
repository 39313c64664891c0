"""TransDepth's attention-gated decoder (AGD): attention-gated message passing between
feature scales with conditional kernels (Yang, Tang, Ding, Sebe, Ricci, "Transformer-Based
Attention Networks for Continuous Pixel-Wise Prediction", ICCV 2021), as the official code
computes it (ygjwd12345/TransDepth, ``pytorch/AttentionGraphCondKernel.py``:
``AttentionGatedMSG`` and ``AttentionGraphCondKernel``).

Gate (receiving map ``r``, sending map ``s``, same shape (B, C, H, W); for each dilation
``d`` of 1, 4, 8, with ``DLF`` the per-pixel 3×3 filter of :func:`dynamic_local_filter`)::

    K_d  = Conv3x3_d(cat(s, r))                    9 per-pixel kernel weights
    m_d  = DLF(s, K_d, d)                          message
    a_d  = r ⊙ m_d + DLF(s, Conv3x3_d^s(s), d) + DLF(r, Conv3x3_d^r(r), d)
    g_d  = StructAtt(a_d)                          see :func:`structured_attention`
    out  = ReLU(Conv1x1(cat_d(g_d ⊙ m_d)))

AGD (inputs c2 (1/8), c3 (1/16), c4 (1/32) of the encoder)::

    f5 = CBR3x3(c4), f4 = CBR3x3(c3), f3 = CBR3x3(c2)   → width w; f5, f4 nearest-resized
                                                           to f3's size (1/8)
    y  = CBR3x3/2(CBR3x3/2(cat(Gate(f5 ← f3), Gate(f5 ← f4), Gate(f5 ← f5), f5)))   → 1/32

(CBR: conv + BatchNorm + ReLU; the last two convs keep 4w channels and have a bias.)

Structured attention. The official gate multiplies the attention map by ``rank`` random
channel weightings drawn anew at *every* forward pass, in training and at test time
(``struc_att``: ``torch.randn`` channel logits). The official model calls it with rank 3
always: ``BtsModel.forward(x, focal, rank)`` passes its ``rank`` positionally into the
``epoch`` parameter of ``AttentionGraphCondKernel.forward``, whose own ``rank`` keeps its
default 3 — so ``--att_rank`` of the argument files has no effect. Its output is therefore
stochastic; ``att_rank=0`` (the official rank-0 branch: the raw map ``a_d``) and
``gate='sigmoid'`` (σ(a_d), deterministic) are options.
"""
import math
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor

__all__ = ['TransDepthAttentionGate', 'TransDepthAGD', 'dynamic_local_filter',
           'structured_attention', 'AGD_GATES']

_WHERE = 'mmdepth_dgr/models/decode_heads/transdepth_agd.py'
AGD_GATES = ('structured', 'sigmoid')


def dynamic_local_filter(x: Tensor, kernels: Tensor, dilation: int = 1) -> Tensor:
    """Filter every pixel of ``x`` with its own k×k kernel (shared over channels).

    ``out[b, c, i, j] = Σ_t kernels[b, t, i, j] · x_pad[b, c, i + d·u_t, j + d·v_t]`` with
    ``(u_t, v_t)`` the k×k offsets in row-major order (t = u·k + v, both from 0) and zero
    padding of ``d·(k−1)/2``: the indexing of ``F.unfold(x, k, dilation=d, padding=...)``
    (the official code). Written as a loop of k² shifted slices so the (B, C·k², H·W)
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
        raise ValueError(f'{_WHERE}: kernels must have k*k channels with k odd, got {kk}')
    if x.shape[0] != b or tuple(x.shape[2:]) != (h, w):
        raise ValueError(f'{_WHERE}: x {tuple(x.shape)} and kernels '
                         f'{tuple(kernels.shape)} must share batch and spatial size')
    pad = dilation * (k // 2)
    xp = F.pad(x, (pad, pad, pad, pad))
    out = torch.zeros_like(x)
    for t in range(kk):
        u, v = divmod(t, k)
        tap = xp[:, :, u * dilation:u * dilation + h, v * dilation:v * dilation + w]
        out = out + kernels[:, t:t + 1] * tap
    return out


def structured_attention(att: Tensor, rank: int = 3) -> Tensor:
    """The official ``struc_att``: Σ over ``rank`` random channel weightings.

    For each of ``rank`` draws ``ω ~ N(0, I)`` of shape (B, C) from torch's *CPU* generator
    (as the official code, which moves the draw to the GPU afterwards)::

        α = softmax_C(ω);  β = σ(Σ_c α_c a_c);  out += β ⊙ α ⊙ a

    ``rank = 0`` returns ``a`` unchanged.

    Args:
        att (Tensor): (B, C, H, W) attention map ``a``.
        rank (int): Number of draws. Defaults to 3 (official).

    Returns:
        Tensor: (B, C, H, W).
    """
    if rank == 0:
        return att
    b, c = att.shape[:2]
    out = torch.zeros_like(att)
    for _ in range(rank):
        # drawn and normalised in float32 on the CPU, then moved, as the official code
        alpha = torch.softmax(torch.randn(b, c), dim=1).to(att.device)[:, :, None, None]
        beta = torch.sigmoid((alpha * att).sum(1, keepdim=True))
        out = beta * alpha * att + out
    return out


class TransDepthAttentionGate(nn.Module):
    """Attention-gated message from a sending to a receiving map (official
    ``AttentionGatedMSG``; module docstring).

    Args:
        channels (int): Width of both maps.
        dilations (Sequence[int]): One message per dilation. Defaults to (1, 4, 8).
        gate (str): 'structured' (official) or 'sigmoid'. Defaults to 'structured'.
        att_rank (int): Draws of the structured attention (0: raw map). Defaults to 3.
    """

    def __init__(self, channels: int, dilations: Sequence[int] = (1, 4, 8),
                 gate: str = 'structured', att_rank: int = 3) -> None:
        super().__init__()
        if gate not in AGD_GATES:
            raise ValueError(f'{_WHERE}: gate must be one of {AGD_GATES}, got {gate!r}')
        self.dilations = tuple(int(d) for d in dilations)
        self.gate, self.att_rank = gate, int(att_rank)

        def kconv(cin, d):
            return nn.Conv2d(cin, 9, 3, padding=d, dilation=d)

        self.kernel_pred = nn.ModuleList(kconv(2 * channels, d) for d in self.dilations)
        self.kernel_send = nn.ModuleList(kconv(channels, d) for d in self.dilations)
        self.kernel_recv = nn.ModuleList(kconv(channels, d) for d in self.dilations)
        self.combine = nn.Sequential(
            nn.Conv2d(len(self.dilations) * channels, channels, 1), nn.ReLU(inplace=True))

    def forward(self, receiver: Tensor, sender: Tensor) -> Tensor:
        """Message (B, C, H, W) for ``receiver`` from ``sender`` (same shape)."""
        if receiver.shape != sender.shape:
            raise ValueError(f'{_WHERE}: receiver and sender must have the same shape, got '
                             f'{tuple(receiver.shape)} and {tuple(sender.shape)}')
        both = torch.cat([sender, receiver], dim=1)
        msgs: List[Tensor] = []
        atts: List[Tensor] = []
        for d, kp, ks, kr in zip(self.dilations, self.kernel_pred, self.kernel_send,
                                 self.kernel_recv):
            m = dynamic_local_filter(sender, kp(both), d)
            atts.append(receiver * m + dynamic_local_filter(sender, ks(sender), d) +
                        dynamic_local_filter(receiver, kr(receiver), d))
            msgs.append(m)
        # the official code draws the random weightings after all maps, in dilation order
        if self.gate == 'structured':
            gates = [structured_attention(a, self.att_rank) for a in atts]
        else:
            gates = [torch.sigmoid(a) for a in atts]
        return self.combine(torch.cat([g * m for g, m in zip(gates, msgs)], dim=1))


class TransDepthAGD(nn.Module):
    """The AGD over three encoder levels (official ``AttentionGraphCondKernel``).

    Args:
        in_channels (Sequence[int]): Channels of c2 (1/8), c3 (1/16), c4 (1/32).
        width (int): w. Defaults to 512 (official).
        dilations (Sequence[int]): Of every gate. Defaults to (1, 4, 8).
        gate (str): See :class:`TransDepthAttentionGate`. Defaults to 'structured'.
        att_rank (int): See :class:`TransDepthAttentionGate`. Defaults to 3.
        norm_cfg (dict): Norm of the convs. Defaults to BN.

    Attributes:
        out_channels (int): 4w, the channels of the 1/32 output.
    """

    def __init__(self, in_channels: Sequence[int], width: int = 512,
                 dilations: Sequence[int] = (1, 4, 8), gate: str = 'structured',
                 att_rank: int = 3, norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        if len(in_channels) != 3:
            raise ValueError(f'{_WHERE}: the AGD reads three levels (1/8, 1/16, 1/32), got '
                             f'in_channels={list(in_channels)}')
        relu = dict(type='ReLU')

        def cbr(cin, cout, stride=1, bias=False):
            return ConvModule(cin, cout, 3, stride=stride, padding=1, bias=bias,
                              norm_cfg=norm_cfg, act_cfg=relu)

        self.proj = nn.ModuleList(cbr(c, width) for c in in_channels)  # c2, c3, c4
        self.gates = nn.ModuleList(
            TransDepthAttentionGate(width, dilations, gate, att_rank) for _ in range(3))
        self.fuse = nn.Sequential(cbr(4 * width, 4 * width, 2, bias=True),
                                  cbr(4 * width, 4 * width, 2, bias=True))
        self.out_channels = 4 * width

    def forward(self, c2: Tensor, c3: Tensor, c4: Tensor) -> Tensor:
        """(B, 4w, H/32, W/32) from c2 (1/8), c3 (1/16), c4 (1/32)."""
        f3, f4, f5 = (p(c) for p, c in zip(self.proj, (c2, c3, c4)))
        size = f3.shape[2:]
        f4 = F.interpolate(f4, size=size, mode='nearest')
        f5 = F.interpolate(f5, size=size, mode='nearest')
        msgs = [gate(f5, sender) for gate, sender in zip(self.gates, (f3, f4, f5))]
        return self.fuse(torch.cat(msgs + [f5], dim=1))
