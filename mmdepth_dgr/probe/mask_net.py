"""The mask network G of the sparse-pixel study (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1, Eq. 4;
after Hu et al., "Visualization of Convolutional Neural Networks for Monocular Depth
Estimation", ICCV 2019).

G maps the network input ``I`` (``(B, 3, H, W)``, normalised as the depth network sees it)
to a soft mask ``M = G(I) = sigmoid(logits)`` in (0, 1), one channel, same spatial size as
``I``. The probe (:class:`~mmdepth_dgr.probe.SparseMaskProbe`) trains G so that
the frozen depth network N gives the same depth on ``I * M`` as on ``I`` while ``M`` is
sparse.

Architecture (a small U-Net; Hu et al. use a ResNet-based encoder-decoder, the study does
not specify G, and G only needs to be expressive enough to pick pixels): a stem of two 3x3
convs at full resolution, ``len(widths) - 1`` stride-2 stages, then bilinear up-sampling with
skip concatenation back to full resolution, a 1x1 conv to one logit and a sigmoid. Inputs of
any size work (up-sampling goes to the skip's size). The last conv starts at weight 0 and
bias ``init_bias``, so G starts as the constant mask ``sigmoid(init_bias)`` (0.88 by default:
nearly every pixel kept, the probe starts from ``N(I * M) ~ N(I)`` and the sparsity term
removes pixels from there).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['MaskNet', 'mask_density']


def mask_density(mask: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Mean of a mask over the valid (image, not padding) pixels of each sample.

    Args:
        mask (Tensor): ``(B, 1, H, W)`` mask, soft in [0, 1] or binary.
        valid (Tensor, optional): ``(B, 1, H, W)`` bool, pixels that count. Defaults to
            None (all pixels).

    Returns:
        Tensor: ``(B,)`` density per sample.
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f'mask_density: mask must be (B, 1, H, W), got {tuple(mask.shape)}')
    mask = mask.float()
    if valid is None:
        return mask.flatten(1).mean(1)
    valid = valid.to(torch.bool).expand_as(mask)
    num = torch.where(valid, mask, torch.zeros_like(mask)).flatten(1).sum(1)
    return num / valid.flatten(1).sum(1).clamp_min(1)


@MODELS.register_module()
class MaskNet(BaseModule):
    """Mask network G: ``(B, 3, H, W)`` image → ``(B, 1, H, W)`` soft mask in (0, 1).

    Args:
        in_channels (int): Input channels. Defaults to 3.
        widths (Sequence[int]): Channels of the full-resolution stem and of each stride-2
            stage; ``len(widths) - 1`` down-samplings. Defaults to (16, 32, 64).
        init_bias (float): Initial logit of every pixel (weights of the last conv start at
            0). Defaults to 2.0 (initial mask 0.88).
        norm_cfg (dict, optional): Norm layer of the convs. Defaults to
            ``dict(type='BN', requires_grad=True)``.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64),
                 init_bias: float = 2.0,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        widths = list(widths)
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f'MaskNet: widths must be a non-empty list of positive ints, '
                             f'got {widths}')
        self.init_bias = float(init_bias)
        act = dict(type='ReLU')
        self.stem = nn.Sequential(
            ConvModule(in_channels, widths[0], 3, padding=1, norm_cfg=norm_cfg, act_cfg=act),
            ConvModule(widths[0], widths[0], 3, padding=1, norm_cfg=norm_cfg, act_cfg=act))
        self.down = nn.ModuleList(
            nn.Sequential(
                ConvModule(widths[i], widths[i + 1], 3, stride=2, padding=1,
                           norm_cfg=norm_cfg, act_cfg=act),
                ConvModule(widths[i + 1], widths[i + 1], 3, padding=1, norm_cfg=norm_cfg,
                           act_cfg=act)) for i in range(len(widths) - 1))
        # Up path: fuse the up-sampled coarser map with the skip of the finer level.
        self.up = nn.ModuleList(
            ConvModule(widths[i + 1] + widths[i], widths[i], 3, padding=1,
                       norm_cfg=norm_cfg, act_cfg=act) for i in range(len(widths) - 1))
        self.logit = nn.Conv2d(widths[0], 1, 1)
        self._reset_logit()

    def _reset_logit(self) -> None:
        nn.init.zeros_(self.logit.weight)
        nn.init.constant_(self.logit.bias, self.init_bias)

    def init_weights(self) -> None:
        """mmengine initialisation, then the constant-mask start of the last conv."""
        super().init_weights()
        self._reset_logit()

    def forward_logits(self, x: Tensor) -> Tensor:
        """``(B, 1, H, W)`` mask logits of a ``(B, C, H, W)`` input."""
        if x.dim() != 4:
            raise ValueError(f'MaskNet: input must be (B, C, H, W), got {tuple(x.shape)}')
        skips = [self.stem(x)]
        for stage in self.down:
            skips.append(stage(skips[-1]))
        y = skips[-1]
        for i in range(len(self.up) - 1, -1, -1):
            skip = skips[i]
            y = F.interpolate(y, size=skip.shape[-2:], mode='bilinear', align_corners=False)
            y = self.up[i](torch.cat([y, skip], dim=1))
        return self.logit(y)

    def forward(self, x: Tensor) -> Tensor:
        """Soft mask ``G(x) = sigmoid(logits)``, ``(B, 1, H, W)`` in (0, 1)."""
        return torch.sigmoid(self.forward_logits(x))
