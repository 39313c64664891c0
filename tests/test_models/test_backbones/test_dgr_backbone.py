"""DGRBackbone: bit-exact identity with each host at init, shapes, gradients, errors.

Hosts: mmseg's MiT/Swin/ViT/ResNet and the project's TIMMEncoder (timm EfficientNet and
MobileNetV3, whose ``forward_intermediates`` loop DGRBackbone mirrors).
"""
import copy

import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmdepth_dgr.models.backbones import DGRBackbone

HOSTS = {
    'mit': dict(type='MixVisionTransformer', embed_dims=16, num_layers=[1, 1, 1, 1],
                num_heads=[1, 2, 5, 8]),
    'swin': dict(type='SwinTransformer', embed_dims=24, depths=(1, 1, 1, 1),
                 num_heads=(1, 1, 1, 1), window_size=4),
    'vit': dict(type='VisionTransformer', img_size=(32, 32), patch_size=8, embed_dims=16,
                num_layers=4, num_heads=2, out_indices=(1, 3), final_norm=True),
    'vit_origin_nocls': dict(type='VisionTransformer', img_size=(32, 32), patch_size=8,
                             embed_dims=16, num_layers=3, num_heads=2, out_indices=(0, 2),
                             with_cls_token=False, out_origin=True),
    'resnet18v1c': dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8),
    'resnet18': dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                     out_indices=(1, 3)),
    'timm_effnet': dict(type='TIMMEncoder', model_name='test_efficientnet',
                        out_indices=(0, 2, 3), with_head_conv=True),
    'timm_mnv3': dict(type='TIMMEncoder', model_name='mobilenetv3_small_050',
                      out_indices=(1, 3), with_head_conv=False),
}
# (channels of each output, spatial stride of each output) at 64x64 input
EXPECTED = {
    'mit': ([16, 32, 80, 128], [4, 8, 16, 32]),
    'swin': ([24, 48, 96, 192], [4, 8, 16, 32]),
    'vit': ([16, 16], [8, 8]),
    'vit_origin_nocls': ([16, 16, 16], [8, 8, 8]),
    'resnet18v1c': ([8, 16, 32, 64], [4, 8, 16, 32]),
    'resnet18': ([16, 64], [8, 32]),
    # levels 0, 2, 3 (strides 2, 8, 16) + conv_head of the last level (stride 32)
    'timm_effnet': ([16, 32, 48, 256], [2, 8, 16, 32]),
    'timm_mnv3': ([8, 24], [4, 16]),
}
SMALL_DGR = dict(reduction_ratio=4, inter_channels=4)


def _pair(name, **kwargs):
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS[name]), dgr=SMALL_DGR, **kwargs)
    wrapper.init_weights()
    return wrapper.eval()


@pytest.mark.parametrize('name', sorted(HOSTS))
def test_wrapper_equals_host_forward_bit_for_bit_at_init(name):
    wrapper = _pair(name)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
    assert type(got) is type(ref) and len(got) == len(ref)
    for g, r in zip(got, ref):
        assert torch.equal(g, r)


@pytest.mark.parametrize('name', sorted(HOSTS))
def test_shapes_and_out_channels(name):
    wrapper = _pair(name)
    chans, strides = EXPECTED[name]
    assert wrapper.out_channels == chans
    with torch.no_grad():
        outs = wrapper(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, c, 64 // s, 64 // s)
                                             for c, s in zip(chans, strides)]


@pytest.mark.parametrize('name', ['mit', 'swin', 'vit', 'resnet18v1c', 'timm_effnet',
                                  'timm_mnv3'])
def test_refinement_feeds_the_next_stage(name):
    # Perturb only the first refined stage's DGR output: every later output must change.
    wrapper = _pair(name)
    first = wrapper.stages[0]
    nn.init.normal_(wrapper.dgr[str(first)].out_conv.weight, std=0.1)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
    assert not torch.equal(got[-1], ref[-1])


def test_disabled_dgr_is_the_host():
    for kwargs in (dict(stages=[]), dict(dgr=None)):
        wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS['mit']), **kwargs)
        assert len(wrapper.dgr) == 0
        nn.init.normal_(wrapper.backbone.layers[0][0].projection.weight)
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            assert all(torch.equal(a, b) for a, b in zip(wrapper(x), wrapper.backbone(x)))


