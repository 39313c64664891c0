"""TransDepthHead: the dynamic local filter vs an unfold reference, the attention gate,
head shapes/range/errors, loss and gradients, DGR equivalence at init, every leaf config."""
import copy
import glob
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (TransDepthAttentionGate, TransDepthHead,
                                             dynamic_local_filter)

from _helpers import (REPO, check_dgr_equals_baseline, check_flip_predict_in_range,
                      check_leaf_builds, check_loss_reaches_backbone, level_feats)
from _helpers import tiny_model_cfg as _tiny_model_cfg

LEAVES = sorted(glob.glob(osp.join(REPO, 'configs', 'transdepth', '*.py')))
BASELINE_NYU = osp.join(REPO, 'configs/transdepth/transdepth_vit-b16_4xb4-25k_nyu-416x544.py')
TINY_BACKBONE = dict(img_size=(64, 96), embed_dims=32, num_layers=4, num_heads=2,
                     out_indices=(0, 1, 2, 3), drop_path_rate=0.0, init_cfg=None)
TINY_NECK = dict(in_channels=[32] * 4, out_channels=32)
TINY_HEAD = dict(in_channels=[32] * 4, channels=16)


# ----------------------------------------------------------------- dynamic local filter
@pytest.mark.parametrize('dilation,k', [(1, 3), (4, 3), (2, 5)])
def test_dynamic_local_filter_matches_unfold_reference(dilation, k):
    x = torch.randn(2, 3, 7, 9)
    kernels = torch.randn(2, k * k, 7, 9)
    pad = dilation * (k // 2)
    cols = F.unfold(x, k, dilation=dilation, padding=pad).view(2, 3, k * k, 7, 9)
    ref = (cols * kernels[:, None]).sum(2)
    assert torch.allclose(dynamic_local_filter(x, kernels, dilation), ref, atol=1e-5)


def test_dynamic_local_filter_one_hot_kernels_shift_with_zero_padding():
    x = torch.arange(20.).view(1, 1, 4, 5)
    centre = torch.zeros(1, 9, 4, 5)
    centre[:, 4] = 1
    assert torch.equal(dynamic_local_filter(x, centre), x)
    right = torch.zeros(1, 9, 4, 5)
    right[:, 5] = 1  # tap (u, v) = (1, 2): the right neighbour
    expect = F.pad(x[..., 1:], (0, 1))
    assert torch.equal(dynamic_local_filter(x, right), expect)


def test_dynamic_local_filter_rejects_bad_kernels():
    with pytest.raises(ValueError, match='k\\*k'):
        dynamic_local_filter(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 4, 4))
    with pytest.raises(ValueError, match='share batch'):
        dynamic_local_filter(torch.randn(1, 2, 4, 4), torch.randn(1, 9, 4, 5))


# ----------------------------------------------------------------- attention gate
def test_attention_gate_shape_and_gradients():
    gate = TransDepthAttentionGate(8, dilations=(1, 2))
    r = torch.randn(2, 8, 6, 7, requires_grad=True)
    s = torch.randn(2, 8, 6, 7, requires_grad=True)
    out = gate(r, s)
    assert out.shape == (2, 8, 6, 7)
    assert (out >= 0).all()  # ReLU after the 1x1 combination
    out.sum().backward()
    assert r.grad.abs().sum() > 0 and s.grad.abs().sum() > 0


def test_attention_gate_zero_sender_sends_nothing():
    # every message is gate ⊙ DLF(sender, ·): a zero sender gives ReLU(bias) everywhere
    gate = TransDepthAttentionGate(4, dilations=(1, ))
    out = gate(torch.randn(1, 4, 5, 5), torch.zeros(1, 4, 5, 5))
    bias = F.relu(gate.combine[0].bias).view(1, 4, 1, 1).expand(1, 4, 5, 5)
    assert torch.allclose(out, bias)


def test_attention_gate_errors():
    with pytest.raises(ValueError, match='gate'):
        TransDepthAttentionGate(4, gate='softmax')
    with pytest.raises(ValueError, match='odd'):
        TransDepthAttentionGate(4, kernel_size=2)
    with pytest.raises(ValueError, match='same shape'):
        TransDepthAttentionGate(4)(torch.randn(1, 4, 5, 5), torch.randn(1, 4, 5, 6))


