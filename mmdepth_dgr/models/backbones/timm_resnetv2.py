"""timm's ResNetV2 as a multi-stage encoder: the CNN half of the R50+ViT-B/16 hybrid of
DPT-Hybrid (Ranftl et al., ICCV 2021), as timm 0.4.5 (the version DPT pins) defines it.

``timm.create_model('vit_base_resnet50_384')`` in timm 0.4.5 builds the hybrid's CNN as
``ResNetV2(layers=(3, 4, 9), num_classes=0, global_pool='', preact=False, stem_type='same',
conv_layer=StdConv2dSame)``: a 7×7/2 stem with TF-"same" padding, GroupNorm(32)+ReLU, a
3×3/2 "same" max-pool, then three stages of non-pre-activation bottlenecks (stride on the
3×3 conv) whose convolutions are weight-standardised. timm 1.0.31 still has this network
(``timm.models.resnetv2.ResNetV2``; ``vit_base_r50_s16_384`` builds it) with the same
module names, but its ``StdConv2dSame`` standardises as ``(w − μ) / √(σ² + ε)`` with
ε = 1e-8, while timm 0.4.5 — and the weights DPT trained — use ``(w − μ) / (σ + ε)`` with
ε = 1e-5 (σ: the biased standard deviation over ``(C_in, k, k)`` of each output channel).
The two differ by about 1e-3 relative at stage 3 (measured with random weights), so
:class:`StdConv2dSameLegacy` keeps timm's class and padding and restores the 0.4.5 formula;
everything else is timm's own ``ResNetV2`` (tested bit-identical to timm 0.4.5's).
"""
from functools import partial
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from timm.layers import StdConv2dSame
from timm.layers.padding import pad_same
from timm.models.resnetv2 import ResNetV2

__all__ = ['TIMMResNetV2', 'StdConv2dSameLegacy', 'legacy_standardized_weight']

_WHERE = 'mmdepth_dgr/models/backbones/timm_resnetv2.py'


def legacy_standardized_weight(weight: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Weight standardisation of timm ≤ 0.4: ``(w − mean) / (std + eps)`` per output channel.

    Args:
        weight (Tensor): (C_out, C_in, k, k) convolution weight.
        eps (float): Added to the biased standard deviation. Defaults to 1e-5.

    Returns:
        Tensor: The standardised weight, same shape.
    """
    std, mean = torch.std_mean(weight, dim=[1, 2, 3], keepdim=True, unbiased=False)
    return (weight - mean) / (std + eps)


class StdConv2dSameLegacy(StdConv2dSame):
    """timm's ``StdConv2dSame`` (TF "same" padding) with timm 0.4's standardisation
    (:func:`legacy_standardized_weight`, ε = 1e-5 by default)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad:
            x = pad_same(x, self.kernel_size, self.stride, self.dilation)
        return F.conv2d(x, legacy_standardized_weight(self.weight, self.eps), self.bias,
                        self.stride, self.padding, self.dilation, self.groups)


_STD_CONVS = {'legacy': StdConv2dSameLegacy, 'timm': StdConv2dSame}


@MODELS.register_module()
class TIMMResNetV2(BaseModule):
    """timm ``ResNetV2`` returning the outputs of its stages (no classifier, no final norm).

    The timm network is ``self.model`` (state-dict prefix ``model.``, then timm's names:
    ``stem.conv``, ``stem.norm``, ``stages.{i}.blocks.{j}.{conv1,norm1,...,downsample}``).

    Args:
        layers (Sequence[int]): Blocks per stage. Defaults to (3, 4, 9) (the R50 hybrid:
            three stages, strides 4, 8, 16, channels 256, 512, 1024).
        out_indices (Sequence[int]): Stages to return. Defaults to (0, 1, 2).
        stem_type (str): timm stem type. Defaults to 'same' (ViT hybrid).
        preact (bool): Pre-activation blocks. Defaults to False (ViT hybrid).
        std_conv (str): ``'legacy'`` (timm 0.4.5 / DPT, see the module docstring) or
            ``'timm'`` (timm 1.0's ``StdConv2dSame``). Defaults to 'legacy'.
        std_conv_eps (float): ε of the weight standardisation. Defaults to 1e-5
            (timm 0.4.5; timm 1.0's own hybrid uses 1e-8 with ``std_conv='timm'``).
        width_factor (int): timm's channel multiplier. Defaults to 1.
        in_channels (int): Input channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): mmengine init config. Defaults to None.

    Attributes:
        out_channels (List[int]): Channels of each returned map.
        out_strides (List[int]): Stride of each returned map w.r.t. the input.
    """

    def __init__(self,
                 layers: Sequence[int] = (3, 4, 9),
                 out_indices: Sequence[int] = (0, 1, 2),
                 stem_type: str = 'same',
                 preact: bool = False,
                 std_conv: str = 'legacy',
                 std_conv_eps: float = 1e-5,
                 width_factor: int = 1,
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if std_conv not in _STD_CONVS:
            raise ValueError(f'{_WHERE}: std_conv {std_conv!r} is unknown; use one of '
                             f'{sorted(_STD_CONVS)}')
        layers = [int(n) for n in layers]
        self.model = ResNetV2(layers=layers, num_classes=0, global_pool='',
                              in_chans=in_channels, preact=preact, stem_type=stem_type,
                              width_factor=width_factor,
                              conv_layer=partial(_STD_CONVS[std_conv], eps=std_conv_eps))
        n = len(self.model.stages)
        out_indices = sorted(set(int(i) for i in out_indices))
        bad = [i for i in out_indices if not 0 <= i < n]
        if bad:
            raise ValueError(f'{_WHERE}: out_indices {bad} out of range for {n} stages')
        self.out_indices = out_indices
        # feature_info[0] is the stem; stage i is feature_info[i + 1].
        info = self.model.feature_info
        self.out_channels = [int(info[i + 1]['num_chs']) for i in out_indices]
        self.out_strides = [int(info[i + 1]['reduction']) for i in out_indices]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """(B, C, H, W) -> the outputs of the stages in ``out_indices``."""
        x = self.model.stem(x)
        outs = []
        for i, stage in enumerate(self.model.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return outs
