"""DGRBackbone: bit-exact identity with each host at init for both placements, block
counts, where the refinement happens, selection options and their errors, the shared SE,
flat-form typos.

Hosts: mmseg's MiT/Swin/ViT/ResNet and the project's TIMMEncoder (timm EfficientNet and
MobileNetV3). Stage depths are uneven on purpose so that block counts and block indices
are checkable.
"""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from mmdepth_dgr.models.backbones import DGRBackbone

HOSTS = {
    'mit': dict(type='MixVisionTransformer', embed_dims=16, num_layers=[1, 2, 1, 1],
                num_heads=[1, 2, 5, 8]),
    'swin': dict(type='SwinTransformer', embed_dims=24, depths=(2, 1, 3, 1),
                 num_heads=(1, 1, 1, 1), window_size=4),
    'vit': dict(type='VisionTransformer', img_size=(32, 32), patch_size=8, embed_dims=16,
                num_layers=4, num_heads=2, out_indices=(1, 3), final_norm=True),
    'vit_origin_nocls': dict(type='VisionTransformer', img_size=(32, 32), patch_size=8,
                             embed_dims=16, num_layers=3, num_heads=2, out_indices=(0, 2),
                             with_cls_token=False, out_origin=True),
    'vit_cls_out': dict(type='VisionTransformer', img_size=(32, 32), patch_size=8,
                        embed_dims=16, num_layers=3, num_heads=2, out_indices=(1, 2),
                        output_cls_token=True, final_norm=False),
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
    'vit_cls_out': ([16, 16], [8, 8]),
    'resnet18v1c': ([8, 16, 32, 64], [4, 8, 16, 32]),
    'resnet18': ([16, 64], [8, 32]),
    # levels 0, 2, 3 (strides 2, 8, 16) + conv_head of the last level (stride 32)
    'timm_effnet': ([16, 32, 48, 256], [2, 8, 16, 32]),
    'timm_mnv3': ([8, 24], [4, 16]),
}
SMALL_DGR = dict(reduction_ratio=4, inter_channels=4)
PLACEMENTS = ('block', 'stage')


def _host_block_counts(name, host):
    """Blocks per stage as the host config / timm's own module list states them."""
    cfg = HOSTS[name]
    if name == 'mit':
        return list(cfg['num_layers'])
    if name == 'swin':
        return list(cfg['depths'])
    if name.startswith('vit'):
        return [1] * cfg['num_layers']
    if name.startswith('resnet'):
        return [2, 2, 2, 2]  # ResNet-18
    # timm: every block of every timm stage, grouped by the feature level it ends in
    m = host.timm_model
    ends = [f['stage'] for f in m.feature_info]
    starts = [1] + [e + 1 for e in ends[:-1]]
    return [sum(len(m.blocks[p - 1]) for p in range(s, e + 1)) for s, e in zip(starts, ends)]


def _wrapper(name, **kwargs):
    kwargs.setdefault('dgr', SMALL_DGR)
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS[name]), **kwargs)
    wrapper.init_weights()
    return wrapper.eval()


def _flat(outs):
    """Tensors of a backbone output (ViT with output_cls_token nests [map, cls])."""
    for o in outs:
        if isinstance(o, (list, tuple)):
            yield from _flat(o)
        else:
            yield o


def _equal(got, ref):
    got, ref = list(_flat(got)), list(_flat(ref))
    return len(got) == len(ref) and all(torch.equal(g, r) for g, r in zip(got, ref))


# ---------------------------------------------------------------- identity, counts, order
@pytest.mark.parametrize('placement', PLACEMENTS)
@pytest.mark.parametrize('name', sorted(HOSTS))
def test_wrapper_equals_host_forward_bit_for_bit_at_init(name, placement):
    wrapper = _wrapper(name, placement=placement)
    assert len(wrapper.dgr) > 0
    for shape in ((2, 3, 64, 64), (1, 3, 32, 64)):
        x = torch.randn(*shape)
        with torch.no_grad():
            got, ref = wrapper(x), wrapper.backbone(x)
        assert type(got) is type(ref)
        assert _equal(got, ref)