# ----------------------------------------------------------------- head
_feats = partial(level_feats, [32] * 4)


def test_head_output_is_full_resolution_and_in_range():
    head = TransDepthHead(min_depth=0.5, max_depth=10.0, **TINY_HEAD)
    depth = head(_feats())
    assert depth.shape == (2, 1, 64, 96)
    assert depth.min() >= 0.5 and depth.max() <= 10.0


def test_head_without_finer_skips_and_with_other_upsampling():
    head = TransDepthHead(agd_levels=(0, 1, 2, 3), num_upsample=1, **TINY_HEAD)
    assert head.skip_levels == []
    assert head(_feats(b=1)).shape == (1, 1, 32, 48)


def test_head_rejects_bad_options():
    with pytest.raises(ValueError, match='agd_levels'):
        TransDepthHead(agd_levels=(1, 4), **TINY_HEAD)
    with pytest.raises(ValueError, match='divisible'):
        TransDepthHead(num_upsample=5, **TINY_HEAD)
    feats = _feats()
    feats[1] = torch.randn(2, 7, 8, 12)
    with pytest.raises(ValueError, match='in_channels'):
        TransDepthHead(**TINY_HEAD)(feats)


# ----------------------------------------------------------------- whole model / configs
tiny_model_cfg = partial(_tiny_model_cfg, backbone=TINY_BACKBONE, neck=TINY_NECK,
                         decode_head=TINY_HEAD)


def test_loss_is_finite_and_gradient_reaches_backbone():
    check_loss_reaches_backbone(tiny_model_cfg(BASELINE_NYU),
                                lambda m: m.backbone.patch_embed.projection.weight)


def test_predict_with_flip_returns_depth_in_range():
    check_flip_predict_in_range(tiny_model_cfg(BASELINE_NYU), min_depth=1e-3, max_depth=10.0)


@pytest.mark.parametrize('dataset', ['nyu-416x544', 'kitti-352x704'])
def test_dgr_variant_equals_baseline_at_init(dataset):
    check_dgr_equals_baseline(
        tiny_model_cfg(osp.join(
            REPO, 'configs/transdepth', f'transdepth_vit-b16_4xb4-25k_{dataset}.py')),
        tiny_model_cfg(osp.join(
            REPO, 'configs/transdepth', f'transdepth-dgr_vit-b16_4xb4-25k_{dataset}.py')))


@pytest.mark.parametrize('path', LEAVES, ids=[osp.basename(p) for p in LEAVES])
def test_every_leaf_config_builds_through_the_registry(path):
    check_leaf_builds(path, 'TransDepthHead', tiny_model_cfg(path))


def test_full_size_baseline_builds_with_pretrained_off():
    model = copy.deepcopy(Config.fromfile(BASELINE_NYU).model)
    model.backbone.init_cfg = None
    built = MODELS.build(model)
    assert built.backbone.cls_token.shape[-1] == 768
    assert len(built.backbone.layers) == 12


def test_attention_gate_flops_are_countable_by_mmengine():
    """mmengine's FLOP counter traces the module; sizes then come back as tensors, which
    the dynamic filter once fed to round() (TransDepth's FLOPs could not be counted)."""
    from mmengine.analysis import FlopAnalyzer
    gate = TransDepthAttentionGate(8, dilations=(1, 2), kernel_size=3).eval()
    receiver, sender = torch.randn(1, 8, 6, 7), torch.randn(1, 8, 6, 7)
    flops = FlopAnalyzer(gate, (receiver, sender)).total()
    # at least the 1x1 kernel-predicting convolutions: per dilation, one conv of 16 -> 9
    # channels on both maps and two of 8 -> 9, at 6x7 positions (multiply-adds)
    convs = sum(m.weight.numel() for m in gate.modules() if isinstance(m, torch.nn.Conv2d))
    assert flops >= convs * 6 * 7 > 0
