"""The BTS decoder with local planar guidance (Lee, Han, Ko, Suh, "From Big to Small:
Multi-Scale Local Planar Guidance for Monocular Depth Estimation", arXiv 1907.10326), in
the form TransDepth's released code uses it (``pytorch/bts.py``, class ``bts``).

No dependency offers it (mmseg has no BTS), so it is written here. With ``F`` = ``channels``
(official ``bts_size``, 512), skips ``s_1..s_4`` at strides 2, 4, 8, 16 and the dense input
``x_5`` at stride 32; BN momentum 0.01, ε 1.1e-5 except inside the ASPP convs::

    u5 = BN(ELU(Conv3x3(Up2(ReLU(x_5)))));          i5 = ELU(Conv3x3(cat(u5, s_4)))   F
    u4 = BN(ELU(Conv3x3(Up2(i5))));  c4 = cat(u4, s_3);  i4 = BN(ELU(Conv3x3(c4)))    F/2
    dense ASPP (dilations 3, 6, 12, 18, 24, each on the running concatenation)
    d  = ELU(Conv3x3(cat(i4, a3, a6, a12, a18, a24)))                                 F/4
    LPG at 1/8:  plane (n, δ) = Reduce(d);  D8 = LPG_8(n, δ) / d_max    (full resolution)
    i3 = ELU(Conv3x3(cat(BN(ELU(Conv3x3(Up2(d)))), s_2, ↓4(D8))));  D4 = LPG_4(Reduce(i3))
    i2 = ELU(Conv3x3(cat(BN(ELU(Conv3x3(Up2(i3)))), s_1, ↓2(D4))));  D2 = LPG_2(Reduce(i2))
    u1 = ELU(Conv3x3(Up2(i2)));  r1 = Reduce_final(u1)
    depth = d_max · σ(Conv3x3(ELU(Conv3x3(cat(u1, r1, D2, D4, D8)))))

Up2: nearest ×2; ↓k: nearest 1/k; the convs have no bias. Reduce: 1×1 convs halving the
width (ELU) down to 3 plane parameters (θ = σ·π/3, φ = σ·2π, δ = σ·d_max) → unit normal
``n = (sin θ cos φ, sin θ sin φ, cos θ)`` (then L2-normalised) and distance δ; LPG_k
expands each coarse pixel into a k×k patch of the plane
``depth(u, v) = δ / (n_1 u + n_2 v + n_3)`` with ``u, v = (0..k−1 − (k−1)/2) / k``.
The focal length, an argument of the official forward, is unused there and here.
"""
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['BTSDecoder', 'BTSReduction', 'local_planar_guidance', 'plane_from_params']

_WHERE = 'mmdepth_dgr/models/decode_heads/transdepth_bts.py'
_BN = dict(momentum=0.01, eps=1.1e-5)


def plane_from_params(params: Tensor, max_depth: float) -> Tensor:
    """(B, 3, h, w) raw plane parameters -> (B, 4, h, w) unit normal (n1, n2, n3) and δ."""
    theta = torch.sigmoid(params[:, 0]) * math.pi / 3
    phi = torch.sigmoid(params[:, 1]) * math.pi * 2
    dist = torch.sigmoid(params[:, 2]) * max_depth
    normal = torch.stack([torch.sin(theta) * torch.cos(phi),
                          torch.sin(theta) * torch.sin(phi), torch.cos(theta)], dim=1)
    return torch.cat([F.normalize(normal, 2, 1), dist.unsqueeze(1)], dim=1)


