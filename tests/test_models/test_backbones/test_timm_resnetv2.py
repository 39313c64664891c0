"""TIMMResNetV2: timm 0.4.5's weight standardisation, the stages it returns and what it
reports (equivalence of the whole DPT-Hybrid: tests/test_official/test_dpt_official.py)."""
import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.backbones import (StdConv2dSameLegacy, TIMMResNetV2,
                                          legacy_standardized_weight)


def test_legacy_standardisation_divides_by_std_plus_eps():
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    flat = w.flatten(1)
    expect = (flat - flat.mean(1, keepdim=True)) / (flat.std(1, unbiased=False,
                                                             keepdim=True) + 1e-5)
    torch.testing.assert_close(legacy_standardized_weight(w, 1e-5), expect.view_as(w))


def test_legacy_conv_is_a_same_padded_conv_with_the_standardised_weight():
    conv = StdConv2dSameLegacy(3, 4, 3, stride=2, eps=1e-5)
    x = torch.randn(1, 3, 8, 10)
    # TF "same" for k=3, s=2 on even sizes: no padding before, one after
    ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), legacy_standardized_weight(conv.weight, 1e-5),
                   None, 2)
    torch.testing.assert_close(conv(x), ref)


def test_stages_and_reported_channels_and_strides():
    net = TIMMResNetV2(layers=(1, 1, 1), out_indices=(0, 1, 2))
    outs = net(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == net.out_channels == [256, 512, 1024]
    assert [64 // o.shape[2] for o in outs] == net.out_strides == [4, 8, 16]
    assert [k for k in net.state_dict() if k.startswith('model.stem.')] == [
        'model.stem.conv.weight', 'model.stem.norm.weight', 'model.stem.norm.bias']


def test_timm_1_standardisation_is_another_function():
    torch.manual_seed(0)
    legacy = TIMMResNetV2(layers=(1, 1, 1), out_indices=(2, ))
    timm1 = TIMMResNetV2(layers=(1, 1, 1), out_indices=(2, ), std_conv='timm',
                         std_conv_eps=1e-8)
    timm1.load_state_dict(legacy.state_dict())
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(legacy(x)[0], timm1(x)[0], rtol=1e-5, atol=1e-5)


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='std_conv'):
        TIMMResNetV2(layers=(1, 1, 1), std_conv='ws')
    with pytest.raises(ValueError, match='out_indices'):
        TIMMResNetV2(layers=(1, 1, 1), out_indices=(3, ))
