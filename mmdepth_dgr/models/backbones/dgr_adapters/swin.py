"""DGR host adapter for mmseg's ``SwinTransformer`` (NeWCRFs, PixelFormer, Swin-Depth)."""
from typing import List

import torch
import torch.nn as nn
from mmseg.models.backbones import SwinTransformer

from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['SwinTransformerAdapter']


@DGR_HOST_ADAPTERS.register_module()
class SwinTransformerAdapter(DGRHostAdapter):
    """Swin: stage ``i`` is ``stages[i]`` (``SwinBlockSequence``: blocks, then
    ``PatchMerging``); output ``i`` is ``norm_i`` of the stage's pre-merging map.

    Refinement points (mmseg 1.2.2's ``SwinTransformer.forward`` with
    ``SwinBlockSequence.forward`` split at the downsampling), all on ``(B, H*W, C)``
    tokens:

    * block ``(i, j)``: after Swin block ``j`` (W-MSA / SW-MSA + MLP) of stage ``i``;
    * stage ``i``: after the stage's last block, before ``PatchMerging`` and ``norm_i``
      (the same place as its last block point).
    """

    host_class = SwinTransformer

    def stage_channels(self, host: nn.Module) -> List[int]:
        return list(host.num_features)

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        return [[c] * len(stage.blocks)
                for c, stage in zip(host.num_features, host.stages)]

    def out_channels(self, host: nn.Module) -> List[int]:
        return [host.num_features[i] for i in host.out_indices]

    def forward(self, host: nn.Module, x: torch.Tensor,
                refine: RefineFn) -> List[torch.Tensor]:
        x, hw_shape = host.patch_embed(x)
        if host.use_abs_pos_embed:
            x = x + host.absolute_pos_embed
        x = host.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(host.stages):
            for j, block in enumerate(stage.blocks):
                x = block(x, hw_shape)
                x = refine(x, i, j, hw_shape)
            x = refine(x, i, None, hw_shape)
            out, out_hw_shape = x, hw_shape
            if stage.downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
            if i in host.out_indices:
                out = getattr(host, f'norm{i}')(out)
                out = out.view(-1, *out_hw_shape,
                               host.num_features[i]).permute(0, 3, 1, 2).contiguous()
                outs.append(out)
        return outs
