"""DGR host adapters: the contract (declared widths = the maps at each refinement point,
points in forward order, the adapter's forward is the host's), lookup by host class,
errors for unsupported hosts, and adding a host with one adapter."""
import copy

import pytest
import torch
import torch.nn as nn
from mmseg.models.backbones import MSCAN, ResNet
from mmseg.registry import MODELS

from mmdepth_dgr.models.backbones import (DGR_HOST_ADAPTERS, DGRBackbone, DGRHostAdapter,
                                          find_dgr_adapter, supported_host_names)
from mmdepth_dgr.models.backbones.dgr_adapters import MSCANAdapter, ResNetAdapter, refine_tokens
from tests.test_models.test_backbones.test_dgr_backbone import HOSTS, SMALL_DGR, _equal

MSCAN_HOST = dict(type='MSCAN', embed_dims=[8, 16, 32, 64], depths=[1, 2, 1, 1],
                  norm_cfg=dict(type='BN', requires_grad=True))
ALL_HOSTS = dict(HOSTS, mscan=MSCAN_HOST)


def _probe(host, adapter, x):
    """Run the adapter with a refine callback that records every point and returns x."""
    seen = []

    def refine(t, stage, block=None, hw_shape=None):
        if hw_shape is None:
            seen.append((stage, block, t.shape[1]))
        else:
            assert t.shape[1] == hw_shape[0] * hw_shape[1]
            seen.append((stage, block, t.shape[2]))
        return t

    with torch.no_grad():
        out = adapter.forward(host, x, refine)
    return seen, out


@pytest.mark.parametrize('name', sorted(ALL_HOSTS))
def test_adapter_declares_the_widths_of_the_maps_at_each_point_in_forward_order(name):
    host = MODELS.build(copy.deepcopy(ALL_HOSTS[name]))
    host.eval()  # (some mmseg backbones' train() returns None)
    adapter = find_dgr_adapter(host)()
    x = torch.randn(1, 3, 64, 64)
    seen, out = _probe(host, adapter, x)
    expected = []
    for s, (widths, stage_width) in enumerate(zip(adapter.block_channels(host),
                                                  adapter.stage_channels(host))):
        expected += [(s, j, c) for j, c in enumerate(widths)] + [(s, None, stage_width)]
    assert seen == expected
    with torch.no_grad():
        ref = host(x)
    assert _equal(out, ref)  # with an empty refine the adapter *is* the host's forward
    maps = [o[0] if isinstance(o, (list, tuple)) else o for o in ref]
    assert adapter.out_channels(host) == [m.shape[1] for m in maps]


@pytest.mark.parametrize('host_type', ['ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt'])
def test_subclasses_that_keep_the_forward_use_the_base_adapter(host_type):
    kwargs = dict(groups=2, base_width=4) if host_type == 'ResNeXt' else {}
    host = MODELS.build(dict(type=host_type, depth=50 if host_type == 'ResNeXt' else 18,
                             base_channels=8, stem_channels=8, **kwargs))
    assert find_dgr_adapter(host) is ResNetAdapter


def test_a_subclass_that_overrides_forward_is_refused_by_name():
    class MyResNet(ResNet):
        def forward(self, x):
            return super().forward(x)

    host = MyResNet(depth=18, base_channels=8, stem_channels=8)
    with pytest.raises(TypeError, match=r"'MyResNet' overrides the forward of ResNet that "
                                        r'ResNetAdapter mirrors.*DGRNeck'):
        find_dgr_adapter(host)


def test_unsupported_backbone_names_it_and_the_supported_ones():
    with pytest.raises(TypeError, match=r"'MobileNetV2'.*MixVisionTransformer.*ResNet"
                                        r'.*DGRNeck'):
        DGRBackbone(backbone=dict(type='MobileNetV2', widen_factor=0.25))
    assert {'MixVisionTransformer', 'SwinTransformer', 'VisionTransformer', 'ResNet',
            'TIMMEncoder', 'MSCAN'} <= set(supported_host_names())


