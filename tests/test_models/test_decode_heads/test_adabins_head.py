"""AdaBinsHead, its layers, the TIMMEncoder taps it reads, the chamfer term, the DGR neck
and the wrapped TIMMEncoder, the AdaBins leaves' losses and full-size networks (what every
host shares, incl. the leaf configs: test_host_matrix.py)."""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (AdaBinsHead, adabins_depth, bin_edges_and_centers,
                                             normalize_bin_widths, range_attention_maps)
from mmdepth_dgr.models.losses import bins_chamfer_loss
from _helpers import REPO as REPO_ROOT
from _helpers import uint8_batch
from _hosts import leaf_config

H, W = 64, 96

TINY_HEAD = dict(
    type='AdaBinsHead', in_channels=[16, 24, 32, 48, 256], in_index=[0, 1, 2, 3, 4],
    channels=64, n_bins=16, n_query=8, decoder_channels=16, embed_dims=16, patch_size=4,
    num_heads=2, num_layers=1, ffn_dims=32, max_patches=128, min_depth=1e-3,
    max_depth=10.0,
    loss_decode=[dict(type='SILogDepthLoss', form='adabins', loss_name='loss_silog')],
    loss_bins=dict(type='BinsChamferLoss', loss_weight=0.1, loss_name='loss_chamfer'))
TINY_MODEL = dict(
    type='MonoDepthEstimator',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=0, size_divisor=32),
    backbone=dict(type='TIMMEncoder', model_name='test_efficientnet', pretrained=False,
                  out_indices=(0, 1, 2, 3), with_head_conv=True),
    decode_head=TINY_HEAD,
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))


def _gt():
    gt = torch.rand(1, H, W) * 9 + 0.5
    gt[:, :8] = 0  # an invalid band
    return gt


def _batch(model, n=2):
    return uint8_batch(model, n, H, W, _gt)


def _tiny_model(cfg=TINY_MODEL):
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model


# ---------------------------------------------------------------- bin arithmetic
def test_linear_width_norm_is_relu_plus_eps_over_sum():
    logits = torch.tensor([[-1.0, 0.0, 1.0]])
    # by hand: ReLU + 0.1 = [0.1, 0.1, 1.1], sum 1.3
    want = torch.tensor([[0.1, 0.1, 1.1]]) / 1.3
    torch.testing.assert_close(normalize_bin_widths(logits, 'linear', 0.1), want)
    for norm in ('softmax', 'sigmoid'):
        w = normalize_bin_widths(torch.randn(2, 5), norm)
        assert (w > 0).all()
        torch.testing.assert_close(w.sum(1), torch.ones(2))
    with pytest.raises(ValueError, match='bin norm'):
        normalize_bin_widths(logits, 'nope')


def test_bin_edges_span_the_range_and_centres_are_midpoints():
    widths = torch.tensor([[0.25, 0.75]])
    edges, centers = bin_edges_and_centers(widths, 0.0, 4.0)
    # by hand: widths in metres 1 and 3 -> edges 0, 1, 4 -> centres 0.5, 2.5
    torch.testing.assert_close(edges, torch.tensor([[0.0, 1.0, 4.0]]))
    torch.testing.assert_close(centers, torch.tensor([[0.5, 2.5]]))


def test_range_attention_maps_equal_a_per_image_1x1_conv():
    feats, queries = torch.randn(2, 6, 5, 7), torch.randn(2, 3, 6)
    maps = range_attention_maps(feats, queries)
    for b in range(2):
        ref = F.conv2d(feats[b:b + 1], queries[b][:, :, None, None])
        torch.testing.assert_close(maps[b:b + 1], ref)


def test_depth_is_the_probability_weighted_mean_of_centres():
    logits = torch.zeros(1, 2, 1, 1)  # equal probabilities
    centers = torch.tensor([[1.0, 3.0]])
    torch.testing.assert_close(adabins_depth(logits, centers), torch.full((1, 1, 1, 1), 2.0))


