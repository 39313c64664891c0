"""Building blocks of the DPT decoder (Ranftl, Bochkovskiy, Koltun, ICCV 2021, Sec. 3), as
the official code (isl-org/DPT, ``dpt/vit.py``, ``dpt/blocks.py``) computes them.

Written here rather than taken from mmseg's ``dpt_head``: mmseg's residual conv units have
no conv bias and clone their input, and its ``ReassembleBlocks`` cannot pass the CNN maps of
DPT-Hybrid through; the official network needs both. Shapes: ``(B, C, h, w)`` token maps,
``(B, C)`` class tokens.

Reassemble (one level, Eq. 5 of the paper, ``s`` the level's scale relative to the tokens)::

    readout: 'ignore' t;  'add' t + cls;  'project' GELU(Linear_{2C→C}([t, cls]))
    r = Resample_s(Conv1x1_{C→C'}(readout))
        Resample: s > 1 ConvTranspose_{k=s, stride=s};  s = 1 identity;  s = 1/2 Conv3x3/2

Fusion (RefineNet-style, coarse to fine)::

    RCU(x)      = x + Conv3x3(ReLU(Conv3x3(ReLU(x))))       (+ BN after each conv if use_bn)
    Fusion(p, r) = Conv1x1(Up2(RCU_2(p + RCU_1(r))))          (Up2: bilinear, align_corners)
    coarsest:    Fusion(r)   = Conv1x1(Up2(RCU_2(r)))
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['DPTReadout', 'DPTReassembleLevel', 'DPTResidualConvUnit', 'DPTFusionBlock',
           'DPT_READOUTS']

_WHERE = 'mmdepth_dgr/models/decode_heads/dpt_layers.py'
DPT_READOUTS = ('ignore', 'add', 'project')


class DPTReadout(nn.Module):
    """Fold the class token into the patch tokens (official ``Slice`` / ``AddReadout`` /
    ``ProjectReadout``).

    Args:
        embed_dims (int): Token width C.
        readout_type (str): One of :data:`DPT_READOUTS`. Defaults to 'project'.
    """

    def __init__(self, embed_dims: int, readout_type: str = 'project') -> None:
        super().__init__()
        if readout_type not in DPT_READOUTS:
            raise ValueError(f'{_WHERE}: readout_type {readout_type!r} is unknown; use one '
                             f'of {DPT_READOUTS}')
        self.readout_type = readout_type
        if readout_type == 'project':
            self.project = nn.Sequential(nn.Linear(2 * embed_dims, embed_dims), nn.GELU())

    def forward(self, x: Tensor, cls_token: Optional[Tensor]) -> Tensor:
        """``x`` (B, C, h, w), ``cls_token`` (B, C) or None (only for 'ignore')."""
        if self.readout_type == 'ignore':
            return x
        if cls_token is None:
            raise ValueError(f'{_WHERE}: readout_type={self.readout_type!r} needs the class '
                             'token; set the ViT backbone output_cls_token=True')
        if self.readout_type == 'add':
            return x + cls_token[:, :, None, None]
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)                         # (B, hw, C)
        cls = cls_token.unsqueeze(1).expand_as(tokens)
        out = self.project(torch.cat([tokens, cls], dim=-1))          # (B, hw, C)
        return out.transpose(1, 2).reshape(b, c, h, w)


class DPTReassembleLevel(nn.Module):
    """Readout, 1×1 projection and resampling of one ViT level (module docstring).

    Args:
        embed_dims (int): Token width C.
        out_channels (int): C' after the 1×1 projection.
        scale (float): Resampling factor: 4, 2 (transposed conv), 1 (none) or 0.5
            (3×3 stride-2 conv).
        readout_type (str): See :class:`DPTReadout`. Defaults to 'project'.
    """

    def __init__(self, embed_dims: int, out_channels: int, scale: float,
                 readout_type: str = 'project') -> None:
        super().__init__()
        self.readout = DPTReadout(embed_dims, readout_type)
        self.project = nn.Conv2d(embed_dims, out_channels, 1)
        if scale == 1:
            self.resize = nn.Identity()
        elif scale == 0.5:
            self.resize = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1)
        elif scale > 1 and float(scale).is_integer():
            s = int(scale)
            self.resize = nn.ConvTranspose2d(out_channels, out_channels, s, stride=s)
        else:
            raise ValueError(f'{_WHERE}: reassemble scale {scale} is not supported; use an '
                             'integer > 1, 1 or 0.5')

    def forward(self, x: Tensor, cls_token: Optional[Tensor] = None) -> Tensor:
        return self.resize(self.project(self.readout(x, cls_token)))


class DPTResidualConvUnit(nn.Module):
    """Pre-activation residual conv unit (official ``ResidualConvUnit_custom``).

    Args:
        channels (int): Width.
        use_bn (bool): BatchNorm after each conv (then the convs have no bias).
            Defaults to False (DPT depth models).
    """

    def __init__(self, channels: int, use_bn: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=not use_bn)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=not use_bn)
        self.bn1 = nn.BatchNorm2d(channels) if use_bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(channels) if use_bn else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(F.relu(x)))
        out = self.bn2(self.conv2(F.relu(out)))
        return out + x


class DPTFusionBlock(nn.Module):
    """Fusion block (official ``FeatureFusionBlock_custom`` with ``expand=False``).

    Args:
        channels (int): Width.
        with_skip (bool): Whether the block receives a reassembled level besides the
            coarser path (False for the coarsest block). Defaults to True.
        use_bn (bool): See :class:`DPTResidualConvUnit`. Defaults to False.
        align_corners (bool): Of the ×2 bilinear upsampling. Defaults to True (official).
    """

    def __init__(self, channels: int, with_skip: bool = True, use_bn: bool = False,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.res1 = DPTResidualConvUnit(channels, use_bn) if with_skip else None
        self.res2 = DPTResidualConvUnit(channels, use_bn)
        self.out_conv = nn.Conv2d(channels, channels, 1)
        self.align_corners = align_corners

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        """``x`` (B, C, h, w) coarser path (or the coarsest level), ``skip`` the level of
        the same size; returns (B, C, 2h, 2w)."""
        if skip is not None:
            if self.res1 is None:
                raise ValueError(f'{_WHERE}: this fusion block was built with_skip=False')
            x = x + self.res1(skip)
        x = self.res2(x)
        x = F.interpolate(x, scale_factor=2, mode='bilinear',
                          align_corners=self.align_corners)
        return self.out_conv(x)
