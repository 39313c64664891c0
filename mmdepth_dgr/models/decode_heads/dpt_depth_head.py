"""DPT depth head (Ranftl, Bochkovskiy, Koltun, "Vision Transformers for Dense Prediction",
ICCV 2021) on mmseg's ``VisionTransformer``.

The reassemble and fusion stages are mmseg's own DPT building blocks
(``mmseg.models.decode_heads.dpt_head.ReassembleBlocks`` / ``FeatureFusionBlock``,
imported, not copied); this file adds the depth output head of the DPT paper (Sec. 3,
"monocular depth estimation" head)::

    r_l  = Reassemble_l(tokens_l)               l = 1..4, strides 4, 8, 16, 32
    f_4  = Fusion_4(Conv3×3(r_4));  f_l = Fusion_l(f_{l+1}, Conv3×3(r_l))   (stride 2)
    z    = Conv1×1_{32→1}(ReLU(Conv3×3_{C/2→32}(Up×2(Conv3×3_{C→C/2}(f_1)))))  (stride 1)

Depth output (``depth_activation``). DPT predicts *relative inverse depth* and, for the
metric NYU/KITTI models, fine-tunes that output with a fixed affine map then inverts it
(``depth = 1 / (s · ReLU(z) + t)``, official ``DPTDepthModel(invert=True)``; the
constants were fitted to their relative-depth pre-training). This port trains metric
depth from ImageNet ViT weights, so the default is the bounded output shared by the
other heads of this project (NeWCRFs-style)::

    'sigmoid' (default): depth = d_min + σ(z) · (d_max − d_min)
    'relu':              depth = d_min + ReLU(z)          (DPT's non-negative head)
    'inverse':           depth = 1 / max(s · ReLU(z) + t, 1 / d_max), then ≥ d_min
                         (DPT's metric fine-tuning form, with a floor of 1/d_max on the
                         denominator instead of the official 1e-8)

Differences from the official DPT worth knowing: mmseg's residual conv units have no
conv bias (the official ones do when ``use_bn=False``) and the hybrid ResNet-50 stem of
DPT-Hybrid is not available in mmseg, so the configs use plain ViT-B/16 and ViT-L/16
(DPT-Base / DPT-Large layouts).
"""
import math
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.dpt_head import FeatureFusionBlock, ReassembleBlocks
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead, bounded_depth

__all__ = ['DPTDepthHead', 'dpt_depth_output', 'DPT_DEPTH_ACTIVATIONS']

_WHERE = 'mmdepth_dgr/models/decode_heads/dpt_depth_head.py'
DPT_DEPTH_ACTIVATIONS = ('sigmoid', 'relu', 'inverse')


def dpt_depth_output(logits: Tensor, min_depth: float, max_depth: float,
                     activation: str = 'sigmoid', inverse_scale: float = 1.0,
                     inverse_shift: float = 0.0) -> Tensor:
    """Map the DPT head's raw output to metric depth (see the module docstring).

    Args:
        logits (Tensor): (B, 1, H, W) raw output ``z``.
        min_depth (float): Lower bound, metres.
        max_depth (float): Upper bound, metres.
        activation (str): One of ``DPT_DEPTH_ACTIVATIONS``. Defaults to 'sigmoid'.
        inverse_scale (float): ``s`` of the 'inverse' form. Defaults to 1.0.
        inverse_shift (float): ``t`` of the 'inverse' form. Defaults to 0.0.

    Returns:
        Tensor: (B, 1, H, W) depth in metres.
    """
    if activation in ('sigmoid', 'relu'):
        return bounded_depth(logits, min_depth, max_depth, activation)
    if activation == 'inverse':
        inv = inverse_scale * torch.relu(logits) + inverse_shift
        return (1.0 / inv.clamp(min=1.0 / max_depth)).clamp(min=min_depth)
    raise ValueError(f'{_WHERE}: depth_activation {activation!r} is unknown; use one of '
                     f'{DPT_DEPTH_ACTIVATIONS}')