@pytest.mark.parametrize('name', sorted(HOSTS))
def test_block_placement_puts_one_dgr_after_every_host_block(name):
    wrapper = _wrapper(name)
    counts = _host_block_counts(name, wrapper.backbone)
    assert wrapper.placement == 'block'
    assert len(wrapper.dgr) == sum(counts)
    assert wrapper.points == [(s, j) for s, n in enumerate(counts) for j in range(n)]
    assert sorted(wrapper.dgr) == sorted(f'{s}_{j}' for s, j in wrapper.points)


@pytest.mark.parametrize('name', sorted(HOSTS))
def test_stage_placement_puts_one_dgr_per_stage(name):
    wrapper = _wrapper(name, placement='stage')
    n_stages = len(_host_block_counts(name, wrapper.backbone))
    if name.startswith('vit'):  # ViT: the layers a head reads
        expected = sorted(HOSTS[name]['out_indices'])
    else:
        expected = list(range(n_stages))
    assert wrapper.points == [(s, None) for s in expected]
    assert sorted(wrapper.dgr) == sorted(str(s) for s in expected)


@pytest.mark.parametrize('placement', PLACEMENTS)
@pytest.mark.parametrize('name', sorted(HOSTS))
def test_every_dgr_block_runs_once_per_forward_in_order(name, placement):
    wrapper = _wrapper(name, placement=placement)
    calls = []
    for key, block in wrapper.dgr.items():
        block.register_forward_hook(lambda m, i, o, key=key: calls.append(key))
    with torch.no_grad():
        wrapper(torch.randn(1, 3, 64, 64))
    assert calls == [wrapper._key(s, j) for s, j in wrapper.points]


@pytest.mark.parametrize('name', sorted(HOSTS))
def test_shapes_and_out_channels(name):
    wrapper = _wrapper(name)
    chans, strides = EXPECTED[name]
    assert wrapper.out_channels == chans
    with torch.no_grad():
        outs = wrapper(torch.randn(1, 3, 64, 64))
    maps = [o[0] if isinstance(o, (list, tuple)) else o for o in outs]
    assert [tuple(o.shape) for o in maps] == [(1, c, 64 // s, 64 // s)
                                             for c, s in zip(chans, strides)]


@pytest.mark.parametrize('placement', PLACEMENTS)
@pytest.mark.parametrize('name', ['mit', 'swin', 'vit', 'resnet18v1c', 'timm_effnet',
                                  'timm_mnv3'])
def test_refinement_feeds_the_rest_of_the_network(name, placement):
    # Perturb only the first DGR block: the deepest output must change.
    wrapper = _wrapper(name, placement=placement)
    nn.init.normal_(wrapper.dgr[wrapper._key(*wrapper.points[0])].out_conv.weight, std=0.1)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
    assert not torch.equal(list(_flat(got))[-1], list(_flat(ref))[-1])


def test_mit_block_dgr_sits_between_two_transformer_blocks_on_the_token_grid():
    # Stage 1 has two blocks: DGR (1, 0) refines block 0's tokens before block 1.
    wrapper = _wrapper('mit')
    dgr = wrapper.dgr['1_0']
    nn.init.normal_(dgr.out_conv.weight, std=0.1)
    host = wrapper.backbone
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = host.layers[0][2](host.layers[0][1][0](*host.layers[0][0](x)))
        feat0 = ref.transpose(1, 2).reshape(1, 16, 16, 16)
        tokens, hw = host.layers[1][0](feat0)
        tokens = host.layers[1][1][0](tokens, hw)
        grid = tokens.transpose(1, 2).reshape(1, 32, *hw)
        tokens = dgr(grid).flatten(2).transpose(1, 2)
        tokens = host.layers[1][2](host.layers[1][1][1](tokens, hw))
        expected = tokens.transpose(1, 2).reshape(1, 32, *hw)
        got = wrapper(x)
    assert torch.equal(got[0], feat0)
    torch.testing.assert_close(got[1], expected, rtol=0, atol=1e-6)


def test_resnet_block_dgr_sits_between_two_residual_blocks():
    wrapper = _wrapper('resnet18v1c')
    dgr = wrapper.dgr['2_0']
    nn.init.normal_(dgr.out_conv.weight, std=0.1)
    host = wrapper.backbone
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y = host.maxpool(host.stem(x))
        y = host.layer2(host.layer1(y))
        y = host.layer3[1](dgr(host.layer3[0](y)))
        got = wrapper(x)
    torch.testing.assert_close(got[2], y, rtol=0, atol=0)


def test_vit_block_dgr_refines_patch_tokens_and_passes_the_class_token():
    wrapper = _wrapper('vit_cls_out')
    dgr = wrapper.dgr['1_0']
    nn.init.normal_(dgr.out_conv.weight, std=0.1)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        got, ref = wrapper(x), wrapper.backbone(x)
        # layer 1's output, patch grid refined by DGR, class token untouched
        host = wrapper.backbone
        tokens, hw = host.patch_embed(x)
        tokens = torch.cat((host.cls_token.expand(1, -1, -1), tokens), dim=1)
        tokens = host._pos_embeding(tokens, hw, host.pos_embed)
        tokens = host.layers[1](host.layers[0](tokens))
        grid = tokens[:, 1:].transpose(1, 2).reshape(1, 16, *hw)
    torch.testing.assert_close(got[0][0], dgr(grid), rtol=0, atol=1e-6)
    assert torch.equal(got[0][1], tokens[:, 0])
    assert not torch.equal(got[0][0], ref[0][0])


# ---------------------------------------------------------------- selection options
def test_disabled_dgr_is_the_host():
    for kwargs in (dict(stages=[]), dict(dgr=None), dict(dgr=None, placement='stage')):
        wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS['mit']), **kwargs)
        assert len(wrapper.dgr) == 0 and wrapper.points == []
        nn.init.normal_(wrapper.backbone.layers[0][0].projection.weight)
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            assert _equal(wrapper(x), wrapper.backbone(x))


