"""A CNN stem whose deepest map is tokenised by a ViT: the "R50+ViT" hybrid encoders of
DPT-Hybrid and TransDepth (Dosovitskiy et al., ICLR 2021, Sec. 3.1 "Hybrid Architecture").

The hybrid is two registered backbones composed, nothing else::

    f_1 .. f_K = CNN(x)                       multi-stage maps, f_K at stride s_K
    t_l        = ViT(f_K)                     the ViT's "patch embedding" is a 1×1 conv on
                                              f_K (``in_channels = C_K, patch_size = 1``)
    outputs    = [f_i for i in cnn_out_indices] + ViT outputs

so the ViT part is an ordinary mmseg ``VisionTransformer`` (or a subclass), which
:class:`~mmdepth_dgr.models.backbones.DGRBackbone` can wrap: a ``-dgr`` config changes
``vit=dict(type='DGRBackbone', host_type=...)`` and nothing else.
"""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS

__all__ = ['CNNViTHybrid', 'vit_out_channels']

_WHERE = 'mmdepth_dgr/models/backbones/cnn_vit_hybrid.py'


def vit_out_channels(vit: torch.nn.Module) -> List[int]:
    """Channels of each output of an mmseg ``VisionTransformer`` (or a wrapper of one
    that reports ``out_channels``, e.g. ``DGRBackbone``)."""
    if hasattr(vit, 'out_channels'):
        return [int(c) for c in vit.out_channels]
    if hasattr(vit, 'out_indices') and hasattr(vit, 'cls_token'):
        dims = int(vit.cls_token.shape[-1])
        return [dims] * (len(vit.out_indices) + int(bool(getattr(vit, 'out_origin', False))))
    raise TypeError(f'{_WHERE}: cannot tell the output channels of {type(vit).__name__}; '
                    'use an mmseg VisionTransformer or a module with out_channels')


@MODELS.register_module()
class CNNViTHybrid(BaseModule):
    """Run a CNN, tokenise its deepest map with a ViT, return chosen CNN maps + ViT outputs.

    Args:
        cnn (dict): Config of a backbone returning a list of maps and reporting
            ``out_channels`` / ``out_strides`` (e.g. ``TIMMResNetV2``,
            ``TransUNetResNetV2``); its *last* map is the ViT's input.
        vit (dict): Config of an mmseg ``VisionTransformer`` (or subclass / DGR wrapper)
            with ``in_channels`` = the CNN's last channels and ``patch_size=1``.
        cnn_out_indices (Sequence[int]): Which CNN maps are also outputs (before the ViT
            outputs). Defaults to (0, 1).
        init_cfg (dict | list[dict], optional): mmengine init config. Defaults to None.

    Attributes:
        out_channels (List[int]): Channels of each output.
        out_strides (List[int]): Stride of each output w.r.t. the input.
    """

    def __init__(self,
                 cnn: dict,
                 vit: dict,
                 cnn_out_indices: Sequence[int] = (0, 1),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.cnn = MODELS.build(cnn)
        self.vit = MODELS.build(vit)
        for attr in ('out_channels', 'out_strides'):
            if not hasattr(self.cnn, attr):
                raise TypeError(f'{_WHERE}: the CNN {type(self.cnn).__name__} must report '
                                f'{attr}')
        n = len(self.cnn.out_channels)
        cnn_out_indices = [int(i) for i in cnn_out_indices]
        bad = [i for i in cnn_out_indices if not 0 <= i < n]
        if bad:
            raise ValueError(f'{_WHERE}: cnn_out_indices {bad} out of range for a CNN with '
                             f'{n} outputs')
        self.cnn_out_indices = cnn_out_indices
        patch = getattr(self.vit, 'patch_size', None)
        if patch is None and hasattr(self.vit, 'backbone'):  # DGRBackbone
            patch = getattr(self.vit.backbone, 'patch_size', None)
        patch = 1 if patch is None else int(patch)
        vit_chs = vit_out_channels(self.vit)
        self.out_channels = [self.cnn.out_channels[i] for i in cnn_out_indices] + vit_chs
        self.out_strides = ([self.cnn.out_strides[i] for i in cnn_out_indices] +
                            [self.cnn.out_strides[-1] * patch] * len(vit_chs))

    def forward(self, x: torch.Tensor) -> list:
        """CNN maps (B, C_i, H/s_i, W/s_i) then the ViT outputs (maps, or
        ``[map, cls_token]`` pairs when the ViT outputs its class token)."""
        feats = self.cnn(x)
        return [feats[i] for i in self.cnn_out_indices] + list(self.vit(feats[-1]))
