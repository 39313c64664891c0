"""DPT's depth decoder (Ranftl, Bochkovskiy, Koltun, "Vision Transformers for Dense
Prediction", ICCV 2021) as the official ``DPTDepthModel`` computes it (isl-org/DPT,
``dpt/models.py``).

For four backbone levels ``l = 1..4`` (ViT token maps at stride p, or, for DPT-Hybrid, the
ResNet maps of levels 1-2 used as they are)::

    r_l = Reassemble_l(level_l)                       strides 4, 8, 16, 32 (dpt_layers.py)
    q_l = Conv3x3_{C'_l→F}(r_l)                       no bias (official scratch.layer*_rn)
    p_4 = Fusion_4(q_4);  p_l = Fusion_l(p_{l+1}, q_l)  l = 3, 2, 1      → stride 2
    z   = Conv1x1_{32→1}(ReLU(Conv3x3_{F/2→32}(Up2(Conv3x3_{F→F/2}(p_1)))))   stride 1

Depth output (``depth_activation``; ``z⁺ = ReLU(z)`` with the official default
``non_negative=True``, else ``z⁺ = z``)::

    'inverse'  (official metric NYU/KITTI models, DPTDepthModel(invert=True)):
               depth = 1 / max(s · z⁺ + t, ε)              s, t, ε = inverse_scale/shift/eps
    'disparity' (official invert=False, e.g. the MiDaS-trained checkpoints):
               z⁺, relative inverse depth — NOT metres; for inference/conversion only
    'sigmoid'  (this project's bounded metric output, an option for training without the
               relative-depth pre-training): d_min + σ(z) · (d_max − d_min)

The official constants: NYU s = 0.000305, t = 0.1378; KITTI s = 0.00006016, t = 0.00579
(``run_monodepth.py``), ε = 1e-8. They were fitted to the scale of the relative-depth
pre-training the official NYU/KITTI models start from.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth
from .dpt_layers import DPTFusionBlock, DPTReassembleLevel

__all__ = ['DPTDepthHead', 'dpt_depth_output', 'DPT_DEPTH_ACTIVATIONS']

_WHERE = 'mmdepth_dgr/models/decode_heads/dpt_depth_head.py'
DPT_DEPTH_ACTIVATIONS = ('inverse', 'disparity', 'sigmoid')


def dpt_depth_output(logits: Tensor, activation: str = 'inverse', min_depth: float = 1e-3,
                     max_depth: float = 10.0, inverse_scale: float = 1.0,
                     inverse_shift: float = 0.0, inverse_eps: float = 1e-8,
                     non_negative: bool = True) -> Tensor:
    """Map the DPT head's raw output ``z`` to its prediction (see the module docstring).

    Args:
        logits (Tensor): (B, 1, H, W) raw output ``z`` (before the official ReLU).
        activation (str): One of :data:`DPT_DEPTH_ACTIVATIONS`. Defaults to 'inverse'.
        min_depth (float): d_min of 'sigmoid', metres. Defaults to 1e-3.
        max_depth (float): d_max of 'sigmoid', metres. Defaults to 10.0.
        inverse_scale (float): ``s`` of 'inverse'. Defaults to 1.0.
        inverse_shift (float): ``t`` of 'inverse'. Defaults to 0.0.
        inverse_eps (float): ``ε`` of 'inverse'. Defaults to 1e-8 (official).
        non_negative (bool): ReLU on ``z`` for 'inverse'/'disparity'. Defaults to True
            (official).

    Returns:
        Tensor: (B, 1, H, W) depth in metres ('disparity': relative inverse depth).
    """
    z = torch.relu(logits) if non_negative else logits
    if activation == 'inverse':
        return 1.0 / (inverse_scale * z + inverse_shift).clamp(min=inverse_eps)
    if activation == 'disparity':
        return z
    if activation == 'sigmoid':
        return bounded_depth(logits, min_depth, max_depth, 'sigmoid')
    raise ValueError(f'{_WHERE}: depth_activation {activation!r} is unknown; use one of '
                     f'{DPT_DEPTH_ACTIVATIONS}')


@MODELS.register_module()
class DPTDepthHead(DepthBaseHead):
    """DPT reassemble + fusion decoder and depth head (module docstring).

    Each selected level is either a ViT level — ``[tokens (B, C, h, w), cls (B, C)]`` (mmseg
    ViT with ``output_cls_token=True``) or a plain token map with ``readout_type='ignore'``
    — reassembled with the scale given in ``reassemble_scales``, or, where that scale is
    ``None``, a CNN map used as it is (DPT-Hybrid's ResNet levels; its channels must equal
    ``post_process_channels``).

    Args:
        post_process_channels (Sequence[int]): C'_l, channels of each reassembled level.
            Defaults to (256, 512, 768, 768) (DPT-Hybrid; ViT-B/16: 96, 192, 384, 768;
            ViT-L/16: 256, 512, 1024, 1024).
        reassemble_scales (Sequence[float | None]): Resampling factor of each ViT level
            (``None``: CNN level passed through). Defaults to (None, None, 1, 0.5)
            (DPT-Hybrid; plain ViT: 4, 2, 1, 0.5).
        readout_type (str): 'ignore', 'add' or 'project'. Defaults to 'project'.
        use_bn (bool): BatchNorm in the residual conv units. Defaults to False (official
            depth models).
        head_channels (int): Width of the last hidden conv. Defaults to 32.
        depth_activation (str): See :func:`dpt_depth_output`. Defaults to 'inverse'.
        inverse_scale (float): ``s``. Defaults to 1.0.
        inverse_shift (float): ``t``. Defaults to 0.0.
        inverse_eps (float): ``ε``. Defaults to 1e-8.
        non_negative (bool): Official ``non_negative``: ReLU on ``z`` before 'inverse' /
            'disparity'. Defaults to True.
        **kwargs: :class:`DepthBaseHead` arguments (``in_channels`` = the backbone's
            channels per level, ``channels`` = F (official ``features``, 256), ...).
    """

    def __init__(self,
                 post_process_channels: Sequence[int] = (256, 512, 768, 768),
                 reassemble_scales: Sequence[Optional[float]] = (None, None, 1, 0.5),
                 readout_type: str = 'project',
                 use_bn: bool = False,
                 head_channels: int = 32,
                 depth_activation: str = 'inverse',
                 inverse_scale: float = 1.0,
                 inverse_shift: float = 0.0,
                 inverse_eps: float = 1e-8,
                 non_negative: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        n = len(self.in_channels)
        if not len(post_process_channels) == len(reassemble_scales) == n:
            raise ValueError(f'{_WHERE}: in_channels, post_process_channels and '
                             f'reassemble_scales need one entry per level ({n}), got '
                             f'{list(post_process_channels)} and {list(reassemble_scales)}')
        if depth_activation not in DPT_DEPTH_ACTIVATIONS:
            raise ValueError(f'{_WHERE}: depth_activation {depth_activation!r} is unknown; '
                             f'use one of {DPT_DEPTH_ACTIVATIONS}')
        self.post_process_channels = [int(c) for c in post_process_channels]
        self.reassemble_scales = list(reassemble_scales)
        self.readout_type = readout_type
        self.depth_activation = depth_activation
        self.inverse_scale = float(inverse_scale)
        self.inverse_shift = float(inverse_shift)
        self.inverse_eps = float(inverse_eps)
        self.non_negative = bool(non_negative)
        self.reassemble = nn.ModuleList()
        for cin, cout, scale in zip(self.in_channels, self.post_process_channels,
                                    self.reassemble_scales):
            if scale is None:
                if cin != cout:
                    raise ValueError(f'{_WHERE}: a pass-through level (scale None) needs '
                                     f'in_channels == post_process_channels, got {cin} and '
                                     f'{cout}')
                self.reassemble.append(nn.Identity())
            else:
                self.reassemble.append(DPTReassembleLevel(cin, cout, scale, readout_type))
        f = self.channels
        self.layer_rn = nn.ModuleList(
            nn.Conv2d(c, f, 3, padding=1, bias=False) for c in self.post_process_channels)
        self.fusion = nn.ModuleList(
            DPTFusionBlock(f, with_skip=i < n - 1, use_bn=use_bn) for i in range(n))
        self.depth_head = nn.Sequential(
            nn.Conv2d(f, f // 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True),
            nn.Conv2d(f // 2, head_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, 1))

    def _level(self, i: int, item) -> Tuple[Tensor, Optional[Tensor]]:
        if isinstance(item, (list, tuple)):
            if len(item) != 2:
                raise ValueError(f'{_WHERE}: level {i} is a sequence of {len(item)} items; '
                                 'expected [tokens, cls_token]')
            return item[0], item[1]
        return item, None

    def reassembled(self, inputs: Sequence) -> List[Tensor]:
        """The four reassembled maps r_l, (B, C'_l, H/s_l, W/s_l)."""
        if len(inputs) <= max(self.in_index):
            raise IndexError(f'{_WHERE}: in_index {self.in_index} but the backbone/neck '
                             f'returned {len(inputs)} levels')
        out = []
        for i, (idx, ch) in enumerate(zip(self.in_index, self.in_channels)):
            x, cls = self._level(idx, inputs[idx])
            if x.shape[1] != ch:
                raise ValueError(f'{_WHERE}: level {idx} has {x.shape[1]} channels but '
                                 f'in_channels says {ch}; fix decode_head.in_channels')
            if self.reassemble_scales[i] is None:
                out.append(x)
            else:
                out.append(self.reassemble[i](x, cls))
        return out

    def forward_logits(self, inputs: Sequence) -> Tensor:
        """The raw output ``z`` (B, 1, 2h, 2w) for (h, w) the finest reassembled level."""
        q = [conv(r) for conv, r in zip(self.layer_rn, self.reassembled(inputs))]
        path = self.fusion[-1](q[-1])
        for i in range(len(q) - 2, -1, -1):
            path = self.fusion[i](path, q[i])
        return self.depth_head(path)

    def forward(self, inputs: Sequence) -> Tensor:
        """Depth in metres, (B, 1, H, W) at the input resolution (stride-4 finest level)."""
        return dpt_depth_output(self.forward_logits(inputs), self.depth_activation,
                                self.min_depth, self.max_depth, self.inverse_scale,
                                self.inverse_shift, self.inverse_eps, self.non_negative)
