"""The ResNet-50 of TransUNet's R50+ViT-B/16 hybrid, the CNN half of TransDepth's encoder
(Yang et al., ICCV 2021; TransUNet: Chen et al., 2021,
``networks/vit_seg_modeling_resnet_skip.py``).

It is the ResNet of Google's original "R50+ViT-B_16" (BiT-style: weight-standardised convs,
GroupNorm) in TransUNet's port, which differs from timm's ``ResNetV2`` in ways that change
the output, so timm's class cannot be used (checked against timm 1.0.31):

* the 7×7/2 stem conv pads 3 symmetrically and is followed by GroupNorm + ReLU, then a
  3×3/2 max-pool *without padding* (timm: "same" or zero-pad + pool); the stem output
  before pooling is itself an output (the 1/2 skip);
* the shortcut projection is normalised by ``GroupNorm(C_out, C_out)`` (one channel per
  group, ε = 1e-5); every other norm is ``GroupNorm(32, C, ε = 1e-6)`` (timm: 32 groups
  everywhere, ε = 1e-5);
* weight standardisation ``(w − μ) / √(σ² + 1e-5)`` (biased σ²), which is timm's
  ``StdConv2d`` with ε = 1e-5 (used here);
* because the pool has no padding, a 1/4 map is one row/column short for inputs divisible
  by 32 (e.g. 103 × 135 for 416 × 544); the *skip outputs* are then zero-padded at the
  bottom/right to ``⌊H / s⌋ × ⌊W / s⌋`` (at most 2 pixels, as TransUNet asserts), while the
  next stage keeps consuming the unpadded map.

Bottleneck (stride on the 3×3 conv, as TransUNet; post-activation despite TransUNet's class
name ``PreActBottleneck``)::

    y   = ReLU(GN(conv1x1(x))); y = ReLU(GN(conv3x3_s(y))); y = GN(conv1x1(y))
    out = ReLU(y + GN_proj(conv1x1_s(x)))        (projection on the first unit of a stage)
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from timm.layers import StdConv2d

__all__ = ['TransUNetResNetV2', 'TransUNetBottleneck', 'pad_to_stride']

_WHERE = 'mmdepth_dgr/models/backbones/transunet_resnet.py'


def pad_to_stride(x: torch.Tensor, size: Sequence[int], max_pad: int = 2) -> torch.Tensor:
    """Zero-pad ``x`` at the bottom/right to ``size`` (TransUNet's skip padding).

    Args:
        x (Tensor): (B, C, h, w) map.
        size (Sequence[int]): Target ``(H, W)`` with ``0 <= H - h <= max_pad`` (same for W).
        max_pad (int): Largest padding accepted. Defaults to 2.

    Returns:
        Tensor: (B, C, H, W).
    """
    ph, pw = int(size[0]) - x.shape[2], int(size[1]) - x.shape[3]
    if ph == 0 and pw == 0:
        return x
    if not (0 <= ph <= max_pad and 0 <= pw <= max_pad):
        raise ValueError(f'{_WHERE}: a {tuple(x.shape[2:])} map cannot be padded to '
                         f'{tuple(size)} (at most {max_pad} pixels); is the input size '
                         'divisible by 32?')
    return F.pad(x, (0, pw, 0, ph))


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> StdConv2d:
    return StdConv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, eps=1e-5)


class TransUNetBottleneck(nn.Module):
    """One bottleneck unit (module docstring).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        mid_channels (int): Bottleneck width.
        stride (int): Stride of the 3×3 conv and the projection. Defaults to 1.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv(in_channels, mid_channels, 1)
        self.gn1 = nn.GroupNorm(32, mid_channels, eps=1e-6)
        self.conv2 = _conv(mid_channels, mid_channels, 3, stride)
        self.gn2 = nn.GroupNorm(32, mid_channels, eps=1e-6)
        self.conv3 = _conv(mid_channels, out_channels, 1)
        self.gn3 = nn.GroupNorm(32, out_channels, eps=1e-6)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.downsample = _conv(in_channels, out_channels, 1, stride)
            self.gn_proj = nn.GroupNorm(out_channels, out_channels)
        else:
            self.downsample = self.gn_proj = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.gn_proj(self.downsample(x))
        y = self.relu(self.gn1(self.conv1(x)))
        y = self.relu(self.gn2(self.conv2(y)))
        y = self.gn3(self.conv3(y))
        return self.relu(y + shortcut)


@MODELS.register_module()
class TransUNetResNetV2(BaseModule):
    """TransUNet's R50 (module docstring): stem + three stages, all four maps returned.

    Outputs (strides 2, 4, 8, 16 for an input divisible by 32), channels for
    ``width_factor=1``: stem 64, stage 1 256, stage 2 512, stage 3 1024. The stage-1 map is
    zero-padded to ``H/4 × W/4`` (module docstring); stage 3 (the ViT's input) is
    returned as computed.

    Args:
        block_units (Sequence[int]): Units per stage. Defaults to (3, 4, 9).
        width_factor (float): Multiplier of the base width 64. Defaults to 1.
        in_channels (int): Input channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): mmengine init config. Defaults to None.

    Attributes:
        out_channels (List[int]): Channels of the four returned maps.
        out_strides (List[int]): Their strides (2, 4, 8, 16).
    """

    def __init__(self,
                 block_units: Sequence[int] = (3, 4, 9),
                 width_factor: float = 1,
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        block_units = [int(n) for n in block_units]
        if len(block_units) != 3 or min(block_units) < 1:
            raise ValueError(f'{_WHERE}: block_units must be three positive counts, got '
                             f'{block_units}')
        width = int(64 * width_factor)
        if width % 32:
            raise ValueError(f'{_WHERE}: 64 * width_factor = {width} must be a multiple of '
                             '32 (GroupNorm with 32 groups)')
        self.root = nn.Sequential()
        self.root.add_module('conv', StdConv2d(in_channels, width, 7, stride=2, padding=3,
                                               bias=False, eps=1e-5))
        self.root.add_module('gn', nn.GroupNorm(32, width, eps=1e-6))
        self.root.add_module('relu', nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0)
        self.body = nn.Sequential()
        cin = width
        for i, (n, mult, stride) in enumerate(zip(block_units, (1, 2, 4), (1, 2, 2))):
            cout, cmid = width * 4 * mult, width * mult
            block = nn.Sequential()
            for u in range(n):
                block.add_module(f'unit{u + 1}', TransUNetBottleneck(
                    cin if u == 0 else cout, cout, cmid, stride if u == 0 else 1))
            self.body.add_module(f'block{i + 1}', block)
            cin = cout
        self.out_channels = [width, width * 4, width * 8, width * 16]
        self.out_strides = [2, 4, 8, 16]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """(B, C, H, W) -> [stem (1/2), stage 1 (1/4, padded), stage 2 (1/8), stage 3 (1/16)]."""
        h, w = x.shape[2:]
        x = self.root(x)
        outs = [x]
        x = self.pool(x)
        for i, block in enumerate(self.body):
            x = block(x)
            if i < len(self.body) - 1:
                s = 4 * 2**i
                outs.append(pad_to_stride(x, (h // s, w // s)))
            else:
                outs.append(x)
        return outs
