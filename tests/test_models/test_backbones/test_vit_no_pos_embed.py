"""VisionTransformerNoPos: mmseg's ViT without position embedding and class token, as
TransUNet's encoder."""
import pytest
import torch

from mmdepth_dgr.models.backbones import DGRBackbone, VisionTransformerNoPos

CFG = dict(img_size=(4, 6), patch_size=1, in_channels=8, embed_dims=16, num_layers=2,
           num_heads=2, out_indices=(1, ), final_norm=True, patch_bias=True)


def test_no_position_embedding_or_class_token_in_the_weights():
    vit = VisionTransformerNoPos(**CFG)
    vit.init_weights()
    assert not [k for k in vit.state_dict() if 'pos_embed' in k or 'cls_token' in k]


def test_without_position_embedding_the_encoder_commutes_with_a_flip():
    """With 1x1 tokens and no position information, self-attention cannot tell where a
    token sits: flipping the input flips the output."""
    vit = VisionTransformerNoPos(**CFG)
    vit.init_weights()
    vit.eval()  # (mmseg's ViT.train() returns None, so not chained)
    x = torch.randn(1, 8, 4, 6)
    with torch.no_grad():
        out, flipped = vit(x)[0], vit(x.flip(-1))[0]
    torch.testing.assert_close(flipped, out.flip(-1), rtol=1e-5, atol=1e-5)


def test_class_token_options_are_refused_and_dgr_wraps_it():
    with pytest.raises(ValueError, match='class token'):
        VisionTransformerNoPos(output_cls_token=True, **CFG)
    wrapped = DGRBackbone(host_type='VisionTransformerNoPos', **CFG)
    assert wrapped(torch.randn(1, 8, 4, 6))[0].shape == (1, 16, 4, 6)
