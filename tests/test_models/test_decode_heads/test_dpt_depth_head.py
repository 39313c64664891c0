"""DPTDepthHead and its layers: output forms, readouts, reassembly, fusion, the head on the
DPT-Hybrid (R50+ViT) and DPT-Large (ViT) encoders, losses, DGR identity at init, every leaf
config (equivalence with the official network: tests/test_official/test_dpt_official.py)."""
import copy
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (DPTDepthHead, DPTFusionBlock, DPTReadout,
                                             DPTReassembleLevel, dpt_depth_output)

from _helpers import (REPO, check_flip_predict_in_range, check_leaf_config,
                      check_loss_reaches_backbone, depth_batch, synthetic_runner_cfg)

LEAVES = sorted(glob.glob(osp.join(REPO, 'configs', 'dpt', '*.py')))
HYBRID_NYU = osp.join(REPO, 'configs/dpt/dpt_r50-vit-b16_4xb4-25k_nyu-416x544.py')
LARGE_NYU = osp.join(REPO, 'configs/dpt/dpt_vit-l16_4xb4-25k_nyu-416x544.py')
# The leaves at test sizes (mmengine merge keys, as in the official-equivalence fixtures).
TINY_HYBRID = {'backbone.cnn.layers': [1, 1, 1], 'backbone.vit.embed_dims': 32,
               'backbone.vit.num_layers': 4, 'backbone.vit.num_heads': 2,
               'backbone.vit.out_indices': [2, 3],
               'decode_head.in_channels': [256, 512, 32, 32],
               'decode_head.post_process_channels': [256, 512, 32, 32],
               'decode_head.channels': 16, 'decode_head.head_channels': 8}
TINY_LARGE = {'backbone.embed_dims': 32, 'backbone.num_layers': 4, 'backbone.num_heads': 2,
              'backbone.out_indices': [0, 1, 2, 3], 'decode_head.in_channels': [32] * 4,
              'decode_head.post_process_channels': [8, 16, 32, 32],
              'decode_head.channels': 16, 'decode_head.head_channels': 8}


def tiny_model_cfg(path):
    """The leaf's model with the tiny sizes merged in (nested keys, mmengine semantics)."""
    cfg = Config.fromfile(path)
    tiny = TINY_HYBRID if 'r50-vit-b16' in path else TINY_LARGE
    opts = {'model.' + k: v for k, v in tiny.items()}
    if '-dgr_r50' in path:  # the leaves refine ViT layers 3, 6, 9, 12; the tiny ViT has 4
        opts['model.backbone.vit.stages'] = [1, 3]
    cfg.merge_from_dict(opts)
    return copy.deepcopy(cfg.model)


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


@pytest.mark.parametrize('scale,size', [(4, (12, 16)), (2, (6, 8)), (1, (3, 4)),
                                        (0.5, (2, 2))])
def test_reassembly_resamples_the_token_grid_by_its_scale(scale, size):
    level = DPTReassembleLevel(6, 5, scale, 'ignore')
    assert level(torch.randn(1, 6, 3, 4)).shape == (1, 5, *size)


def test_reassembly_rejects_other_scales():
    with pytest.raises(ValueError, match='scale'):
        DPTReassembleLevel(6, 5, 3.5)


def test_fusion_block_adds_the_skip_and_doubles_the_size():
    block = DPTFusionBlock(4)
    x, skip = torch.randn(1, 4, 3, 5), torch.randn(1, 4, 3, 5)
    assert block(x, skip).shape == (1, 4, 6, 10)
    assert not torch.allclose(block(x, skip), block(x))
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


# ---------------------------------------------------------------- losses / predict
def test_loss_reaches_the_resnet_and_the_vit_of_the_hybrid():
    check_loss_reaches_backbone(tiny_model_cfg(HYBRID_NYU),
                                lambda m: m.backbone.cnn.model.stem.conv.weight)
    check_loss_reaches_backbone(tiny_model_cfg(HYBRID_NYU),
                                lambda m: m.backbone.vit.layers[0].ln1.weight)


def test_predict_with_flip_returns_positive_depth():
    cfg = tiny_model_cfg(LARGE_NYU)
    check_flip_predict_in_range(cfg, min_depth=0.0, max_depth=1 / 0.1378 + 1e-4)


# ---------------------------------------------------------------- DGR
@pytest.mark.parametrize('base,dgr', [
    ('dpt_r50-vit-b16_4xb4-25k_nyu-416x544', 'dpt-dgr_r50-vit-b16_4xb4-25k_nyu-416x544'),
    ('dpt_vit-l16_4xb4-25k_kitti-352x704', 'dpt-dgr_vit-l16_4xb4-25k_kitti-352x704')])
def test_dgr_variant_is_the_baseline_at_init(base, dgr):
    base_model = MODELS.build(tiny_model_cfg(osp.join(REPO, 'configs/dpt', base + '.py')))
    dgr_model = MODELS.build(tiny_model_cfg(osp.join(REPO, 'configs/dpt', dgr + '.py')))
    base_model.init_weights(), dgr_model.init_weights()
    # the baseline's checkpoint loads strictly through DGRBackbone's load hook (the
    # hybrid's DGRBackbone is its ViT part, one level down), DGR blocks keep their init
    dgr_model.load_state_dict(base_model.state_dict(), strict=True)
    base_model.eval(), dgr_model.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(base_model._forward(x), dgr_model._forward(x))


# ---------------------------------------------------------------- configs
def test_there_are_baseline_and_dgr_leaves_for_both_encoders_and_datasets():
    names = {osp.basename(p) for p in LEAVES}
    for bb in ('r50-vit-b16', 'vit-l16'):
        for ds in ('nyu-416x544', 'kitti-352x704'):
            assert f'dpt_{bb}_4xb4-25k_{ds}.py' in names
            assert f'dpt-dgr_{bb}_4xb4-25k_{ds}.py' in names


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_leaf_config_is_the_official_network_and_builds(path):
    cfg = Config.fromfile(path)
    check_leaf_config(cfg, path, 'DPTDepthHead')
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
    model = MODELS.build(tiny_model_cfg(path)).eval()
    with torch.no_grad():
        assert model._forward(torch.randn(1, 3, 64, 96)).shape == (1, 1, 64, 96)


def test_a_few_runner_iterations_of_the_hybrid_dgr_variant(synthetic_nyu_root, tmp_path):
    from mmengine.runner import Runner
    leaf = osp.join(REPO, 'configs/dpt/dpt-dgr_r50-vit-b16_4xb4-25k_nyu-416x544.py')
    model = tiny_model_cfg(leaf)
    cfg = synthetic_runner_cfg(leaf, tmp_path, synthetic_nyu_root, model)
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    before = runner.model.decode_head.depth_head[-1].weight.detach().clone()
    runner.train()
    assert not torch.equal(before, runner.model.decode_head.depth_head[-1].weight.detach())
    metrics = runner.val_loop.run()
    assert metrics and all(torch.isfinite(torch.tensor(float(v))) for v in metrics.values())


def test_depth_batch_loss_is_silog_only():
    model = MODELS.build(tiny_model_cfg(LARGE_NYU))
    assert set(model.loss(*depth_batch())) == {'decode.loss_silog'}
