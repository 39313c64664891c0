"""Converters of the official NeWCRFs / PixelFormer checkpoints.

The synthetic checkpoints below follow the official key layout and shapes as read from
aliyun/NeWCRFs (``newcrfs/networks/{NewCRFDepth,newcrf_layers,uper_crf_head,
swin_transformer}.py``) and ashutosh1807/PixelFormer (``pixelformer/networks/
{PixelFormer,SAM,PQI}.py``), at tiny widths (the converters never look at widths).
"""
import copy
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.models.backbones.swin import PatchMerging
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONV_DIR = osp.join(REPO, 'tools', 'model_converters')

EMBED, DEPTHS, HEADS, WIN = 16, (2, 1, 1, 1), (1, 2, 2, 4), 7
IN_CH = [EMBED * 2**i for i in range(4)]
CH = 32                      # PSP width
DEC_DIMS = (8, 16, 32, 64)   # != IN_CH so every 3x3 projection exists, as at full size
DEC_HEADS = (1, 2, 2, 4)
NBINS, BCP_HIDDEN = 16, 24


def _load(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(CONV_DIR, f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _official_rel_index(w):
    """Swin's relative_position_index, as the host repos compute it."""
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing='ij')
    coords = torch.stack([ys.flatten(), xs.flatten()])
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + w - 1) * (2 * w - 1) + (rel[..., 1] + w - 1)


def _lin(sd, p, o, i):
    sd[p + '.weight'], sd[p + '.bias'] = torch.randn(o, i), torch.randn(o)


def _norm(sd, p, c):
    sd[p + '.weight'], sd[p + '.bias'] = torch.randn(c), torch.randn(c)


def _conv(sd, p, o, i, k, bias=True):
    sd[p + '.weight'] = torch.randn(o, i, k, k)
    if bias:
        sd[p + '.bias'] = torch.randn(o)


def official_swin():
    sd = {}
    _conv(sd, 'patch_embed.proj', EMBED, 3, 4)
    _norm(sd, 'patch_embed.norm', EMBED)
    for i, c in enumerate(IN_CH):
        for j in range(DEPTHS[i]):
            p = f'layers.{i}.blocks.{j}.'
            _norm(sd, p + 'norm1', c)
            sd[p + 'attn.relative_position_bias_table'] = torch.randn((2 * WIN - 1)**2,
                                                                      HEADS[i])
            sd[p + 'attn.relative_position_index'] = _official_rel_index(WIN)
            _lin(sd, p + 'attn.qkv', 3 * c, c)
            _lin(sd, p + 'attn.proj', c, c)
            _norm(sd, p + 'norm2', c)
            _lin(sd, p + 'mlp.fc1', 4 * c, c)
            _lin(sd, p + 'mlp.fc2', c, 4 * c)
        if i < 3:
            sd[f'layers.{i}.downsample.reduction.weight'] = torch.randn(2 * c, 4 * c)
            _norm(sd, f'layers.{i}.downsample.norm', 4 * c)
        _norm(sd, f'norm{i}', c)
    return {'backbone.' + k: v for k, v in sd.items()}


def official_psp():
    sd = {}
    for s in range(4):
        _conv(sd, f'decoder.psp_modules.{s}.1.conv', CH, IN_CH[3], 1, bias=False)
        _norm(sd, f'decoder.psp_modules.{s}.1.gn', CH)
    _conv(sd, 'decoder.bottleneck.conv', CH, IN_CH[3] + 4 * CH, 3, bias=False)
    _norm(sd, 'decoder.bottleneck.bn', CH)
    sd['decoder.bottleneck.bn.running_mean'] = torch.randn(CH)
    sd['decoder.bottleneck.bn.running_var'] = torch.rand(CH) + 0.5
    sd['decoder.bottleneck.bn.num_batches_tracked'] = torch.tensor(7)
    return sd


