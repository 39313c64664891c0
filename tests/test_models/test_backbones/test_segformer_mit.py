"""SegFormerMiT: mmseg's MiT with SegFormer's LayerNorm epsilons."""
import torch
from mmseg.models.backbones import MixVisionTransformer

from mmdepth_dgr.models.backbones import DGRBackbone, SegFormerMiT

CFG = dict(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])


def test_patch_and_reduction_norms_use_segformers_eps_the_rest_mmsegs():
    mit = SegFormerMiT(**CFG)
    for patch_embed, blocks, norm in mit.layers:
        assert patch_embed.norm.eps == 1e-5 and norm.eps == 1e-6
        for block in blocks:
            assert block.norm1.eps == block.norm2.eps == 1e-6
            if hasattr(block.attn, 'norm'):
                assert block.attn.norm.eps == 1e-5


def test_same_weights_as_mmsegs_mit_and_the_eps_changes_the_output():
    ours, theirs = SegFormerMiT(**CFG).eval(), MixVisionTransformer(**CFG).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    ours, theirs = ours.double(), theirs.double()
    with torch.no_grad():
        assert not torch.equal(ours(x)[-1], theirs(x)[-1])


def test_dgr_wraps_it_as_any_mit():
    assert DGRBackbone(host_type='SegFormerMiT', **CFG).host_kind == 'MixVisionTransformer'


def test_reports_the_channels_and_strides_of_its_outputs():
    mit = SegFormerMiT(**CFG)
    outs = mit(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == mit.out_channels == [8, 8, 16, 16]
    assert [64 // o.shape[2] for o in outs] == mit.out_strides == [4, 8, 16, 32]
