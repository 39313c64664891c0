"""DepthFormerHead: bins arithmetic, Transbins, the up-blocks, the decoder widths, the loss
without the bins term, the full-size network (what every host shares, incl. the leaf
configs: test_host_matrix.py; equivalence with the official network:
tests/test_official/test_depthformer_official.py)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (DepthFormerHead, DepthFormerTransbins,
                                             DepthFormerUpBlock, depth_from_bins)
from _helpers import REPO, depth_batch, level_feats
from _hosts import BY_NAME, tiny_head_cfg, tiny_model_cfg

BASELINE_NYU = osp.join(REPO,
                        'configs/depthformer/depthformer_mit-b4_4xb4-25k_nyu-416x544.py')
TINY_HEAD = tiny_head_cfg('depthformer')


# ----------------------------------------------------------------- bins
def test_depth_from_one_hot_bins_is_that_centre():
    centres = torch.tensor([[1.0, 2.0, 4.0]])
    probs = torch.zeros(1, 3, 2, 2)
    probs[:, 2] = 1
    assert torch.equal(depth_from_bins(probs, centres), torch.full((1, 1, 2, 2), 4.0))


def test_transbins_centres_increase_inside_range_and_depth_is_their_mix():
    tb = DepthFormerTransbins(16, n_bins=8, embed_dims=16, patch_size=4, num_layers=1,
                              num_heads=2, feedforward_channels=16, min_depth=0.5,
                              max_depth=10.0)
    depth, centres = tb(torch.randn(2, 16, 12, 16))
    assert depth.shape == (2, 1, 12, 16) and centres.shape == (2, 8)
    assert (centres.diff(dim=1) > 0).all()
    assert centres.min() > 0.5 and centres.max() < 10.0
    # a convex mix of a row's centres lies between its first and last centre
    assert (depth >= centres[:, :1, None, None] - 1e-5).all()
    assert (depth <= centres[:, -1:, None, None] + 1e-5).all()


def test_transbins_probabilities_come_from_a_1x1_conv_of_the_features():
    """As the official forward: the range-attention maps of the mini-ViT are unused."""
    tb = DepthFormerTransbins(16, n_bins=8, embed_dims=16, patch_size=4, num_layers=1,
                              num_heads=2, feedforward_channels=16).eval()
    feats = torch.randn(1, 16, 8, 8)
    depth, centres = tb(feats)
    probs = torch.softmax(tb.conv_out(feats), dim=1)
    torch.testing.assert_close(depth, (probs * centres[:, :, None, None]).sum(1, True))
    assert not any('conv3x3' in name for name, _ in tb.named_parameters())


def test_transbins_errors_name_the_option():
    tb = DepthFormerTransbins(8, n_bins=4, embed_dims=8, patch_size=4, num_layers=1,
                              num_heads=2, max_tokens=4)
    with pytest.raises(ValueError, match='patch_size'):
        tb(torch.randn(1, 8, 3, 8))
    with pytest.raises(ValueError, match='max_tokens'):
        tb(torch.randn(1, 8, 12, 12))
    with pytest.raises(ValueError, match='bin_norm'):
        DepthFormerTransbins(8, bin_norm='exp')


# ----------------------------------------------------------------- decoder
def test_up_block_doubles_the_map_and_checks_the_skip_size():
    block = DepthFormerUpBlock(8, 4, 6)
    assert block(torch.randn(1, 8, 3, 5), torch.randn(1, 4, 6, 10)).shape == (1, 6, 6, 10)
    with pytest.raises(ValueError, match='divisible by 32'):
        block(torch.randn(1, 8, 3, 5), torch.randn(1, 4, 7, 10))


def test_head_output_is_half_resolution_and_in_range():
    head = DepthFormerHead(min_depth=0.5, max_depth=10.0, **TINY_HEAD)
    depth, centres = head.forward_with_bins(level_feats([8, 16, 32, 32]))
    assert depth.shape == (2, 1, 32, 48) and centres.shape == (2, 16)
    assert depth.min() >= 0.5 and depth.max() <= 10.0
    # the decoder follows the encoder widths (official DecoderBN) and ends at `channels`
    assert [b.convs[0].conv.out_channels for b in head.up_blocks] == [32, 16, 8]
    assert head.final_convs[-1].conv.out_channels == 16


def test_predict_resizes_a_constant_half_resolution_map_to_that_constant():
    """The head predicts at 1/2 of the input; predict() resizes to the padded input size
    bilinearly (align_corners, as the official head): a constant stays that constant."""
    head = DepthFormerHead(**TINY_HEAD)
    for value in (0.123, 2.5, 7.31):
        depth = torch.full((2, 1, 32, 48), value)
        up = head.predict_by_feat(depth, [dict(img_shape=(60, 90), pad_shape=(64, 96))] * 2)
        assert torch.equal(up, torch.full((2, 1, 64, 96), value))


# ----------------------------------------------------------------- whole model / configs
def test_loss_without_bins_term_when_not_configured():
    cfg = tiny_model_cfg(BY_NAME['depthformer'], BASELINE_NYU)
    cfg.decode_head.loss_decode = [cfg.decode_head.loss_decode[0]]
    losses = MODELS.build(cfg).loss(*depth_batch())
    assert set(losses) == {'decode.loss_silog'}


def test_full_size_baseline_is_the_official_mit_b4_network():
    model = copy.deepcopy(Config.fromfile(BASELINE_NYU).model)
    model.backbone.init_cfg = None
    built = MODELS.build(model)
    assert built.decode_head.transbins.n_bins == 256
    assert [len(layer[1]) for layer in built.backbone.layers] == [3, 8, 27, 3]
    assert built.backbone.layers[0][0].norm.eps == 1e-5  # SegFormer's patch-embed norm
