"""mmseg's ``VisionTransformer`` without position embedding and class token.

TransUNet's hybrid encoder (used by TransDepth, Yang et al., ICCV 2021) tokenises the
1/16 ResNet map with a 1×1 convolution and feeds the tokens to the transformer *as they
are*: its position-embedding parameter is commented out of the released code and there is
no class token (``networks/vit_seg_modeling.py``, ``Embeddings``)::

    z_0 = Dropout(Conv_{1×1}(f_16))          (no E_pos, no [CLS])
    z_l = MLP(LN(z'_l)) + z'_l,  z'_l = MSA(LN(z_{l−1})) + z_{l−1}
    out = LN(z_L)                            (final_norm)

This class is mmseg's ``VisionTransformer`` (its layers, patch embedding, forward and
init are reused unchanged) with the two tensors turned into non-persistent zero buffers
and the position-embedding step reduced to the dropout, so that nothing learnable is left
unused and checkpoints hold no such keys. Because ``forward`` is mmseg's,
:class:`~mmdepth_dgr.models.backbones.DGRBackbone` wraps it like any mmseg ViT.
"""
import torch
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS

__all__ = ['VisionTransformerNoPos']

_WHERE = 'mmdepth_dgr/models/backbones/vit_no_pos_embed.py'


@MODELS.register_module()
class VisionTransformerNoPos(VisionTransformer):
    """``VisionTransformer`` whose tokens carry no position embedding and no class token.

    Args:
        **kwargs: mmseg ``VisionTransformer`` arguments; ``with_cls_token`` and
            ``output_cls_token`` must be False (they default to False here).
    """

    def __init__(self, **kwargs) -> None:
        for key in ('with_cls_token', 'output_cls_token'):
            if kwargs.get(key, False):
                raise ValueError(f'{_WHERE}: VisionTransformerNoPos has no class token; '
                                 f'{key} must be False')
        kwargs['with_cls_token'] = False
        super().__init__(**kwargs)
        dims = self.cls_token.shape[-1]
        del self.pos_embed, self.cls_token
        # mmseg's forward concatenates a class token and slices it off again
        # (with_cls_token=False); a zero buffer keeps that code path unchanged.
        self.register_buffer('cls_token', torch.zeros(1, 1, dims), persistent=False)
        self.register_buffer('pos_embed', torch.zeros(1, 0, dims), persistent=False)

    def _pos_embeding(self, patched_img: torch.Tensor, hw_shape, pos_embed) -> torch.Tensor:
        """No position embedding: only the dropout that follows it in mmseg's ViT."""
        return self.drop_after_pos(patched_img)