def test_stage_selection_and_vit_default_is_out_indices():
    assert _pair('mit', stages=[1, 3]).stages == [1, 3]
    assert sorted(_pair('mit', stages=[1, 3]).dgr) == ['1', '3']
    assert _pair('vit').stages == [1, 3]
    with pytest.raises(ValueError, match='out of range'):
        _pair('mit', stages=[4])


def test_flat_form_equals_nested_form():
    flat = dict(HOSTS['mit'])
    host_type = flat.pop('type')
    torch.manual_seed(0)
    a = MODELS.build(dict(type='DGRBackbone', host_type=host_type, **flat))
    torch.manual_seed(0)
    b = MODELS.build(dict(type='DGRBackbone', backbone=HOSTS['mit']))
    assert a.out_channels == b.out_channels
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(ValueError, match='one way only'):
        DGRBackbone(backbone=HOSTS['mit'], embed_dims=8)
    with pytest.raises(ValueError, match='host_type'):
        DGRBackbone()


def test_init_weights_runs_the_host_init_and_keeps_dgr_zero(monkeypatch):
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS['mit']), dgr=SMALL_DGR)
    calls = []
    orig = type(wrapper.backbone).init_weights
    monkeypatch.setattr(type(wrapper.backbone), 'init_weights',
                        lambda self: (calls.append(1), orig(self)))
    for block in wrapper.dgr.values():
        nn.init.normal_(block.out_conv.weight)
    wrapper.init_weights()
    assert calls == [1]
    assert all(torch.count_nonzero(b.out_conv.weight) == 0 for b in wrapper.dgr.values())


def test_pretrained_init_cfg_loads_into_the_host(tmp_path):
    host = MODELS.build(copy.deepcopy(HOSTS['resnet18']))
    ckpt = tmp_path / 'host.pth'
    torch.save({'state_dict': host.state_dict()}, ckpt)
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS['resnet18']), dgr=SMALL_DGR,
                          init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    wrapper.init_weights()
    sd = wrapper.backbone.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in host.state_dict().items())


def test_gradients_reach_host_and_dgr():
    wrapper = _pair('mit').train()
    x = torch.randn(2, 3, 32, 32)
    sum(o.mean() for o in wrapper(x)).backward()
    assert wrapper.dgr['0'].out_conv.weight.grad.abs().sum() > 0
    assert wrapper.backbone.layers[0][0].projection.weight.grad.abs().sum() > 0


def test_unsupported_backbone_names_it_and_the_supported_ones():
    with pytest.raises(TypeError, match=r"'MobileNetV2'.*MixVisionTransformer.*ResNet"):
        DGRBackbone(backbone=dict(type='MobileNetV2', widen_factor=0.25))


def test_timm_levels_are_refined_where_timm_taps_them_even_if_not_returned():
    # test_efficientnet: 5 levels (16, 24, 32, 48, 64 channels), one per block; every
    # level gets a DGR block, level 1 is refined (feeds level 2) though not returned.
    wrapper = _pair('timm_effnet')
    assert wrapper.stages == [0, 1, 2, 3, 4]
    assert wrapper.dgr_channels == [16, 24, 32, 48, 64]
    nn.init.normal_(wrapper.dgr['1'].out_conv.weight, std=0.1)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
    assert torch.equal(got[0], ref[0])  # level 0 is upstream of the change
    assert all(not torch.equal(g, r) for g, r in zip(got[1:], ref[1:]))
    # Level 2 (returned) is timm's block 2 applied to the refined level-1 map.
    m = wrapper.backbone.timm_model
    with torch.no_grad():
        level1 = m.forward_intermediates(x, indices=[1], intermediates_only=True)[0]
        expected = m.blocks[2](wrapper.dgr['1'](level1))
    assert torch.equal(got[1], expected)


def test_timm_encoder_around_an_unsupported_timm_model_is_rejected():
    host = dict(type='TIMMEncoder', model_name='test_resnet', out_indices=(0, 1),
                with_head_conv=False)
    with pytest.raises(TypeError, match=r"TIMMEncoder.*EfficientNet.*'ResNet'"):
        DGRBackbone(backbone=host)