def local_planar_guidance(plane: Tensor, ratio: int) -> Tensor:
    """Expand each pixel's plane into a ``ratio × ratio`` patch of depths.

    Args:
        plane (Tensor): (B, 4, h, w) unit normal and distance.
        ratio (int): Upsampling ratio k.

    Returns:
        Tensor: (B, 1, k·h, k·w), ``δ / (n_1 u + n_2 v + n_3)``.
    """
    b, _, h, w = plane.shape
    p = plane.repeat_interleave(ratio, dim=2).repeat_interleave(ratio, dim=3)
    offs = (torch.arange(ratio, dtype=plane.dtype, device=plane.device)
            - (ratio - 1) * 0.5) / ratio
    u = offs.repeat(w).view(1, 1, w * ratio)           # varies along the width
    v = offs.repeat(h).view(1, h * ratio, 1)           # varies along the height
    depth = p[:, 3] / (p[:, 0] * u + p[:, 1] * v + p[:, 2])
    return depth.unsqueeze(1)


class BTSReduction(nn.Module):
    """BTS's ``reduction_1x1``: 1×1 convs halving the width, then 3 plane parameters
    (or, ``is_final``, one sigmoid channel).

    Args:
        in_channels (int): Input width.
        start_channels (int): Width of the first 1×1 conv (halved after each).
        max_depth (float): d_max of the plane distance.
        is_final (bool): End with a 1-channel sigmoid instead of a plane. Defaults to False.
    """

    def __init__(self, in_channels: int, start_channels: int, max_depth: float,
                 is_final: bool = False) -> None:
        super().__init__()
        self.max_depth, self.is_final = float(max_depth), is_final
        layers = []
        cin, cout = in_channels, start_channels
        while cout >= 4:
            if cout < 8:
                layers.append(nn.Conv2d(cin, 1 if is_final else 3, 1, bias=False))
                if is_final:
                    layers.append(nn.Sigmoid())
                break
            layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.ELU()]
            cin, cout = cout, cout // 2
        else:
            raise ValueError(f'{_WHERE}: BTSReduction needs start_channels >= 4, got '
                             f'{start_channels}')
        self.reduc = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, h, w) -> plane (B, 4, h, w), or (B, 1, h, w) in (0, 1) if final."""
        x = self.reduc(x)
        return x if self.is_final else plane_from_params(x, self.max_depth)


def _up_conv(cin: int, cout: int) -> nn.Module:
    # official upconv: nearest x2, 3x3 conv (no bias), ELU
    return nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'),
                         nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.ELU())


def _conv_elu(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.ELU())


class _ASPPConv(nn.Module):
    """BTS's ``atrous_conv``: [BN] ReLU Conv1x1(→2c) BN ReLU Conv3x3_d(→c)."""

    def __init__(self, cin: int, cout: int, dilation: int, bn_first: bool = True) -> None:
        super().__init__()
        self.bn_first = nn.BatchNorm2d(cin, **_BN) if bn_first else nn.Identity()
        self.conv1 = nn.Conv2d(cin, 2 * cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * cout, momentum=0.01)
        self.conv2 = nn.Conv2d(2 * cout, cout, 3, padding=dilation, dilation=dilation,
                               bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(F.relu(self.bn_first(x)))
        return self.conv2(F.relu(self.bn(x)))


class BTSDecoder(nn.Module):
    """BTS decoder with LPG (module docstring).

    Args:
        in_channels (Sequence[int]): Channels of s_1 (1/2), s_2 (1/4), s_3 (1/8),
            s_4 (1/16) and x_5 (1/32).
        channels (int): F (official ``bts_size``). Defaults to 512; at least 128.
        max_depth (float): d_max. Defaults to 10.0.
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 512,
                 max_depth: float = 10.0) -> None:
        super().__init__()
        if len(in_channels) != 5:
            raise ValueError(f'{_WHERE}: BTSDecoder reads five levels (1/2 .. 1/32), got '
                             f'in_channels={list(in_channels)}')
        if channels < 128 or channels % 32:
            raise ValueError(f'{_WHERE}: channels (bts_size) must be a multiple of 32 and '
                             f'>= 128, got {channels}')
        c1, c2, c3, c4, c5 = in_channels
        f = channels
        self.max_depth = float(max_depth)
        self.upconv5, self.bn5 = _up_conv(c5, f), nn.BatchNorm2d(f, **_BN)
        self.conv5 = _conv_elu(f + c4, f)
        self.upconv4, self.bn4 = _up_conv(f, f // 2), nn.BatchNorm2d(f // 2, **_BN)
        self.conv4, self.bn4_2 = _conv_elu(f // 2 + c3, f // 2), nn.BatchNorm2d(f // 2, **_BN)
        q = f // 4
        self.daspp = nn.ModuleList([
            _ASPPConv(f // 2, q, 3, bn_first=False),
            _ASPPConv(f // 2 + q + c3, q, 6),
            _ASPPConv(f + c3, q, 12),
            _ASPPConv(f + q + c3, q, 18),
            _ASPPConv(f + f // 2 + c3, q, 24)])
        self.daspp_conv = _conv_elu(f + f // 2 + q, q)
        self.reduc8x8 = BTSReduction(q, q, max_depth)
        self.upconv3, self.bn3 = _up_conv(q, q), nn.BatchNorm2d(q, **_BN)
        self.conv3 = _conv_elu(q + c2 + 1, q)
        self.reduc4x4 = BTSReduction(q, f // 8, max_depth)
        self.upconv2, self.bn2 = _up_conv(q, f // 8), nn.BatchNorm2d(f // 8, **_BN)
        self.conv2 = _conv_elu(f // 8 + c1 + 1, f // 8)
        self.reduc2x2 = BTSReduction(f // 8, f // 16, max_depth)
        self.upconv1 = _up_conv(f // 8, f // 16)
        self.reduc1x1 = BTSReduction(f // 16, f // 32, max_depth, is_final=True)
        self.conv1 = _conv_elu(f // 16 + 4, f // 16)
        self.get_depth = nn.Conv2d(f // 16, 1, 3, padding=1, bias=False)

    def forward_logits(self, s1: Tensor, s2: Tensor, s3: Tensor, s4: Tensor,
                       x5: Tensor) -> Tensor:
        """Pre-sigmoid depth logits (B, 1, 2·H_1, 2·W_1) (module docstring)."""
        i5 = self.conv5(torch.cat([self.bn5(self.upconv5(F.relu(x5))), s4], dim=1))
        c4 = torch.cat([self.bn4(self.upconv4(i5)), s3], dim=1)
        i4 = self.bn4_2(self.conv4(c4))
        a3 = self.daspp[0](i4)
        x = torch.cat([c4, a3], dim=1)
        branches = [a3]
        for j, aspp in enumerate(self.daspp[1:], start=1):
            branches.append(aspp(x))
            if j < len(self.daspp) - 1:  # each branch reads all previous ones
                x = torch.cat([x, branches[-1]], dim=1)
        d = self.daspp_conv(torch.cat([i4] + branches, dim=1))
        d8 = local_planar_guidance(self.reduc8x8(d), 8) / self.max_depth
        i3 = self.conv3(torch.cat([self.bn3(self.upconv3(d)), s2,
                                   F.interpolate(d8, scale_factor=0.25, mode='nearest')], 1))
        d4 = local_planar_guidance(self.reduc4x4(i3), 4) / self.max_depth
        i2 = self.conv2(torch.cat([self.bn2(self.upconv2(i3)), s1,
                                   F.interpolate(d4, scale_factor=0.5, mode='nearest')], 1))
        d2 = local_planar_guidance(self.reduc2x2(i2), 2) / self.max_depth
        u1 = self.upconv1(i2)
        i1 = self.conv1(torch.cat([u1, self.reduc1x1(u1), d2, d4, d8], dim=1))
        return self.get_depth(i1)

    def forward(self, s1: Tensor, s2: Tensor, s3: Tensor, s4: Tensor, x5: Tensor) -> Tensor:
        """Depth (B, 1, 2·H_1, 2·W_1) in metres, ``d_max · σ(logits)``."""
        return self.max_depth * torch.sigmoid(self.forward_logits(s1, s2, s3, s4, x5))
