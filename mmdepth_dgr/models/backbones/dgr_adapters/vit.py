"""DGR host adapter for mmseg's ``VisionTransformer`` (DPT, TransDepth)."""
from typing import List

import torch
import torch.nn as nn
from mmseg.models.backbones import VisionTransformer

from .base import DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn

__all__ = ['VisionTransformerAdapter']


@DGR_HOST_ADAPTERS.register_module()
class VisionTransformerAdapter(DGRHostAdapter):
    """ViT: a plain (non-hierarchical) transformer; stage ``i`` is layer ``i`` and is
    its one block.

    Refinement points (mmseg 1.2.2's ``VisionTransformer.forward``), on the patch tokens
    reshaped to the ``(H/p, W/p)`` grid (the class token passes through unchanged):

    * block ``(i, 0)``: after transformer layer ``i`` (before ``final_norm`` on the last
      layer);
    * stage ``i``: after layer ``i``, and after ``final_norm`` on the last layer.

    ``out_origin`` (the pre-layer output) is never refined. With ``placement='stage'``
    the default stages are ``out_indices`` (the layers a decode head reads); with
    ``placement='block'`` every layer.
    """

    host_class = VisionTransformer

    def stage_channels(self, host: nn.Module) -> List[int]:
        return [host.cls_token.shape[-1]] * len(host.layers)

    def block_channels(self, host: nn.Module) -> List[List[int]]:
        return [[c] for c in self.stage_channels(host)]

    def out_channels(self, host: nn.Module) -> List[int]:
        width = host.cls_token.shape[-1]
        return [width] * (len(host.out_indices) + int(bool(host.out_origin)))

    def default_stages(self, host: nn.Module, placement: str) -> List[int]:
        if placement == 'stage':
            return sorted(int(i) for i in host.out_indices)
        return super().default_stages(host, placement)

    def forward(self, host: nn.Module, inputs: torch.Tensor, refine: RefineFn) -> tuple:
        B = inputs.shape[0]
        x, hw_shape = host.patch_embed(inputs)
        cls_tokens = host.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = host._pos_embeding(x, hw_shape, host.pos_embed)
        if not host.with_cls_token:
            x = x[:, 1:]
        if host.pre_norm:
            x = host.pre_ln(x)

        def patch_refine(x, i, block):
            if not host.with_cls_token:
                return refine(x, i, block, hw_shape)
            patches = x[:, 1:]
            tokens = refine(patches, i, block, hw_shape)
            return x if tokens is patches else torch.cat((x[:, :1], tokens), dim=1)

        def to_out(x):
            out = x[:, 1:] if host.with_cls_token else x
            out = out.reshape(B, hw_shape[0], hw_shape[1],
                              out.shape[-1]).permute(0, 3, 1, 2).contiguous()
            return [out, x[:, 0]] if host.output_cls_token else out

        outs = []
        if host.out_origin:
            outs.append(to_out(x))
        for i, layer in enumerate(host.layers):
            x = layer(x)
            x = patch_refine(x, i, 0)
            if i == len(host.layers) - 1 and host.final_norm:
                x = host.norm1(x)
            x = patch_refine(x, i, None)
            if i in host.out_indices:
                outs.append(to_out(x))
        return tuple(outs)
