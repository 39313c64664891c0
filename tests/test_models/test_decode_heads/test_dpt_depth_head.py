"""DPTDepthHead and its layers: output forms, readouts, reassembly, fusion, the head on the
DPT-Hybrid (R50+ViT) and DPT-Large (ViT) encoders, the official settings of every leaf
config (what every host shares: test_host_matrix.py; equivalence with the official
network: tests/test_official/test_dpt_official.py)."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (DPTFusionBlock, DPTReadout, DPTReassembleLevel,
                                             dpt_depth_output)
from _helpers import REPO
from _hosts import BY_NAME, leaf_config
from _hosts import tiny_model_cfg as _tiny_model_cfg

LEAVES = sorted(glob.glob(osp.join(REPO, 'configs', 'dpt', '*.py')))
HYBRID_NYU = osp.join(REPO, 'configs/dpt/dpt_r50-vit-b16_4xb4-25k_nyu-416x544.py')
LARGE_NYU = osp.join(REPO, 'configs/dpt/dpt_vit-l16_4xb4-25k_nyu-416x544.py')


def tiny_model_cfg(path):
    """The leaf's model at test size (the DPT hosts of test_host_matrix.py)."""
    return _tiny_model_cfg(BY_NAME['dpt-hybrid' if 'r50-vit-b16' in path else 'dpt-large'],
                           path)


# ---------------------------------------------------------------- depth output forms
def test_depth_output_forms_match_the_official_formulas():
    z = torch.tensor([-2.0, 0.0, 3.0]).view(1, 1, 1, 3)
    # DPTDepthModel(invert=True): 1 / (s * relu(z) + t), values below 1e-8 raised to 1e-8
    inv = dpt_depth_output(z, 'inverse', inverse_scale=0.5, inverse_shift=0.1)
    torch.testing.assert_close(inv, 1 / torch.tensor([0.1, 0.1, 1.6]).view(1, 1, 1, 3))
    floor = dpt_depth_output(z, 'inverse', inverse_scale=1.0, inverse_shift=-2.5,
                             non_negative=False)
    torch.testing.assert_close(floor, 1 / torch.tensor([1e-8, 1e-8, 0.5]).view(1, 1, 1, 3))
    torch.testing.assert_close(dpt_depth_output(z, 'disparity'), F.relu(z))
    assert torch.equal(dpt_depth_output(z, 'disparity', non_negative=False), z)
    torch.testing.assert_close(dpt_depth_output(z, 'sigmoid', 1.0, 5.0),
                               1.0 + 4.0 * torch.sigmoid(z))
    with pytest.raises(ValueError, match='depth_activation'):
        dpt_depth_output(z, 'tanh')


# ---------------------------------------------------------------- layers
def test_readouts_fold_the_class_token_as_the_official_code():
    x, cls = torch.randn(2, 6, 3, 4), torch.randn(2, 6)
    assert torch.equal(DPTReadout(6, 'ignore')(x, None), x)
    torch.testing.assert_close(DPTReadout(6, 'add')(x, cls), x + cls[:, :, None, None])
    project = DPTReadout(6, 'project')
    tokens = x.flatten(2).transpose(1, 2)                          # (B, hw, C)
    expect = project.project(torch.cat([tokens, cls[:, None].expand_as(tokens)], -1))
    torch.testing.assert_close(project(x, cls), expect.transpose(1, 2).reshape(2, 6, 3, 4))
    with pytest.raises(ValueError, match='output_cls_token'):
        project(x, None)
    with pytest.raises(ValueError, match='readout_type'):
        DPTReadout(6, 'mean')


@pytest.mark.parametrize('scale,size', [(4, (24, 32)), (2, (12, 16)), (1, (6, 8)),
                                        (0.5, (3, 4))])
def test_reassembly_resamples_the_token_grid_by_its_scale(scale, size):
    level = DPTReassembleLevel(6, 5, scale, 'ignore')
    x = torch.randn(1, 6, 1, 1).expand(1, 6, 6, 8).contiguous()  # spatially constant
    with torch.no_grad():
        out, projected = level(x), level.project(x[..., :1, :1])
    assert out.shape == (1, 5, *size)
    if scale == 1:  # no resampling: the 1x1 projection of the constant
        torch.testing.assert_close(out, projected.expand_as(out))
    elif scale > 1:  # kernel = stride: disjoint s x s tiles, one per token, all equal here
        s = int(scale)
        assert torch.equal(out, out[..., :s, :s].repeat(1, 1, 6, 8))
    else:  # 3x3 stride-2 conv: only the zero padding (first row/col) sees a border
        assert torch.equal(out[..., 1:, 1:], out[..., 1:2, 1:2].expand(1, 5, 2, 3))