@MODELS.register_module()
class DPTDepthHead(DepthBaseHead):
    """DPT reassemble + fusion decoder with the DPT depth output head.

    Reads four ViT levels, each either ``[tokens (B, C, h, w), cls (B, C)]`` (mmseg ViT
    with ``output_cls_token=True``, needed by the 'project'/'add' readouts) or a plain
    ``(B, C, h, w)`` map (only with ``readout_type='ignore'``).

    Args:
        embed_dims (int): ViT width. Defaults to 768.
        post_process_channels (Sequence[int]): Reassemble widths per level.
            Defaults to (96, 192, 384, 768) (DPT-Base; DPT-Large: 256, 512, 1024, 1024).
        readout_type (str): 'ignore', 'add' or 'project'. Defaults to 'project'.
        patch_size (int): ViT patch size. Defaults to 16.
        expand_channels (bool): As mmseg's ``DPTHead``. Defaults to False.
        head_channels (int): Width of the last hidden conv of the depth head.
            Defaults to 32.
        fusion_norm_cfg (dict, optional): Norm of the residual conv units. Defaults to
            None (official DPT depth models: ``use_bn=False``).
        act_cfg (dict): Activation of the residual conv units. Defaults to ReLU.
        depth_activation (str): See :func:`dpt_depth_output`. Defaults to 'sigmoid'.
        inverse_scale (float): ``s`` of the 'inverse' output. Defaults to 1.0.
        inverse_shift (float): ``t`` of the 'inverse' output. Defaults to 0.0.
        **kwargs: :class:`DepthBaseHead` arguments (``in_channels``, ``channels``, ...).
    """

    def __init__(self,
                 embed_dims: int = 768,
                 post_process_channels: Sequence[int] = (96, 192, 384, 768),
                 readout_type: str = 'project',
                 patch_size: int = 16,
                 expand_channels: bool = False,
                 head_channels: int = 32,
                 fusion_norm_cfg: dict = None,
                 act_cfg: dict = dict(type='ReLU'),
                 depth_activation: str = 'sigmoid',
                 inverse_scale: float = 1.0,
                 inverse_shift: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if len(self.in_channels) != 4 or len(post_process_channels) != 4:
            raise ValueError(f'{_WHERE}: DPTDepthHead reassembles exactly 4 levels; got '
                             f'in_channels={self.in_channels}, post_process_channels='
                             f'{list(post_process_channels)}')
        if readout_type not in ('ignore', 'add', 'project'):
            raise ValueError(f'{_WHERE}: readout_type {readout_type!r} is unknown; use '
                             "'ignore', 'add' or 'project'")
        if depth_activation not in DPT_DEPTH_ACTIVATIONS:
            raise ValueError(f'{_WHERE}: depth_activation {depth_activation!r} is unknown; '
                             f'use one of {DPT_DEPTH_ACTIVATIONS}')
        self.readout_type = readout_type
        self.depth_activation = depth_activation
        self.inverse_scale = float(inverse_scale)
        self.inverse_shift = float(inverse_shift)
        self.reassemble_blocks = ReassembleBlocks(embed_dims, list(post_process_channels),
                                                  readout_type, patch_size)
        post = [int(c * math.pow(2, i)) if expand_channels else int(c)
                for i, c in enumerate(post_process_channels)]
        self.convs = nn.ModuleList(
            ConvModule(c, self.channels, 3, padding=1, act_cfg=None, bias=False)
            for c in post)
        self.fusion_blocks = nn.ModuleList(
            FeatureFusionBlock(self.channels, act_cfg, fusion_norm_cfg)
            for _ in range(len(post)))
        # The coarsest block fuses nothing (mmseg's DPTHead does the same).
        self.fusion_blocks[0].res_conv_unit1 = None
        half = self.channels // 2
        self.depth_head = nn.Sequential(
            nn.Conv2d(self.channels, half, 3, padding=1),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True),
            nn.Conv2d(half, head_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, 1))

    def _select_vit_inputs(self, inputs: Sequence) -> List[List[Tensor]]:
        """Selected levels as ``[tokens (B, C, h, w), cls (B, C)]`` pairs."""
        if len(inputs) <= max(self.in_index):
            raise IndexError(f'{_WHERE}: in_index {self.in_index} but the backbone/neck '
                             f'returned {len(inputs)} levels')
        out = []
        for idx, ch in zip(self.in_index, self.in_channels):
            item = inputs[idx]
            if isinstance(item, (list, tuple)):
                if len(item) != 2:
                    raise ValueError(f'{_WHERE}: level {idx} is a sequence of {len(item)} '
                                     'items; expected [tokens, cls_token]')
                x, cls = item
            else:
                x, cls = item, None
            if x.shape[1] != ch:
                raise ValueError(f'{_WHERE}: level {idx} has {x.shape[1]} channels but '
                                 f'in_channels says {ch}; fix decode_head.in_channels')
            if cls is None:
                if self.readout_type != 'ignore':
                    raise ValueError(
                        f'{_WHERE}: readout_type={self.readout_type!r} needs the class '
                        'token; set backbone.output_cls_token=True (and with_cls_token)')
                cls = x.new_zeros(x.shape[:2])
            out.append([x, cls])
        return out

    def forward(self, inputs: Sequence) -> Tensor:
        """Depth in metres, (B, 1, 2h, 2w) for (h, w) the stride-4 reassembled map
        (the input resolution for patch 16)."""
        x = self.reassemble_blocks(self._select_vit_inputs(inputs))
        x = [conv(f) for conv, f in zip(self.convs, x)]
        out = self.fusion_blocks[0](x[-1])
        for i in range(1, len(self.fusion_blocks)):
            out = self.fusion_blocks[i](out, x[-(i + 1)])
        return dpt_depth_output(self.depth_head(out), self.min_depth, self.max_depth,
                                self.depth_activation, self.inverse_scale,
                                self.inverse_shift)