def test_timm_encoder_around_an_unsupported_timm_model_is_rejected():
    host = dict(type='TIMMEncoder', model_name='test_resnet', out_indices=(0, 1),
                with_head_conv=False)
    with pytest.raises(TypeError, match=r"TIMMEncoder.*EfficientNet.*'ResNet'"):
        DGRBackbone(backbone=host)


@pytest.mark.parametrize('placement', ['block', 'stage'])
def test_mscan_the_readme_example_host_is_the_host_bit_for_bit_at_init(placement):
    wrapper = DGRBackbone(backbone=copy.deepcopy(MSCAN_HOST), dgr=SMALL_DGR,
                          placement=placement)
    wrapper.init_weights()
    wrapper.eval()
    assert isinstance(wrapper.adapter, MSCANAdapter)
    assert len(wrapper.dgr) == (1 + 2 + 1 + 1 if placement == 'block' else 4)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert _equal(wrapper(x), wrapper.backbone(x))
        nn.init.normal_(wrapper.dgr[wrapper._key(*wrapper.points[0])].out_conv.weight,
                        std=0.1)
        assert not _equal(wrapper(x), wrapper.backbone(x))


class _TwoStageNet(nn.Module):
    """A host no adapter knows: two stages of residual 3x3 conv blocks."""

    def __init__(self, width=8, depths=(2, 1)):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.stages = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(d))
            for d in depths)
        self.width = width

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            for conv in stage:
                x = x + conv(x)
            outs.append(x)
        return outs


class _TwoStageNetAdapter(DGRHostAdapter):
    host_class = _TwoStageNet

    def stage_channels(self, host):
        return [host.width] * len(host.stages)

    def block_channels(self, host):
        return [[host.width] * len(stage) for stage in host.stages]

    def out_channels(self, host):
        return self.stage_channels(host)

    def forward(self, host, x, refine):
        x = host.stem(x)
        outs = []
        for i, stage in enumerate(host.stages):
            for j, conv in enumerate(stage):
                x = x + conv(x)
                x = refine(x, i, j)
            x = refine(x, i)
            outs.append(x)
        return outs


def test_a_new_host_needs_only_a_registered_adapter():
    with pytest.raises(TypeError, match="'_TwoStageNet'"):
        DGRBackbone(backbone=dict(type=_TwoStageNet), dgr=SMALL_DGR)
    # nothing else to change: register the adapter and the wrapper runs the host
    # (MODELS.build takes a class as type; a real host is registered in mmseg's MODELS)
    DGR_HOST_ADAPTERS.register_module(module=_TwoStageNetAdapter)
    try:
        wrapper = DGRBackbone(backbone=dict(type=_TwoStageNet), dgr=SMALL_DGR).eval()
    finally:
        DGR_HOST_ADAPTERS._module_dict.pop(_TwoStageNetAdapter.__name__)
    assert wrapper.points == [(0, 0), (0, 1), (1, 0)]
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert _equal(wrapper(x), wrapper.backbone(x))


def test_refine_tokens_keeps_the_token_layout_of_its_input():
    x = torch.randn(2, 12, 5)  # (B, H*W, C) with H, W = 3, 4
    seen = []

    def block(t):
        seen.append(t)
        return t * 2

    out = refine_tokens(block, x, (3, 4))
    # the block sees the (B, C, H, W) grid of the row-major tokens
    assert torch.equal(seen[0], x.transpose(1, 2).reshape(2, 5, 3, 4))
    assert torch.equal(out, x * 2) and out.stride() == x.stride()
    # channels-first tokens (MSCAN's blocks return x.view(B, C, N).permute(0, 2, 1))
    y = torch.randn(2, 5, 12).permute(0, 2, 1)
    assert torch.equal(refine_tokens(block, y, (3, 4)), y * 2)


def test_registry_is_separate_from_mmseg_models():
    assert MODELS.get('MSCANAdapter') is None
    assert DGR_HOST_ADAPTERS.get('MSCANAdapter') is MSCANAdapter
    assert MSCANAdapter.host_class is MSCAN