def _value_channels():
    return [d // 4 for d in DEC_DIMS[1:]] + [CH]


def _official_attn_mlp(sd, p, d, heads):
    sd[p + 'attn.relative_position_bias_table'] = torch.randn(169, heads)
    sd[p + 'attn.relative_position_index'] = _official_rel_index(7)
    _lin(sd, p + 'attn.proj', d, d)
    _norm(sd, p + 'norm2', d)
    _lin(sd, p + 'mlp.fc1', 4 * d, d)
    _lin(sd, p + 'mlp.fc2', d, 4 * d)


def official_newcrfs():
    sd = {**official_swin(), **official_psp()}
    for k, (d, h, v) in enumerate(zip(DEC_DIMS, DEC_HEADS, _value_channels())):
        _conv(sd, f'crf{k}.proj_x', d, IN_CH[k], 3)
        _conv(sd, f'crf{k}.proj_v', d, v, 3)
        for j in range(2):
            p = f'crf{k}.crf_layer.blocks.{j}.'
            _norm(sd, p + 'norm1', d)
            _lin(sd, p + 'attn.qk', 2 * d, d)
            _official_attn_mlp(sd, p, d, h)
        _norm(sd, f'crf{k}.norm_crf', d)
    _conv(sd, 'disp_head1.conv1', 1, DEC_DIMS[0], 3)
    return sd


def official_pixelformer():
    sd = {**official_swin(), **official_psp()}
    for k, (d, h, v) in enumerate(zip(DEC_DIMS, DEC_HEADS, _value_channels())):
        p = f'sam{k + 1}.'
        _conv(sd, p + 'proj_e', d, IN_CH[k], 3)
        _conv(sd, p + 'proj_q', d, v, 3)
        _conv(sd, p + 'proj', d, d, 3)  # built but unused by the host's forward
        b = p + 'sam_block.'
        _norm(sd, b + 'norm1', d)
        _norm(sd, b + 'normv', d)
        _lin(sd, b + 'attn.kv', 2 * d, d)
        _lin(sd, b + 'attn.q', d, d)
        _official_attn_mlp(sd, b, d, h)
        _norm(sd, p + 'norm_sam', d)
    _lin(sd, 'bcp.fc1', BCP_HIDDEN, CH)
    _lin(sd, 'bcp.fc2', NBINS, BCP_HIDDEN)
    _conv(sd, 'disp_head1.conv1', NBINS, DEC_DIMS[0], 3)
    return sd


def _tiny_model(config, head):
    cfg = Config.fromfile(osp.join(REPO, config))
    model = copy.deepcopy(cfg.model)
    model.backbone.update(embed_dims=EMBED, depths=list(DEPTHS), num_heads=list(HEADS),
                          init_cfg=None)
    model.decode_head.update(in_channels=IN_CH, channels=CH,
                             ppm_norm_cfg=dict(type='GN', num_groups=8), **head)
    return MODELS.build(model)


def _ddp_checkpoint(sd):
    return {'model': {'module.' + k: v for k, v in sd.items()}, 'optimizer': {}}


def test_newcrfs_checkpoint_fills_every_key_strictly():
    conv = _load('newcrfs2mmdepth')
    sd = official_newcrfs()
    new = conv.convert_newcrfs(conv.unwrap_state_dict(_ddp_checkpoint(sd)))
    model = _tiny_model('configs/newcrfs/newcrfs_swin-l-w7_4xb4-25k_nyu-416x544.py',
                        dict(crf_dims=DEC_DIMS, crf_num_heads=DEC_HEADS))
    model.load_state_dict(new, strict=True)
    # values travel unchanged where no reordering applies
    assert torch.equal(model.decode_head.crf_layers[2].blocks[1].attn.qk.weight,
                       sd['crf2.crf_layer.blocks.1.attn.qk.weight'])
    assert torch.equal(model.decode_head.crf_layers[0].blocks[0].ffn.layers[1].weight,
                       sd['crf0.crf_layer.blocks.0.mlp.fc2.weight'])
    assert torch.equal(model.decode_head.depth_conv.weight, sd['disp_head1.conv1.weight'])
    assert torch.equal(model.decode_head.top.bottleneck.bn.running_var,
                       sd['decoder.bottleneck.bn.running_var'])
    assert torch.equal(model.backbone.stages[0].blocks[1].attn.w_msa.qkv.bias,
                       sd['backbone.layers.0.blocks.1.attn.qkv.bias'])
    with torch.no_grad():
        assert torch.isfinite(model.eval()._forward(torch.randn(1, 3, 64, 96))).all()


def test_pixelformer_checkpoint_fills_every_key_strictly():
    conv = _load('pixelformer2mmdepth')
    sd = official_pixelformer()
    new = conv.convert_pixelformer(_load('newcrfs2mmdepth').unwrap_state_dict(sd))
    model = _tiny_model(
        'configs/pixelformer/pixelformer_swin-l-w7_4xb4-25k_kitti-352x704.py',
        dict(sam_dims=DEC_DIMS, sam_num_heads=DEC_HEADS, num_bins=NBINS,
             bcp_hidden_channels=BCP_HIDDEN))
    model.load_state_dict(new, strict=True)
    head = model.decode_head
    assert torch.equal(head.sams[3].block.norm_skip.weight, sd['sam4.sam_block.normv.weight'])
    assert torch.equal(head.sams[0].proj_query.weight, sd['sam1.proj_q.weight'])
    assert torch.equal(head.sams[1].block.attn.kv.weight, sd['sam2.sam_block.attn.kv.weight'])
    assert torch.equal(head.bcp.fc2.weight, sd['bcp.fc2.weight'])
    assert torch.equal(head.bin_conv.weight, sd['disp_head1.conv1.weight'])
    assert not any('sam' in k and k.endswith(('.proj.weight', '.proj.bias')) and
                   'attn' not in k for k in new)


def test_patch_merging_reorder_matches_the_official_merge():
    conv = _load('newcrfs2mmdepth')
    c, H, W = 6, 4, 6
    merge = PatchMerging(c, 2 * c)
    official = {'reduction.weight': torch.randn(2 * c, 4 * c),
                'norm.weight': torch.randn(4 * c), 'norm.bias': torch.randn(4 * c)}
    merge.load_state_dict({
        'reduction.weight': conv.unfold_reduction_order(official['reduction.weight']),
        'norm.weight': conv.unfold_norm_order(official['norm.weight']),
        'norm.bias': conv.unfold_norm_order(official['norm.bias'])})
    x = torch.randn(2, H * W, c)
    got, hw = merge(x, (H, W))
    g = x.view(2, H, W, c)  # official order: (0,0), (1,0), (0,1), (1,1) neighbours
    cat = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2],
                     g[:, 1::2, 1::2]], -1).view(2, -1, 4 * c)
    ref = torch.nn.functional.layer_norm(cat, (4 * c, ), official['norm.weight'],
                                         official['norm.bias'])
    ref = ref @ official['reduction.weight'].t()
    assert tuple(hw) == (H // 2, W // 2)
    assert torch.allclose(got, ref, atol=1e-5)


def test_official_relative_index_equals_mmseg_buffer():
    from mmseg.models.backbones.swin import WindowMSA
    assert torch.equal(WindowMSA(8, 2, (WIN, WIN)).relative_position_index,
                       _official_rel_index(WIN))


def test_unknown_keys_are_named():
    conv = _load('newcrfs2mmdepth')
    sd = official_newcrfs()
    sd['crf0.something_new.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='crf0.something_new.weight'):
        conv.convert_newcrfs(sd)
    with pytest.raises(KeyError, match='backbone.layers.0.weird'):
        conv.convert_swin({'layers.0.weird': torch.zeros(1)})
