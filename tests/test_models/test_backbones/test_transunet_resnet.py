"""TransUNetResNetV2: TransUNet's R50 (TransDepth's encoder stem): outputs, strides, the
zero padding of the short 1/4 map, its norms (equivalence of the whole TransDepth:
tests/test_official/test_transdepth_official.py)."""
import pytest
import torch

from mmdepth_dgr.models.backbones import TransUNetResNetV2, pad_to_stride


def test_outputs_strides_and_reported_channels():
    net = TransUNetResNetV2(block_units=(1, 2, 1), width_factor=0.5)
    outs = net(torch.randn(2, 3, 64, 96))
    assert [o.shape[1] for o in outs] == net.out_channels == [32, 128, 256, 512]
    assert [tuple(o.shape[2:]) for o in outs] == [(32, 48), (16, 24), (8, 12), (4, 6)]
    assert net.out_strides == [2, 4, 8, 16]


def test_unpadded_pool_leaves_the_quarter_map_short_and_it_is_zero_padded():
    net = TransUNetResNetV2(block_units=(1, 1, 1), width_factor=0.5).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        short = net.body.block1(net.pool(net.root(x)))     # (64/2 - 3) // 2 + 1 = 15 rows
        quarter = net(x)[1]
    assert tuple(short.shape[2:]) == (15, 23)
    assert torch.equal(quarter[:, :, :15, :23], short)
    assert (quarter[:, :, 15] == 0).all() and (quarter[:, :, :, 23] == 0).all()


def test_norms_are_transunets():
    unit = TransUNetResNetV2(block_units=(1, 1, 1)).body.block2.unit1
    assert unit.gn1.num_groups == 32 and unit.gn1.eps == 1e-6
    assert unit.gn_proj.num_groups == unit.gn_proj.num_channels == 512
    assert unit.gn_proj.eps == 1e-5
    assert unit.conv2.stride == (2, 2) and unit.downsample.stride == (2, 2)


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='divisible by 32'):
        pad_to_stride(torch.zeros(1, 1, 10, 10), (14, 10))
    with pytest.raises(ValueError, match='width_factor'):
        TransUNetResNetV2(width_factor=0.25)
    with pytest.raises(ValueError, match='block_units'):
        TransUNetResNetV2(block_units=(3, 4))
