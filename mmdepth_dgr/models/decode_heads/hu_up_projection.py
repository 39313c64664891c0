"""Up-projection block of Hu et al.'s decoder (after Laina et al., 3DV 2016)."""
from typing import Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['HuUpProjection']


@MODELS.register_module()
class HuUpProjection(nn.Module):
    """Resize, then two residual conv branches summed and rectified.

    ``y = ReLU( BN(conv3x3(ReLU(BN(conv5x5(u))))) + BN(conv5x5(u)) )`` with
    ``u = bilinear_resize(x, size)``: Hu et al. (WACV 2019) use this block both in the
    decoder D (×2 per block) and to bring every encoder level to the output size in the
    multi-scale feature fusion module (MFF).

    Args:
        in_channels (int): Channels of the input.
        out_channels (int): Channels of the output.
        norm_cfg (dict): Norm of the convs. Defaults to ``dict(type='BN')``.
        align_corners (bool): Of the bilinear resize. Defaults to False.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners
        self.branch1 = nn.Sequential(
            ConvModule(in_channels, out_channels, 5, padding=2, norm_cfg=norm_cfg,
                       act_cfg=dict(type='ReLU')),
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=None))
        self.branch2 = ConvModule(in_channels, out_channels, 5, padding=2,
                                  norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: Tensor, size: Optional[Sequence[int]] = None) -> Tensor:
        """(B, C_in, h, w) -> (B, C_out, *size); ``size`` defaults to (2h, 2w)."""
        if size is None:
            size = (x.shape[2] * 2, x.shape[3] * 2)
        size = tuple(int(s) for s in size)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(x, size=size, mode='bilinear',
                              align_corners=self.align_corners)
        return F.relu(self.branch1(x) + self.branch2(x))