def test_stages_restrict_both_placements_and_vit_defaults():
    assert _wrapper('mit', placement='stage', stages=[1, 3]).points == [(1, None),
                                                                         (3, None)]
    assert _wrapper('swin', stages=[0, 2]).points == [(0, 0), (0, 1), (2, 0), (2, 1),
                                                       (2, 2)]
    assert _wrapper('vit', placement='stage').stages == [1, 3]  # out_indices
    assert _wrapper('vit').stages == [0, 1, 2, 3]  # every layer


def test_blocks_pick_a_subset_of_each_stage():
    # the last block of every stage
    assert _wrapper('swin', blocks=[-1]).points == [(0, 1), (1, 0), (2, 2), (3, 0)]
    # the first and last blocks of stages 0 and 2 (duplicates merge)
    assert _wrapper('swin', stages=[0, 2], blocks=[0, -1]).points == [
        (0, 0), (0, 1), (2, 0), (2, 2)]
    # per stage; stages the dict does not name keep every block
    assert _wrapper('swin', blocks={2: [1], 0: []}).points == [(1, 0), (2, 1), (3, 0)]


@pytest.mark.parametrize('kwargs, match', [
    (dict(placement='blocks'), "placement='blocks' is unknown"),
    (dict(placement='stage', blocks=[0]), "needs placement='block'"),
    (dict(stages=[4]), r'stages \[4\] out of range for MixVisionTransformer with 4'),
    (dict(stages=2), 'must be a list of stage indices'),
    (dict(blocks=[2]), r'blocks \[2\] out of range for stage 0 .* 1 blocks'),
    (dict(blocks=1), 'must be a list of block indices'),
    (dict(stages=[1, 2], blocks={0: [0]}), r'names stages \[0\] that do not get DGR'),
    (dict(share_se='block'), "share_se='block' is unknown"),
    (dict(share_se='stage', blocks=[0]), "share_se='stage' shares nothing.*'all'"),
])
def test_selection_options_are_validated_with_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DGRBackbone(backbone=copy.deepcopy(HOSTS['mit']), dgr=SMALL_DGR, **kwargs)


# ---------------------------------------------------------------- shared channel attention
def test_share_se_stage_gives_the_blocks_of_a_stage_one_se_module():
    wrapper = _wrapper('swin', share_se='stage')
    ses = {k: b.channel_attention for k, b in wrapper.dgr.items()}
    assert ses['0_0'] is ses['0_1'] and ses['2_0'] is ses['2_1'] is ses['2_2']
    assert ses['0_0'] is not ses['2_0']
    assert sorted(wrapper.shared_se) == ['s0_c24', 's2_c96']
    # stored once: no block's state dict holds it, the wrapper's has it under shared_se.
    keys = list(wrapper.state_dict())
    assert not any('.channel_attention.' in k for k in keys if k.startswith('dgr.0_'))
    assert any(k.startswith('shared_se.s0_c24.') for k in keys)
    # single-block stages keep their own
    assert any(k.startswith('dgr.1_0.channel_attention.') for k in keys)
    names = [n for n, _ in wrapper.named_parameters()]
    ids = [id(p) for p in wrapper.parameters()]
    assert len(names) == len(set(ids)) == len(list(wrapper.parameters()))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _equal(wrapper(x), wrapper.backbone(x))


