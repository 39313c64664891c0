"""DGR host adapter for mmseg's ``ResNet`` (and ResNetV1c/V1d/ResNeXt, same forward)."""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmseg.models.backbones import ResNet

from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['ResNetAdapter']


@DGR_HOST_ADAPTERS.register_module()
class ResNetAdapter(DGRHostAdapter):
    """ResNet: stage ``i`` is residual layer ``res_layers[i]`` (a sequence of
    ``BasicBlock``/``Bottleneck`` residual blocks).

    Refinement points (mmseg 1.2.2's ``ResNet.forward``, the residual layer's
    ``nn.Sequential`` loop unrolled): block ``(i, j)`` after residual block ``j`` of
    layer ``i``; stage ``i`` after the layer (the place of its last block point). The
    stem is not refined. Subclasses that keep ``ResNet.forward`` (``ResNetV1c``,
    ``ResNetV1d``, ``ResNeXt``) use this adapter.
    """

    host_class = ResNet

    def stage_channels(self, host: nn.Module) -> List[int]:
        return [host.block.expansion * host.base_channels * 2**i
                for i in range(len(host.res_layers))]

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        return [[c] * len(getattr(host, name))
                for c, name in zip(self.stage_channels(host), host.res_layers)]

    def out_channels(self, host: nn.Module) -> List[int]:
        chans = self.stage_channels(host)
        return [chans[i] for i in host.out_indices]

    def forward(self, host: nn.Module, x: torch.Tensor,
                refine: RefineFn) -> Tuple[torch.Tensor, ...]:
        if host.deep_stem:
            x = host.stem(x)
        else:
            x = host.conv1(x)
            x = host.norm1(x)
            x = host.relu(x)
        x = host.maxpool(x)
        outs = []
        for i, layer_name in enumerate(host.res_layers):
            for j, block in enumerate(getattr(host, layer_name)):
                x = block(x)
                x = refine(x, i, j)
            x = refine(x, i)
            if i in host.out_indices:
                outs.append(x)
        return tuple(outs)
