"""DGR host adapter for mmseg's ``MixVisionTransformer`` (SegFormer MiT; DepthFormer)."""
from typing import List

import torch
import torch.nn as nn
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.utils import nlc_to_nchw

from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['MixVisionTransformerAdapter']


@DGR_HOST_ADAPTERS.register_module()
class MixVisionTransformerAdapter(DGRHostAdapter):
    """MiT: stage ``i`` is ``layers[i]`` = (patch embedding, transformer blocks, norm).

    Refinement points (mmseg 1.2.2's ``MixVisionTransformer.forward``):

    * block ``(i, j)``: after transformer block ``j`` of stage ``i``, on its
      ``(B, H*W, C)`` tokens (before the stage's final norm);
    * stage ``i``: after the stage's final norm, on the NCHW map that is both output
      ``i`` and the next patch embedding's input.
    """

    host_class = MixVisionTransformer

    def stage_channels(self, host: nn.Module) -> List[int]:
        return [host.embed_dims * h for h in host.num_heads[:host.num_stages]]

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        return [[c] * len(layer[1])
                for c, layer in zip(self.stage_channels(host), host.layers)]

    def out_channels(self, host: nn.Module) -> List[int]:
        chans = self.stage_channels(host)
        return [chans[i] for i in host.out_indices]

    def forward(self, host: nn.Module, x: torch.Tensor,
                refine: RefineFn) -> List[torch.Tensor]:
        outs = []
        for i, layer in enumerate(host.layers):
            x, hw_shape = layer[0](x)
            for j, block in enumerate(layer[1]):
                x = block(x, hw_shape)
                x = refine(x, i, j, hw_shape)
            x = layer[2](x)
            x = nlc_to_nchw(x, hw_shape)
            x = refine(x, i)
            if i in host.out_indices:
                outs.append(x)
        return outs