# ---------------------------------------------------------------- the head
def test_head_output_shape_and_range_on_tiny_features():
    head = MODELS.build(copy.deepcopy(TINY_HEAD)).eval()  # no dropout / batch stats
    chans, strides = [16, 24, 32, 48, 256], [2, 4, 8, 16, 32]
    feats = [torch.randn(2, c, H // s, W // s) for c, s in zip(chans, strides)]
    depth, centers = head.forward_with_bins(feats)
    assert depth.shape == (2, 1, H // 2, W // 2)
    assert centers.shape == (2, 16)
    assert (centers[:, 1:] > centers[:, :-1]).all()
    assert (depth >= 1e-3).all() and (depth <= 10.0).all()
    assert (centers > 1e-3).all() and (centers < 10.0).all()
    torch.testing.assert_close(head(feats), depth)


def test_too_few_patches_for_the_queries_raises_a_clear_error():
    cfg = dict(copy.deepcopy(TINY_HEAD), patch_size=16)  # 32x48 map -> 2x3 = 6 patches
    head = MODELS.build(cfg)
    feats = [torch.randn(1, c, H // s, W // s)
             for c, s in zip([16, 24, 32, 48, 256], [2, 4, 8, 16, 32])]
    with pytest.raises(ValueError, match='n_query'):
        head(feats)


def test_bad_channels_raise_naming_the_option():
    with pytest.raises(ValueError, match='divisible'):
        MODELS.build(dict(copy.deepcopy(TINY_HEAD), channels=72))


def test_timm_encoder_taps_are_the_stage_ends_and_head_conv():
    enc = MODELS.build(TINY_MODEL['backbone']).eval()
    x = torch.randn(1, 3, H, W)
    outs = enc(x)
    m = enc.timm_model
    y = m.bn1(m.conv_stem(x))
    taps = []
    for blk in m.blocks:
        y = blk(y)
        taps.append(y)
    ends = [info['stage'] - 1 for info in m.feature_info]  # block index of each stage end
    want = [taps[ends[i]] for i in range(4)] + [m.conv_head(taps[ends[4]])]
    assert enc.out_channels == [t.shape[1] for t in want] == [16, 24, 32, 48, 256]
    for a, b in zip(outs, want):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------- losses / training
def test_chamfer_term_is_computed_on_the_bin_centres():
    model = _tiny_model()
    data = _batch(model)
    model.train()
    torch.manual_seed(1)
    losses = model(**data, mode='loss')
    torch.manual_seed(1)
    feats = model.extract_feat(data['inputs'])
    _, centers = model.decode_head.forward_with_bins(feats)
    gt = torch.stack([s.gt_depth_map.data for s in data['data_samples']])
    want = 0.1 * bins_chamfer_loss(centers, gt, gt > 1e-3)
    torch.testing.assert_close(losses['decode.loss_chamfer'], want)


def test_dgr_neck_variant_equals_baseline_at_init():
    # the -dgr leaves' DGRBackbone: test_host_matrix.py
    base = _tiny_model().eval()
    cfg = dict(copy.deepcopy(TINY_MODEL),
               neck=dict(type='DGRNeck', in_channels=[16, 24, 32, 48, 256]))
    dgr = _tiny_model(cfg).eval()
    # the neck is new: the baseline's checkpoint lacks exactly its keys
    result = dgr.load_state_dict(base.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(k.startswith('neck.') for k in result.missing_keys)
    data = _batch(base, n=1)
    with torch.no_grad():
        a = base.decode_head(base.extract_feat(data['inputs']))
        b = dgr.decode_head(dgr.extract_feat(data['inputs']))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_dgr_backbone_wraps_the_timm_encoder_bit_for_bit_at_init():
    """DGRBackbone around TIMMEncoder re-runs its stem + blocks loop with a DGR block after
    every feature level; at init its outputs equal TIMMEncoder.forward exactly, and a
    non-zero DGR on the last level changes the conv_head output (it reads the refined map)."""
    wrapper = MODELS.build(dict(type='DGRBackbone', placement='stage',
                                backbone=copy.deepcopy(TINY_MODEL['backbone'])))
    wrapper.init_weights()
    wrapper.eval()
    assert wrapper.stages == [0, 1, 2, 3, 4]  # every feature level, 4 is not an output
    assert wrapper.out_channels == wrapper.backbone.out_channels == [16, 24, 32, 48, 256]
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
    assert len(got) == len(ref) == 5
    assert all(torch.equal(g, r) for g, r in zip(got, ref))
    torch.nn.init.normal_(wrapper.dgr['4'].out_conv.weight, std=0.1)
    with torch.no_grad():
        got = wrapper(x)
    assert all(torch.equal(g, r) for g, r in zip(got[:4], ref[:4]))
    assert not torch.equal(got[4], ref[4])


# ---------------------------------------------------------------- configs
ADABINS_LEAVES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'adabins', '*.py')))


@pytest.mark.parametrize('path', ADABINS_LEAVES, ids=osp.basename)
def test_leaf_config_losses_and_full_size_network(path):
    cfg = copy.deepcopy(leaf_config(path))
    names = [d['loss_name'] for d in cfg.model.decode_head.loss_decode]
    assert names == ['loss_silog']
    assert cfg.model.decode_head.loss_bins == dict(type='BinsChamferLoss', loss_weight=0.1,
                                                   loss_name='loss_chamfer')
    cfg.model.backbone.pretrained = False
    model = MODELS.build(cfg.model)
    assert isinstance(model.decode_head, AdaBinsHead)
    assert model.backbone.out_channels == cfg.model.decode_head.in_channels
    is_dgr = '-dgr' in osp.basename(path)
    assert not model.with_neck  # DGR sits inside the encoder (DGRBackbone), as in the paper
    assert (type(model.backbone).__name__ == 'DGRBackbone') == is_dgr
