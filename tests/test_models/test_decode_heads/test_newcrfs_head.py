"""NeWCRFsHead: window FC-CRF attention vs a loop reference, output range, loss, DGR
equivalence at init and every leaf config of configs/newcrfs."""
import glob
import os.path as osp
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.decode_heads import NeWCRFsHead
from mmdepth_dgr.models.utils import (
    CRFWindowAttention, shifted_window_mask, window_attention_2d)

from _helpers import (REPO, check_dgr_equals_baseline, check_flip_predict_in_range,
                      check_leaf_builds, check_loss_reaches_backbone, level_feats,
                      synthetic_runner_cfg)
from _helpers import tiny_model_cfg as _tiny_model_cfg

LEAVES = sorted(glob.glob(osp.join(REPO, 'configs', 'newcrfs', '*.py')))
BASELINE_NYU = osp.join(REPO, 'configs/newcrfs/newcrfs_swin-l-w7_4xb4-25k_nyu-416x544.py')
TINY_BACKBONE = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
                     pretrain_img_size=64, drop_path_rate=0.0, init_cfg=None)
TINY_HEAD = dict(in_channels=[16, 32, 64, 128], channels=32, crf_dims=(16, 32, 64, 128),
                 crf_num_heads=(1, 2, 2, 4),
                 ppm_norm_cfg=dict(type='GN', num_groups=8, requires_grad=True))


# ----------------------------------------------------------------- loop reference
def _reference_window_attention(x, v, qk, proj, table, w, shift):
    """Attention written pixel-pair by pixel-pair from the NeWCRFs paper's definition.

    Regions for the shifted case: after rolling by -shift, a token is "wrapped" along an
    axis iff it came from the first ``shift`` rows/cols; two tokens of a window may talk
    iff they agree on both wrap flags (else −100, the hosts' value).
    """
    B, H, W, C = x.shape
    pad_b, pad_r = (-H) % w, (-W) % w
    x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    v = F.pad(v, (0, 0, 0, pad_r, 0, pad_b))
    Hp, Wp = H + pad_b, W + pad_r
    if shift:
        x = torch.roll(x, (-shift, -shift), (1, 2))
        v = torch.roll(v, (-shift, -shift), (1, 2))
    nh = table.shape[1]
    d = C // nh
    q_all, k_all = qk(x).split(C, dim=-1)
    out = torch.zeros(B, Hp, Wp, C)
    for b in range(B):
        for wy in range(0, Hp, w):
            for wx in range(0, Wp, w):
                pos = [(wy + i, wx + j) for i in range(w) for j in range(w)]
                for h in range(nh):
                    sl = slice(h * d, (h + 1) * d)
                    for (yi, xi) in pos:
                        logits = []
                        for (yj, xj) in pos:
                            s = (q_all[b, yi, xi, sl] * k_all[b, yj, xj, sl]).sum() / d**0.5
                            idx = (yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1)
                            s = s + table[idx, h]
                            if shift:
                                same = ((yi >= Hp - shift) == (yj >= Hp - shift)) and \
                                       ((xi >= Wp - shift) == (xj >= Wp - shift))
                                s = s + (0.0 if same else -100.0)
                            logits.append(s)
                        a = torch.softmax(torch.stack(logits), 0)
                        vals = torch.stack([v[b, yj, xj, sl] for (yj, xj) in pos])
                        out[b, yi, xi, sl] = (a[:, None] * vals).sum(0)
    out = proj(out)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    return out[:, :H, :W]


@pytest.mark.parametrize('hw,shift', [((8, 8), 0), ((8, 8), 2), ((6, 7), 0), ((6, 7), 2)])
def test_crf_window_attention_matches_loop_reference(hw, shift):
    w, C = 4, 8
    attn = CRFWindowAttention(C, num_heads=2, window_size=w)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.0)
    x, v = torch.randn(1, *hw, C), torch.randn(1, *hw, C)
    got = window_attention_2d(attn, x, v, w, shift)
    with torch.no_grad():
        ref = _reference_window_attention(x, v, attn.qk, attn.proj,
                                          attn.relative_position_bias_table, w, shift)
    assert torch.allclose(got, ref, atol=1e-5)


