"""DPTDepthHead on a tiny mmseg ViT, its depth outputs, DGR equality and the DPT configs."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import DPTDepthHead, dpt_depth_output

from _helpers import REPO as REPO_ROOT
from _helpers import synthetic_runner_cfg, uint8_batch

H, W = 64, 96

TINY_VIT = dict(type='VisionTransformer', img_size=(H, W), patch_size=16, embed_dims=32,
                num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3), final_norm=False,
                with_cls_token=True, output_cls_token=True,
                norm_cfg=dict(type='LN', eps=1e-6))
TINY_HEAD = dict(type='DPTDepthHead', in_channels=[32] * 4, in_index=[0, 1, 2, 3],
                 channels=16, embed_dims=32, post_process_channels=[8, 16, 32, 32],
                 readout_type='project', head_channels=8, min_depth=1e-3, max_depth=10.0,
                 loss_decode=[dict(type='SILogDepthLoss')])
TINY_MODEL = dict(
    type='MonoDepthEstimator',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=0, size_divisor=32),
    backbone=TINY_VIT, decode_head=TINY_HEAD, train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))


def _batch(model, n=2):
    return uint8_batch(model, n, H, W, lambda: torch.rand(1, H, W) * 9 + 0.5)


def _tiny_model(cfg=TINY_MODEL):
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model


def _vit_feats(n=2):
    vit = MODELS.build(copy.deepcopy(TINY_VIT))
    vit.init_weights()
    return vit(torch.randn(n, 3, H, W))


# ---------------------------------------------------------------- depth output forms
def test_depth_output_forms_match_their_formulas():
    z = torch.tensor([-2.0, 0.0, 3.0]).view(1, 1, 1, 3)
    sig = dpt_depth_output(z, 1.0, 5.0, 'sigmoid')
    torch.testing.assert_close(sig, 1.0 + 4.0 * torch.sigmoid(z))
    relu = dpt_depth_output(z, 1.0, 5.0, 'relu')
    torch.testing.assert_close(relu, torch.tensor([1.0, 1.0, 4.0]).view(1, 1, 1, 3))
    # inverse, s=0.5, t=0.1: relu(z) = 0, 0, 3 -> s*x+t = 0.1, 0.1, 1.6; floor 1/5 = 0.2
    inv = dpt_depth_output(z, 0.7, 5.0, 'inverse', inverse_scale=0.5, inverse_shift=0.1)
    torch.testing.assert_close(inv, torch.tensor([5.0, 5.0, 0.7]).view(1, 1, 1, 3))
    with pytest.raises(ValueError, match='depth_activation'):
        dpt_depth_output(z, 1.0, 5.0, 'tanh')


# ---------------------------------------------------------------- the head
@pytest.mark.parametrize('activation', ['sigmoid', 'relu', 'inverse'])
def test_head_output_shape_and_range(activation):
    head = MODELS.build(dict(copy.deepcopy(TINY_HEAD), depth_activation=activation))
    depth = head(_vit_feats())
    assert depth.shape == (2, 1, H, W)  # fusion ends at stride 2, the head upsamples x2
    assert torch.isfinite(depth).all() and (depth >= 1e-3).all()
    if activation != 'relu':
        assert (depth <= 10.0).all()


def test_ignore_readout_accepts_plain_maps_and_project_needs_the_cls_token():
    feats = [x for x, _ in _vit_feats()]
    head = MODELS.build(dict(copy.deepcopy(TINY_HEAD), readout_type='ignore'))
    assert head(feats).shape == (2, 1, H, W)
    head = MODELS.build(copy.deepcopy(TINY_HEAD))
    with pytest.raises(ValueError, match='output_cls_token'):
        head(feats)


def test_wrong_channels_raise_naming_the_option():
    head = MODELS.build(dict(copy.deepcopy(TINY_HEAD), in_channels=[64] * 4))
    with pytest.raises(ValueError, match='in_channels'):
        head(_vit_feats())


# ---------------------------------------------------------------- losses / training
def test_loss_is_finite_and_reaches_the_backbone():
    model = _tiny_model()
    losses = model(**_batch(model), mode='loss')
    assert set(losses) == {'decode.loss_silog'}
    assert torch.isfinite(losses['decode.loss_silog'])
    losses['decode.loss_silog'].backward()
    for p in (model.backbone.patch_embed.projection.weight, model.backbone.cls_token,
              model.decode_head.depth_head[0].weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_predict_returns_depth_at_input_size_with_flip():
    model = _tiny_model().eval()
    with torch.no_grad():
        out = model(**_batch(model, n=1), mode='predict')
    pred = out[0].pred_depth_map.data
    assert pred.shape == (1, H, W)
    assert torch.isfinite(pred).all() and (pred > 0).all() and (pred <= 10.0).all()


def test_dgr_variant_equals_baseline_at_init():
    base = _tiny_model().eval()
    cfg = copy.deepcopy(TINY_MODEL)
    cfg['backbone'] = dict(type='DGRBackbone', host_type='VisionTransformer',
                           **{k: v for k, v in TINY_VIT.items() if k != 'type'})
    dgr = _tiny_model(cfg).eval()
    dgr.load_state_dict(base.state_dict(), strict=True)  # DGRBackbone's load hook
    data = _batch(base, n=1)
    with torch.no_grad():
        a = base.decode_head(base.extract_feat(data['inputs']))
        b = dgr.decode_head(dgr.extract_feat(data['inputs']))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------- configs
DPT_LEAVES = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'dpt', '*.py')))


def test_there_are_baseline_and_dgr_leaves_for_both_vits_and_datasets():
    names = {osp.basename(p) for p in DPT_LEAVES}
    for bb in ('vit-b16', 'vit-l16'):
        for ds in ('nyu-416x544', 'kitti-352x704'):
            assert f'dpt_{bb}_4xb4-25k_{ds}.py' in names
            assert f'dpt-dgr_{bb}_4xb4-25k_{ds}.py' in names


@pytest.mark.parametrize('path', DPT_LEAVES, ids=osp.basename)
def test_leaf_config_builds_with_pretrained_off(path):
    cfg = Config.fromfile(path)
    m = cfg.model
    assert m.type == 'MonoDepthEstimator' and m.test_cfg.flip is True
    assert m.data_preprocessor.seg_pad_val == 0
    max_depth = 80.0 if 'kitti' in path else 10.0
    assert m.decode_head.max_depth == max_depth and cfg.val_evaluator.max_depth == max_depth
    large = 'vit-l16' in path
    assert tuple(m.backbone.out_indices) == ((5, 11, 17, 23) if large else (2, 5, 8, 11))
    assert m.backbone.output_cls_token and not m.backbone.final_norm
    assert m.backbone.type == ('DGRBackbone' if 'dpt-dgr' in path else 'VisionTransformer')
    m.backbone.init_cfg = None
    if large:
        # ViT-L (300 M parameters) is slow to allocate on CPU: same wiring, narrow width.
        m.backbone.embed_dims = 64
        m.decode_head.in_channels = [64] * 4
        m.decode_head.embed_dims = 64
        m.decode_head.post_process_channels = [16, 32, 64, 64]
    model = MODELS.build(m)
    assert isinstance(model.decode_head, DPTDepthHead)
    vit = model.backbone.backbone if 'dpt-dgr' in path else model.backbone
    assert len(vit.layers) == (24 if large else 12)


# ---------------------------------------------------------------- a few Runner iterations
def test_a_few_runner_iterations_of_the_dgr_variant_on_generated_data(synthetic_nyu_root,
                                                                      tmp_path):
    from mmengine.runner import Runner
    model = copy.deepcopy(TINY_MODEL)
    model['backbone'] = dict(type='DGRBackbone', host_type='VisionTransformer',
                             **{k: v for k, v in TINY_VIT.items() if k != 'type'})
    leaf = osp.join(REPO_ROOT, 'configs/dpt/dpt-dgr_vit-b16_4xb4-25k_nyu-416x544.py')
    runner = Runner.from_cfg(synthetic_runner_cfg(leaf, tmp_path, synthetic_nyu_root, model))
    before = runner.model.decode_head.depth_head[-1].weight.detach().clone()
    runner.train()
    assert not torch.equal(before, runner.model.decode_head.depth_head[-1].weight.detach())
    metrics = runner.val_loop.run()
    assert metrics and all(torch.isfinite(torch.tensor(float(v))) for v in metrics.values())
