"""TransDepthHead and its layers: the dynamic local filter vs an unfold reference, the
structured attention, the attention gate and the AGD, the BTS decoder with local planar
guidance, the backbone taps and head errors, the official settings of every leaf config
(what every host shares: test_host_matrix.py; equivalence with the official network:
tests/test_official/test_transdepth_official.py)."""
import glob
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (BTSDecoder, BTSReduction, TransDepthAGD,
                                             TransDepthAttentionGate, dynamic_local_filter,
                                             local_planar_guidance, structured_attention)
from _helpers import REPO
from _hosts import BY_NAME, leaf_config
from _hosts import tiny_model_cfg as _tiny_model_cfg

LEAVES = sorted(glob.glob(osp.join(REPO, 'configs', 'transdepth', '*.py')))
BASELINE_NYU = osp.join(REPO,
                        'configs/transdepth/transdepth_r50-vit-b16_4xb4-25k_nyu-416x544.py')


def tiny_model_cfg(path):
    return _tiny_model_cfg(BY_NAME['transdepth'], path)


# ----------------------------------------------------------------- dynamic local filter
@pytest.mark.parametrize('dilation,k', [(1, 3), (4, 3), (2, 5)])
def test_dynamic_local_filter_matches_unfold_reference(dilation, k):
    x = torch.randn(2, 3, 7, 9)
    kernels = torch.randn(2, k * k, 7, 9)
    pad = dilation * (k // 2)
    cols = F.unfold(x, k, dilation=dilation, padding=pad).view(2, 3, k * k, 7, 9)
    ref = (cols * kernels[:, None]).sum(2)
    assert torch.allclose(dynamic_local_filter(x, kernels, dilation), ref, atol=1e-5)


def test_dynamic_local_filter_rejects_bad_kernels():
    with pytest.raises(ValueError, match='k\\*k'):
        dynamic_local_filter(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 4, 4))
    with pytest.raises(ValueError, match='share batch'):
        dynamic_local_filter(torch.randn(1, 2, 4, 4), torch.randn(1, 9, 4, 5))


# ----------------------------------------------------------------- structured attention
def test_structured_attention_is_the_official_random_channel_weighting():
    att = torch.randn(2, 5, 3, 4)
    torch.manual_seed(7)
    out = structured_attention(att, rank=3)
    torch.manual_seed(7)
    expect = torch.zeros_like(att)
    for _ in range(3):  # official struc_att, written out
        alpha = torch.softmax(torch.randn(2, 5), dim=1).view(2, 5, 1, 1)
        expect = expect + torch.sigmoid((alpha * att).sum(1, keepdim=True)) * alpha * att
    torch.testing.assert_close(out, expect)
    assert torch.equal(structured_attention(att, rank=0), att)
    assert not torch.allclose(structured_attention(att), out)  # new draws, new output


def test_gate_is_random_unless_sigmoid_and_a_zero_sender_sends_nothing():
    r, s = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 5, 6)
    gate = TransDepthAttentionGate(4, dilations=(1, 2))
    assert not torch.allclose(gate(r, s), gate(r, s))
    sig = TransDepthAttentionGate(4, dilations=(1, 2), gate='sigmoid')
    assert torch.equal(sig(r, s), sig(r, s))
    # every message is gate ⊙ DLF(sender, ·): a zero sender gives ReLU(bias) everywhere
    out = gate(r, torch.zeros_like(s))
    bias = F.relu(gate.combine[0].bias).view(1, 4, 1, 1).expand(1, 4, 5, 6)
    torch.testing.assert_close(out, bias)
    with pytest.raises(ValueError, match='gate'):
        TransDepthAttentionGate(4, gate='softmax')
    with pytest.raises(ValueError, match='same shape'):
        gate(r, torch.randn(1, 4, 5, 7))


def test_agd_fuses_three_levels_into_four_widths_at_1_32():
    agd = TransDepthAGD([8, 12, 16], width=4)
    out = agd(torch.randn(2, 8, 8, 12), torch.randn(2, 12, 4, 6), torch.randn(2, 16, 2, 3))
    assert out.shape == (2, 16, 2, 3) and agd.out_channels == 16
    with pytest.raises(ValueError, match='three levels'):
        TransDepthAGD([8, 12])


def test_agd_flops_are_countable_by_mmengine():
    """mmengine's FLOP counter traces the module; sizes then come back as tensors, which
    the dynamic filter once fed to round() (TransDepth's FLOPs could not be counted)."""
    from mmengine.analysis import FlopAnalyzer
    gate = TransDepthAttentionGate(8, dilations=(1, 2), gate='sigmoid').eval()
    receiver, sender = torch.randn(1, 8, 6, 7), torch.randn(1, 8, 6, 7)
    flops = FlopAnalyzer(gate, (receiver, sender)).total()
    convs = sum(m.weight.numel() for m in gate.modules() if isinstance(m, torch.nn.Conv2d))
    assert flops >= convs * 6 * 7 > 0