def test_share_se_all_shares_across_stages_of_one_width():
    wrapper = _wrapper('vit', share_se='all')  # 4 layers, one width
    assert sorted(wrapper.shared_se) == ['c16']
    assert len({id(b.channel_attention) for b in wrapper.dgr.values()}) == 1
    own = _wrapper('vit')
    n_se = sum(p.numel() for p in own.dgr['0_0'].channel_attention.parameters())
    n_all = sum(p.numel() for p in wrapper.parameters())
    assert n_all == sum(p.numel() for p in own.parameters()) - 3 * n_se


def test_shared_se_is_one_parameter_set_for_mmengine_optimizer_and_checkpoints():
    wrapper = _wrapper('swin', share_se='stage').train()
    for block in wrapper.dgr.values():
        nn.init.normal_(block.out_conv.weight, std=0.1)  # let gradients reach the SE
    # paramwise_cfg makes mmengine recurse module by module (the path that would meet a
    # module registered under two parents twice).
    optim = build_optim_wrapper(wrapper, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
        paramwise_cfg=dict(custom_keys={'shared_se': dict(lr_mult=0.5)})))
    in_groups = [p for g in optim.optimizer.param_groups for p in g['params']]
    assert len(in_groups) == len({id(p) for p in in_groups})
    assert {id(p) for p in in_groups} == {id(p) for p in wrapper.parameters()}
    shared = wrapper.shared_se['s2_c96']
    assert [g['lr'] for g in optim.optimizer.param_groups
            if any(p is shared.conv1.conv.weight for p in g['params'])] == [5e-3]
    before = shared.conv1.conv.weight.detach().clone()
    sum(o.mean() for o in wrapper(torch.randn(2, 3, 64, 64))).backward()
    optim.step()
    assert not torch.equal(before, shared.conv1.conv.weight)
    for key in ('2_0', '2_1', '2_2'):
        assert wrapper.dgr[key].channel_attention is shared

    # checkpoint round trip: strict load, same outputs, sharing intact
    state = copy.deepcopy(wrapper.state_dict())
    fresh = DGRBackbone(backbone=copy.deepcopy(HOSTS['swin']), dgr=SMALL_DGR,
                        share_se='stage').eval()
    fresh.load_state_dict(state, strict=True)
    assert fresh.dgr['2_0'].channel_attention is fresh.dgr['2_2'].channel_attention
    assert fresh.dgr['2_0'].channel_attention is fresh.shared_se['s2_c96']
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _equal(fresh(x), wrapper.eval()(x))
    copied = copy.deepcopy(fresh)
    assert copied.dgr['2_1'].channel_attention is copied.shared_se['s2_c96']
    assert copied.shared_se['s2_c96'] is not fresh.shared_se['s2_c96']


