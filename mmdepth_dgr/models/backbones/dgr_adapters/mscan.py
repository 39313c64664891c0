"""DGR host adapter for mmseg's ``MSCAN`` (SegNeXt's encoder).

This file is the worked example of configs/dgr/README.md ("DGR on a new host"): a host
is supported by one adapter class that states the widths and re-runs the host's
``forward`` with a ``refine`` call at every block and stage end.
"""
from typing import List

import torch
import torch.nn as nn
from mmseg.models.backbones import MSCAN

from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['MSCANAdapter']


@DGR_HOST_ADAPTERS.register_module()
class MSCANAdapter(DGRHostAdapter):
    """MSCAN: stage ``i`` is ``patch_embed{i+1}``, the ``MSCABlock`` list ``block{i+1}``
    and ``norm{i+1}``; every stage is an output.

    Refinement points (mmseg 1.2.2's ``MSCAN.forward``): block ``(i, j)`` after block
    ``j`` of stage ``i``, on its ``(B, H*W, C)`` tokens; stage ``i`` after the stage's
    norm, on the NCHW map that is both output ``i`` and the next stage's input.
    """

    host_class = MSCAN

    def stage_channels(self, host: nn.Module) -> List[int]:
        # MSCAN keeps no embed_dims attribute; each stage ends in LayerNorm(width).
        return [getattr(host, f'norm{i + 1}').normalized_shape[0]
                for i in range(host.num_stages)]

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        return [[c] * len(getattr(host, f'block{i + 1}'))
                for i, c in enumerate(self.stage_channels(host))]

    def out_channels(self, host: nn.Module) -> List[int]:
        return self.stage_channels(host)

    def forward(self, host: nn.Module, x: torch.Tensor,
                refine: RefineFn) -> List[torch.Tensor]:
        B = x.shape[0]
        outs = []
        for i in range(host.num_stages):
            x, H, W = getattr(host, f'patch_embed{i + 1}')(x)
            for j, blk in enumerate(getattr(host, f'block{i + 1}')):
                x = blk(x, H, W)
                x = refine(x, i, j, (H, W))
            x = getattr(host, f'norm{i + 1}')(x)
            x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            x = refine(x, i)
            outs.append(x)
        return outs