# ----------------------------------------------------------------- BTS decoder
def test_planar_guidance_of_a_fronto_parallel_plane_is_its_distance():
    plane = torch.zeros(1, 4, 2, 3)
    plane[:, 2], plane[:, 3] = 1.0, 2.5          # n = (0, 0, 1), δ = 2.5
    assert torch.equal(local_planar_guidance(plane, 4), torch.full((1, 1, 8, 12), 2.5))


def test_planar_guidance_follows_the_plane_over_the_patch():
    n = torch.tensor([0.3, -0.2, math.sqrt(1 - 0.13)])
    plane = torch.cat([n, torch.tensor([2.0])]).view(1, 4, 1, 1)
    depth = local_planar_guidance(plane, 2)[0, 0]
    offs = torch.tensor([-0.25, 0.25])           # (0..k-1 - (k-1)/2) / k for k = 2
    expect = 2.0 / (n[0] * offs[None, :] + n[1] * offs[:, None] + n[2])
    torch.testing.assert_close(depth, expect)


def test_bts_reduction_halves_the_width_down_to_the_plane():
    red = BTSReduction(32, 32, max_depth=10.0)
    convs = [m for m in red.reduc if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(32, 32), (32, 16), (16, 8),
                                                                 (8, 3)]
    plane = red(torch.randn(2, 32, 3, 4))
    assert plane.shape == (2, 4, 3, 4)
    torch.testing.assert_close(plane[:, :3].norm(dim=1), torch.ones(2, 3, 4))
    assert (plane[:, 3] > 0).all() and (plane[:, 3] < 10).all()
    final = BTSReduction(8, 4, max_depth=10.0, is_final=True)(torch.randn(1, 8, 2, 2))
    assert final.shape == (1, 1, 2, 2) and (final > 0).all() and (final < 1).all()
    with pytest.raises(ValueError, match='start_channels'):
        BTSReduction(8, 2, max_depth=10.0)


def test_bts_decoder_predicts_at_twice_the_finest_skip_in_range():
    chans = [8, 16, 24, 32, 40]
    sizes = [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]   # strides 2..32 of 64 x 96
    dec = BTSDecoder(chans, channels=128, max_depth=10.0)
    depth = dec(*[torch.randn(2, c, *s) for c, s in zip(chans, sizes)])
    assert depth.shape == (2, 1, 64, 96)
    assert (depth > 0).all() and (depth < 10).all()
    with pytest.raises(ValueError, match='bts_size'):
        BTSDecoder(chans, channels=64)


# ----------------------------------------------------------------- the head
def test_backbone_reports_what_the_head_reads():
    cfg = tiny_model_cfg(BASELINE_NYU)
    model = MODELS.build(cfg)
    feats = model.backbone(torch.randn(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == list(cfg.decode_head.in_channels)
    assert model.backbone.out_channels == list(cfg.decode_head.in_channels)
    assert [64 // f.shape[2] for f in feats] == model.backbone.out_strides == [2, 4, 8, 16]


def test_head_errors_name_the_option():
    head = tiny_model_cfg(BASELINE_NYU).decode_head
    with pytest.raises(ValueError, match='min_depth'):
        MODELS.build(dict(head, min_depth=1e-3))
    with pytest.raises(ValueError, match='four levels'):
        MODELS.build(dict(head, in_channels=[128, 256, 32], in_index=[1, 2, 3]))


# ----------------------------------------------------------------- leaf configs
@pytest.mark.parametrize('path', LEAVES, ids=[osp.basename(p) for p in LEAVES])
def test_every_leaf_config_is_the_official_network(path):
    cfg = leaf_config(path)
    head = cfg.model.decode_head
    kitti = 'kitti' in path
    assert head.min_depth == 0.0 and head.channels == 512
    assert head.agd == dict(width=512, dilations=(1, 4, 8), gate='structured', att_rank=3)
    # bts_main.py: loss on GT > 0.1 m (NYU) / > 1 m (KITTI); online eval of KITTI puts the
    # KB-cropped prediction back into the full frame before the Garg crop
    assert head.gt_valid_min == (1.0 if kitti else 0.1)
    if kitti:
        assert cfg.val_evaluator.crop_convention == 'full_size'
    vit = cfg.model.backbone.vit
    assert (vit.embed_dims, vit.num_layers, vit.in_channels) == (768, 12, 1024)
    assert tuple(cfg.model.backbone.cnn.block_units) == (3, 4, 9)
