"""mmseg's ``MixVisionTransformer`` with the LayerNorm epsilons of SegFormer's own code.

mmseg builds every LayerNorm of MiT from one ``norm_cfg`` (ε = 1e-6). SegFormer's released
``mix_transformer.py`` (Xie et al., NeurIPS 2021; copied unchanged into the official
Depthformer of Agarwal & Arora, ICIP 2022) passes ``partial(nn.LayerNorm, eps=1e-6)`` only
to the blocks and the stage-end norms; the patch-embedding norm (``OverlapPatchEmbed.norm``)
and the spatial-reduction norm of the attention (``Attention.norm``) are plain
``nn.LayerNorm`` with ε = 1e-5. Networks trained with that code see ε = 1e-5 there, so this
subclass sets those two kinds of norm after mmseg builds the network (the module
structure, forward and weights are mmseg's; :class:`DGRBackbone` wraps it as any MiT).
"""
from mmseg.models.backbones import MixVisionTransformer
from mmseg.registry import MODELS

__all__ = ['SegFormerMiT']


@MODELS.register_module()
class SegFormerMiT(MixVisionTransformer):
    """MiT whose patch-embedding and spatial-reduction LayerNorms use SegFormer's ε.

    Args:
        patch_norm_eps (float): ε of each stage's patch-embedding LayerNorm.
            Defaults to 1e-5 (SegFormer's code; mmseg: 1e-6).
        sr_norm_eps (float): ε of the LayerNorm after each attention's spatial-reduction
            conv. Defaults to 1e-5 (SegFormer's code; mmseg: 1e-6).
        **kwargs: mmseg ``MixVisionTransformer`` arguments (its ``norm_cfg`` still sets
            the block and stage-end norms; SegFormer: ε = 1e-6).

    Attributes:
        out_channels (List[int]): Channels of each returned stage.
        out_strides (List[int]): Their strides w.r.t. the input.
    """

    def __init__(self, patch_norm_eps: float = 1e-5, sr_norm_eps: float = 1e-5,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.patch_norm_eps = float(patch_norm_eps)
        self.sr_norm_eps = float(sr_norm_eps)
        for patch_embed, blocks, _ in self.layers:
            patch_embed.norm.eps = self.patch_norm_eps
            for block in blocks:
                if hasattr(block.attn, 'norm'):  # only stages with sr_ratio > 1
                    block.attn.norm.eps = self.sr_norm_eps
        strides, stride = [], 1
        for s in self.strides:
            stride *= s
            strides.append(stride)
        self.out_channels = [self.embed_dims * self.num_heads[i] for i in self.out_indices]
        self.out_strides = [strides[i] for i in self.out_indices]
