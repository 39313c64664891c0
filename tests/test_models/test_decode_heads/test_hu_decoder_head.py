"""HuDecoderHead (the pair's shared decoder): up-projection, output size/range, errors,
Hu et al.'s loss through the head and gradients into both encoders of the pair."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.models.decode_heads import HuDecoderHead, HuUpProjection
from _helpers import REPO, depth_batch

PAIR = {
    'r18': osp.join(REPO, 'configs/cnn_vs_transformer/'
                    'hu-pair_r18_1xb4-600iter_synnyu-240x320.py'),
    'mit-b0': osp.join(REPO, 'configs/cnn_vs_transformer/'
                       'hu-pair_mit-b0_1xb4-600iter_synnyu-240x320.py'),
}
TINY_HEAD = dict(in_channels=[8, 16, 32, 64], channels=32, mff_channels=4,
                 refine_channels=8, refine_kernel=3)


def test_up_projection_doubles_by_default_and_honours_size():
    up = HuUpProjection(4, 6)
    x = torch.randn(2, 4, 5, 7)
    assert up(x).shape == (2, 6, 10, 14)
    out = up(x, (9, 11))
    assert out.shape == (2, 6, 9, 11)
    assert (out >= 0).all()  # ReLU of the summed branches


def _feats(b=2, h=64, w=96, chans=(8, 16, 32, 64)):
    return [torch.randn(b, c, h // s, w // s) for c, s in zip(chans, (4, 8, 16, 32))]


def test_head_predicts_at_half_resolution_in_range():
    head = HuDecoderHead(min_depth=0.5, max_depth=10.0, **TINY_HEAD)
    depth = head(_feats())
    assert depth.shape == (2, 1, 32, 48)  # 1/32 × 2**4
    assert depth.min() >= 0.5 and depth.max() <= 10.0
    # D's last width is channels / 2**num_up, MFF 4 × mff_channels
    assert head.refine[0].conv.in_channels == 32 // 16 + 4 * 4


def test_head_num_up_sets_output_stride():
    head = HuDecoderHead(num_up=3, **TINY_HEAD)
    assert head(_feats(1)).shape == (1, 1, 16, 24)


def test_head_relu_activation_is_unbounded_above():
    head = HuDecoderHead(depth_activation='relu', min_depth=0.1, max_depth=1.0,
                         **TINY_HEAD)
    torch.nn.init.constant_(head.depth_pred.bias, 5.0)
    torch.nn.init.zeros_(head.depth_pred.weight)
    assert torch.allclose(head(_feats(1)), torch.full((1, 1, 32, 48), 5.1))


def test_head_rejects_bad_options():
    with pytest.raises(ValueError, match='divisible'):
        HuDecoderHead(**dict(TINY_HEAD, channels=24))
    with pytest.raises(ValueError, match='odd'):
        HuDecoderHead(**dict(TINY_HEAD, refine_kernel=4))
    with pytest.raises(ValueError, match='in_channels'):
        HuDecoderHead(**TINY_HEAD)(_feats(chans=(8, 16, 32, 65)))


@pytest.mark.parametrize('encoder', sorted(PAIR))
def test_hu_loss_is_finite_and_reaches_the_encoder(encoder):
    model = MODELS.build(copy.deepcopy(Config.fromfile(PAIR[encoder]).model))
    losses = model.loss(*depth_batch())
    assert set(losses) == {'decode.loss_hu'}
    assert torch.isfinite(losses['decode.loss_hu'])
    losses['decode.loss_hu'].backward()
    first = (model.backbone.stem[0].weight if encoder == 'r18'
             else model.backbone.layers[0][0].projection.weight)
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_mff_pre_reduce_makes_the_fusion_width_independent_of_the_encoder():
    heads = [HuDecoderHead(mff_pre_reduce=6, **dict(TINY_HEAD, in_channels=list(chans)))
             for chans in ((8, 16, 32, 64), (4, 4, 4, 4))]
    for head in heads:
        assert [up.branch2.conv.in_channels for up in head.mff_up] == [6, 6, 6, 6]
    plain = HuDecoderHead(**TINY_HEAD)
    assert [up.branch2.conv.in_channels for up in plain.mff_up] == [8, 16, 32, 64]
    depth = heads[1](_feats(1, chans=(4, 4, 4, 4)))
    assert depth.shape == (1, 1, 32, 48)