def test_reassembly_rejects_other_scales():
    with pytest.raises(ValueError, match='scale'):
        DPTReassembleLevel(6, 5, 3.5)


def test_fusion_block_adds_the_skip_then_doubles_the_size():
    block = DPTFusionBlock(4)
    x, skip = torch.randn(1, 4, 3, 5), torch.randn(1, 4, 3, 5)
    with torch.no_grad():
        out = block(x, skip)
        assert out.shape == (1, 4, 6, 10)
        # the skip passes its own residual unit and is added before the second one
        assert torch.equal(out, block(x + block.res1(skip)))
        # zero residual convs make both units the identity and an identity 1x1 output
        # conv leaves official FeatureFusionBlock = bilinear x2 (align_corners) of x + skip
        for unit in (block.res1, block.res2):
            for conv in (unit.conv1, unit.conv2):
                conv.weight.zero_(), conv.bias.zero_()
        block.out_conv.weight.copy_(torch.eye(4)[:, :, None, None])
        block.out_conv.bias.zero_()
        expect = F.interpolate(x + skip, scale_factor=2, mode='bilinear', align_corners=True)
        assert torch.equal(block(x, skip), expect)
    with pytest.raises(ValueError, match='with_skip'):
        DPTFusionBlock(4, with_skip=False)(x, skip)


# ---------------------------------------------------------------- the head
def _hybrid_feats(b=2):
    model = MODELS.build(tiny_model_cfg(HYBRID_NYU))
    with torch.no_grad():
        return model.backbone(torch.randn(b, 3, 64, 96))


def test_backbone_reports_what_the_head_reads():
    for path in (HYBRID_NYU, LARGE_NYU):
        cfg = tiny_model_cfg(path)
        model = MODELS.build(cfg)
        feats = model.backbone(torch.randn(1, 3, 64, 96))
        maps = [f[0] if isinstance(f, (list, tuple)) else f for f in feats]
        chans = [m.shape[1] for m in maps]
        assert chans == list(cfg.decode_head.in_channels)
        if hasattr(model.backbone, 'out_channels'):  # the hybrid reports its outputs
            assert list(model.backbone.out_channels) == chans
            assert [64 // m.shape[2] for m in maps] == model.backbone.out_strides


def test_head_on_the_hybrid_passes_resnet_levels_through_and_predicts_full_size():
    cfg = tiny_model_cfg(HYBRID_NYU).decode_head
    head = MODELS.build(cfg)
    assert isinstance(head.reassemble[0], torch.nn.Identity)
    depth = head(_hybrid_feats())
    assert depth.shape == (2, 1, 64, 96)
    # official NYU constants: 1 / (0.000305 * relu(z) + 0.1378) <= 1 / 0.1378
    assert torch.isfinite(depth).all() and depth.max() <= 1 / 0.1378 + 1e-4


def test_head_errors_name_the_option():
    cfg = tiny_model_cfg(HYBRID_NYU).decode_head
    with pytest.raises(ValueError, match='post_process_channels'):
        MODELS.build(dict(cfg, post_process_channels=[128, 512, 32, 32]))
    with pytest.raises(ValueError, match='one entry per level'):
        MODELS.build(dict(cfg, reassemble_scales=[None, 1, 0.5]))
    feats = _hybrid_feats()
    feats[2] = feats[2][0]  # the class token dropped: the 'project' readout needs it
    with pytest.raises(ValueError, match='output_cls_token'):
        MODELS.build(cfg)(feats)
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(dict(cfg, in_channels=[256, 512, 64, 64],
                          post_process_channels=[256, 512, 64, 64]))(_hybrid_feats())


# ---------------------------------------------------------------- configs
@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_leaf_config_is_the_official_network(path):
    cfg = leaf_config(path)
    head = cfg.model.decode_head
    assert head.depth_activation == 'inverse' and head.get('non_negative', True)
    kitti = 'kitti' in path
    # run_monodepth.py: dpt_hybrid_kitti / dpt_hybrid_nyu
    assert (head.inverse_scale, head.inverse_shift) == (
        (0.00006016, 0.00579) if kitti else (0.000305, 0.1378))
    # DPT's published KITTI number: BTS eval_with_pngs.py --garg_crop --do_kb_crop
    assert cfg.val_evaluator.crop == ('garg' if kitti else 'nyu_eigen')
    if kitti:
        assert cfg.val_evaluator.crop_convention == 'full_size'
        assert cfg.test_evaluator.crop_convention == 'full_size'
    assert cfg.load_from.endswith('-midas-2f21e586_mmdepth.pth' if 'vit-l16' in path
                                  else '-midas-501f0c75_mmdepth.pth')