def test_shifted_window_mask_blocks_only_wrapped_pairs():
    m = shifted_window_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16)
    assert (m[0] == 0).all()  # the top-left window never contains wrapped tokens
    assert (m[3] != 0).any()  # the bottom-right one mixes four regions
    with pytest.raises(ValueError, match='multiple of window_size'):
        shifted_window_mask(9, 8, 4, 2)


# ----------------------------------------------------------------- head
_feats = partial(level_feats, [16, 32, 64, 128])


def test_head_output_shape_and_range():
    head = NeWCRFsHead(max_depth=10.0, min_depth=0.5, **TINY_HEAD)
    depth = head(_feats())
    assert depth.shape == (2, 1, 64, 96)
    assert depth.min() > 0.5 and depth.max() < 10.0


def test_zero_min_depth_is_sigmoid_times_max_depth():
    head = NeWCRFsHead(max_depth=10.0, min_depth=0.0, **TINY_HEAD).eval()
    feats = _feats(b=1)
    captured = {}
    head.depth_conv.register_forward_hook(lambda m, i, o: captured.update(logit=o))
    depth = head(feats)
    expect = F.interpolate(torch.sigmoid(captured['logit']) * 10.0, scale_factor=4,
                           mode='bilinear', align_corners=False)
    assert torch.allclose(depth, expect, atol=1e-6)


def test_head_rejects_wrong_level_channels():
    head = NeWCRFsHead(**TINY_HEAD)
    feats = _feats()
    feats[2] = torch.randn(2, 10, 4, 6)
    with pytest.raises(ValueError, match='in_channels'):
        head(feats)
    with pytest.raises(ValueError, match='num_groups'):
        NeWCRFsHead(**dict(TINY_HEAD, ppm_norm_cfg=dict(type='GN', num_groups=7)))


# ----------------------------------------------------------------- whole model / configs
tiny_model_cfg = partial(_tiny_model_cfg, backbone=TINY_BACKBONE, decode_head=TINY_HEAD)


def test_loss_is_finite_and_gradient_reaches_backbone():
    check_loss_reaches_backbone(tiny_model_cfg(BASELINE_NYU),
                                lambda m: m.backbone.patch_embed.projection.weight)


def test_predict_with_flip_returns_depth_in_range():
    check_flip_predict_in_range(tiny_model_cfg(BASELINE_NYU))


@pytest.mark.parametrize('dataset', ['nyu-416x544'])
def test_dgr_variant_equals_baseline_at_init(dataset):
    check_dgr_equals_baseline(
        tiny_model_cfg(osp.join(
            REPO, 'configs/newcrfs', f'newcrfs_swin-l-w7_4xb4-25k_{dataset}.py')),
        tiny_model_cfg(osp.join(
            REPO, 'configs/newcrfs', f'newcrfs-dgr_swin-l-w7_4xb4-25k_{dataset}.py')))


@pytest.mark.parametrize('path', LEAVES, ids=[osp.basename(p) for p in LEAVES])
def test_every_leaf_config_builds_through_the_registry(path):
    check_leaf_builds(path, 'NeWCRFsHead', tiny_model_cfg(path))


# ----------------------------------------------------------------- a few Runner iterations
def test_a_few_runner_iterations_on_generated_data(synthetic_nyu_root, tmp_path):
    from mmengine.runner import Runner
    dgr_leaf = BASELINE_NYU.replace('/newcrfs_swin-l', '/newcrfs-dgr_swin-l')
    runner = Runner.from_cfg(synthetic_runner_cfg(dgr_leaf, tmp_path, synthetic_nyu_root,
                                                  tiny_model_cfg(dgr_leaf)))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    losses = runner.message_hub.get_scalar('train/decode.loss_silog').data[0]
    assert len(losses) == 3 and torch.isfinite(torch.as_tensor(losses)).all()
    after = runner.model.state_dict()
    assert not torch.equal(before['decode_head.top.bottleneck.conv.weight'],
                           after['decode_head.top.bottleneck.conv.weight'])
    assert any(k.startswith('backbone.dgr.') for k in after)
    metrics = {k: v for k, v in runner.message_hub.log_scalars.items()
               if k.startswith('val/')}
    assert metrics, 'the validation loop did not run'
