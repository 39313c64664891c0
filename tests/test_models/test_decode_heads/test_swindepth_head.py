"""SwinDepthHead: the scale-softmax fusion, the fusion attention module, the head without
the top-down path, its errors and the full-size baseline (what every host shares, incl.
the leaf configs: test_host_matrix.py)."""
import copy
import os.path as osp
from functools import partial

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import (SwinDepthFusionAttention, SwinDepthHead,
                                             scale_softmax_fuse)
from _helpers import REPO, level_feats
from _hosts import tiny_head_cfg

BASELINE_NYU = osp.join(REPO, 'configs/swindepth/swindepth_swin-b_4xb4-25k_nyu-416x544.py')
TINY_HEAD = tiny_head_cfg('swindepth')


# ----------------------------------------------------------------- fusion
def test_scale_softmax_fuse_equal_logits_average_and_dominant_logit_selects():
    feats = torch.randn(2, 3, 4, 5, 6)
    assert torch.allclose(scale_softmax_fuse(feats, torch.zeros(2, 3, 5, 6)),
                          feats.mean(1), atol=1e-6)
    logits = torch.full((2, 3, 5, 6), -1e4)
    logits[:, 2] = 1e4
    assert torch.allclose(scale_softmax_fuse(feats, logits), feats[:, 2])
    with pytest.raises(ValueError, match='logits'):
        scale_softmax_fuse(feats, torch.zeros(2, 2, 5, 6))


def test_fusion_without_attention_is_the_scale_mean():
    fuse = SwinDepthFusionAttention(4, 3, scale_attention=False, channel_attention=False)
    maps = [torch.randn(2, 4, 5, 6) for _ in range(3)]
    assert torch.allclose(fuse(maps), torch.stack(maps).mean(0))
    with pytest.raises(ValueError, match='expected 3 maps'):
        fuse(maps[:2])


def test_fusion_channel_gate_scales_between_one_and_two():
    # out = F·g + F with g in (0, 1): each value of F is multiplied by a factor in (1, 2)
    fuse = SwinDepthFusionAttention(4, 2, scale_attention=False).eval()
    maps = [torch.rand(1, 4, 5, 6) + 0.1 for _ in range(2)]
    ratio = fuse(maps) / torch.stack(maps).mean(0)
    assert (ratio > 1).all() and (ratio < 2).all()
    # the gate is one number per channel (global pooling)
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-5)


# ----------------------------------------------------------------- head
_feats = partial(level_feats, [16, 32, 64, 128])


def test_head_without_top_down_is_full_resolution_and_in_range():
    # top_down=True (the leaves' setting): test_host_matrix.py
    head = SwinDepthHead(top_down=False, min_depth=0.5, max_depth=10.0, **TINY_HEAD)
    depth = head(_feats())
    assert depth.shape == (2, 1, 64, 96)
    assert depth.min() >= 0.5 and depth.max() <= 10.0


def test_head_rejects_bad_options():
    with pytest.raises(ValueError, match='divisible'):
        SwinDepthHead(num_upsample=5, **TINY_HEAD)
    feats = _feats()
    feats[3] = torch.randn(2, 5, 2, 3)
    with pytest.raises(ValueError, match='in_channels'):
        SwinDepthHead(**TINY_HEAD)(feats)


# ----------------------------------------------------------------- full size
def test_full_size_baseline_builds_with_pretrained_off():
    model = copy.deepcopy(Config.fromfile(BASELINE_NYU).model)
    model.backbone.init_cfg = None
    built = MODELS.build(model)
    assert list(built.backbone.num_features) == model.decode_head.in_channels