class _AsTuple(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return tuple(self.backbone(x))


def test_shared_se_changes_params_not_flops_in_mmengines_flop_counter():
    own, shared = _wrapper('swin'), _wrapper('swin', share_se='stage')
    x = torch.randn(1, 3, 64, 64)
    a = get_model_complexity_info(_AsTuple(own), inputs=(x,), show_table=False,
                                  show_arch=False)
    b = get_model_complexity_info(_AsTuple(shared), inputs=(x,), show_table=False,
                                  show_arch=False)
    assert a['flops'] == b['flops']
    se = sum(p.numel() for p in own.dgr['0_0'].channel_attention.parameters())
    se2 = sum(p.numel() for p in own.dgr['2_0'].channel_attention.parameters())
    assert a['params'] - b['params'] == se + 2 * se2  # stage 0: 1 SE saved, stage 2: 2


# ---------------------------------------------------------------- flat form and typos
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


@pytest.mark.parametrize('host, typo, meant', [
    ('mit', 'stage', 'stages'),
    ('swin', 'placment', 'placement'),
    ('mit', 'share_SE', 'share_se'),
    ('timm_effnet', 'block', 'blocks'),  # TIMMEncoder forwards **kwargs to timm
    ('resnet18v1c', 'stage', 'stages'),  # ResNetV1c(**kwargs) -> ResNet
])
def test_flat_form_typo_names_the_dgr_option_it_probably_meant(host, typo, meant):
    flat = copy.deepcopy(HOSTS[host])
    host_type = flat.pop('type')
    with pytest.raises(ValueError, match=rf"no option '{typo}'; did you mean '{meant}'"):
        DGRBackbone(host_type=host_type, **flat, **{typo: [1]})
    with pytest.raises(ValueError, match=rf"no option '{typo}'; did you mean '{meant}'"):
        DGRBackbone(backbone=copy.deepcopy(HOSTS[host]), **{typo: [1]})


def test_flat_form_keeps_host_arguments_that_look_like_options():
    # ResNet's num_stages is close to 'stages' but is a (base-class) host argument.
    wrapper = DGRBackbone(host_type='ResNetV1c', depth=18, base_channels=8,
                          stem_channels=8, num_stages=3, strides=(1, 2, 2),
                          dilations=(1, 1, 1), out_indices=(0, 1, 2),
                          dgr=SMALL_DGR)
    assert len(wrapper.stage_channels) == 3


def test_flat_form_unknown_argument_names_both_sides():
    with pytest.raises(ValueError, match=r"'embed_dim' is neither a DGRBackbone option "
                                         r".* nor an argument of the host "
                                         r"MixVisionTransformer; did you mean the host "
                                         r"argument 'embed_dims'"):
        DGRBackbone(host_type='MixVisionTransformer', embed_dim=16)


# ---------------------------------------------------------------- init, grads, timm
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


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_gradients_reach_host_and_every_dgr_block(placement):
    wrapper = _wrapper('mit', placement=placement).train()
    x = torch.randn(2, 3, 32, 32)
    sum(o.mean() for o in wrapper(x)).backward()
    assert all(b.out_conv.weight.grad.abs().sum() > 0 for b in wrapper.dgr.values())
    assert wrapper.backbone.layers[0][0].projection.weight.grad.abs().sum() > 0


def test_timm_levels_are_refined_where_timm_taps_them_even_if_not_returned():
    # test_efficientnet: 5 levels (16, 24, 32, 48, 64 channels), one per block; every
    # level gets a DGR block, level 1 is refined (feeds level 2) though not returned.
    wrapper = _wrapper('timm_effnet', placement='stage')
    assert wrapper.stages == [0, 1, 2, 3, 4]
    assert wrapper.stage_channels == [16, 24, 32, 48, 64]
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


def test_timm_blocks_are_the_blocks_of_every_timm_stage_a_level_spans():
    # mobilenetv3_small_050: level 0 is the stem (no blocks), level 3 spans timm stages
    # 2 and 3 (3 + 2 blocks), widths as timm's feature_info at each level's end.
    wrapper = _wrapper('timm_mnv3')
    m = wrapper.backbone.timm_model
    assert [len(b) for b in wrapper.block_channels] == [0, 1, 2, 5, 4]
    assert [b[-1] for b in wrapper.block_channels[1:]] == [
        f['num_chs'] for f in m.feature_info[1:]]
    assert (0, None) not in wrapper.points and wrapper.points[0] == (1, 0)


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_timm_grad_checkpointing_gives_the_same_values(placement):
    wrapper = _wrapper('timm_mnv3', placement=placement).train()
    for block in wrapper.dgr.values():
        nn.init.normal_(block.out_conv.weight, std=0.1)
    x = torch.randn(2, 3, 64, 64)
    plain = wrapper(x)
    wrapper.backbone.timm_model.set_grad_checkpointing(True)
    ckpt = wrapper(x.requires_grad_())
    assert _equal(ckpt, plain)
    sum(o.mean() for o in ckpt).backward()
    # (level 4 is neither returned nor read by a head conv in this host config)
    assert all(wrapper.dgr[wrapper._key(s, j)].out_conv.weight.grad is not None
               for s, j in wrapper.points if s <= 3)
