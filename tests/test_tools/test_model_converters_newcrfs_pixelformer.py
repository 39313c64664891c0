"""tools/model_converters/{newcrfs,pixelformer}2mmdepth.py on checkpoints in the exact
layout the official train scripts save.

The official layout is made from a (tiny) project network with the converters' inverse
(``newcrfs_to_official`` / ``pixelformer_to_official``); that inverse is checked against
the official networks themselves by the fixtures of tests/test_official (the official
network loads it strictly and gives the project's depth). Saved as
``newcrfs/train.py`` saves (``{'global_step', 'model', 'optimizer',
'best_eval_measures_higher_better', 'best_eval_measures_lower_better',
'best_eval_steps'}``) and ``pixelformer/train.py`` saves (``{'model'}``), the model
wrapped in DistributedDataParallel (keys prefixed ``module.``).
"""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmseg.models.backbones.swin import PatchMerging, WindowMSA
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_official'))
from _official_equivalence import (fill_deterministic, load_converter,  # noqa: E402
                                   official_checkpoint)

EMBED, DEPTHS, HEADS, WIN = 16, (2, 1, 1, 1), (1, 2, 2, 4), 7
IN_CH = [EMBED * 2**i for i in range(4)]
CH = 32                      # PSP width
DEC_DIMS = (8, 16, 32, 64)   # != IN_CH so every 3x3 projection exists, as at full size
DEC_HEADS = (1, 2, 2, 4)
NBINS, BCP_HIDDEN = 16, 24

HOSTS = {
    'newcrfs': dict(
        name='NeWCRFs', module='newcrfs2mmdepth', convert='convert_newcrfs',
        inverse='newcrfs_to_official',
        config='configs/newcrfs/newcrfs_swin-l-w7_4xb4-25k_nyu-416x544.py',
        head=dict(crf_dims=DEC_DIMS, crf_num_heads=DEC_HEADS),
        layout=dict(prefix='module.', extra={
            'global_step': 'int', 'optimizer': 'optimizer',
            'best_eval_measures_higher_better': 'tensor',
            'best_eval_measures_lower_better': 'tensor', 'best_eval_steps': 'numpy'}),
        # a kept weight, and a buffer the converter drops (it must be there all the same)
        missing=('crf2.crf_layer.blocks.1.attn.qk.weight',
                 'crf0.crf_layer.blocks.0.attn.relative_position_index')),
    'pixelformer': dict(
        name='PixelFormer', module='pixelformer2mmdepth', convert='convert_pixelformer',
        inverse='pixelformer_to_official',
        config='configs/pixelformer/pixelformer_swin-l-w7_4xb4-25k_nyu-416x544.py',
        head=dict(sam_dims=DEC_DIMS, sam_num_heads=DEC_HEADS, num_bins=NBINS,
                  bcp_hidden_channels=BCP_HIDDEN),
        layout=dict(prefix='module.', extra={}),
        # a kept weight, and the unused conv the converter drops
        missing=('sam4.sam_block.normv.weight', 'sam1.proj.weight')),
}


def _cfg_options(host):
    opts = {'model.backbone.embed_dims': EMBED, 'model.backbone.depths': list(DEPTHS),
            'model.backbone.num_heads': list(HEADS), 'model.backbone.init_cfg': None,
            'model.decode_head.in_channels': IN_CH, 'model.decode_head.channels': CH,
            'model.decode_head.ppm_norm_cfg.num_groups': 8}
    opts.update({f'model.decode_head.{k}': list(v) if isinstance(v, tuple) else v
                 for k, v in HOSTS[host]['head'].items()})
    return opts


def _tiny_model(host, seed):
    cfg = Config.fromfile(osp.join(REPO, HOSTS[host]['config']))
    cfg.merge_from_dict(_cfg_options(host))
    model = MODELS.build(copy.deepcopy(cfg.model))
    fill_deterministic(model, seed)
    return model


def _converter(host):
    spec = HOSTS[host]
    mod = load_converter(spec['module'])
    return mod, getattr(mod, spec['convert']), getattr(mod, spec['inverse'])


def _save_official(host, model, path, edit=None):
    """The official train-script checkpoint of ``model``'s weights at ``path``."""
    _, _, inverse = _converter(host)
    official = inverse(model.state_dict())
    if edit:
        edit(official)
    torch.save(official_checkpoint(official, HOSTS[host]['layout']), path)
    return official


@pytest.mark.parametrize('host', list(HOSTS))
def test_train_script_checkpoint_converts_and_loads_strictly(host, tmp_path):
    mod, convert, inverse = _converter(host)
    source = _tiny_model(host, seed=1)
    path = tmp_path / 'model-1000-best_abs_rel_0.10000'
    official = _save_official(host, source, path)
    assert all(k.startswith('module.') for k in torch.load(
        path, weights_only=False)['model'])
    target = _tiny_model(host, seed=2)
    converted = mod.convert_checkpoint(str(path), target, convert, inverse,
                                       HOSTS[host]['name'])
    expected = source.state_dict()
    assert converted.keys() == expected.keys()
    assert all(torch.equal(target.state_dict()[k], expected[k]) for k in expected)
    # the inverse is a bijection on the kept keys: converting back gives the same layout
    assert inverse(converted).keys() == official.keys()


@pytest.mark.parametrize('host', list(HOSTS))
@pytest.mark.parametrize('which', [0, 1])
def test_converter_refuses_a_missing_key_naming_file_and_key(host, which, tmp_path):
    mod, convert, inverse = _converter(host)
    key = HOSTS[host]['missing'][which]
    path = tmp_path / f'{host}_missing.pth'
    _save_official(host, _tiny_model(host, seed=1), path, edit=lambda sd: sd.pop(key))
    with pytest.raises(KeyError, match=rf'{path.name}.*missing keys.*{key}'):
        mod.convert_checkpoint(str(path), _tiny_model(host, seed=2), convert, inverse,
                               HOSTS[host]['name'])


@pytest.mark.parametrize('host', list(HOSTS))
def test_converter_refuses_an_extra_key_naming_file_and_key(host, tmp_path):
    mod, convert, inverse = _converter(host)
    path = tmp_path / f'{host}_extra.pth'

    def add(sd):
        sd['decoder.aux_head.weight'] = torch.zeros(3)

    _save_official(host, _tiny_model(host, seed=1), path, edit=add)
    with pytest.raises(KeyError, match=rf'{path.name}.*unexpected keys.*decoder.aux_head'):
        mod.convert_checkpoint(str(path), _tiny_model(host, seed=2), convert, inverse,
                               HOSTS[host]['name'])


def test_checkpoint_reader_names_the_file_for_foreign_layouts(tmp_path):
    conv = load_converter('newcrfs2mmdepth')
    path = tmp_path / 'mmengine.pth'
    torch.save({'state_dict': {'backbone.x': torch.zeros(1)}, 'meta': {}}, path)
    with pytest.raises(KeyError, match=rf'{path.name} has no "model" state dict'):
        conv.load_official_checkpoint(str(path))
    torch.save({'model': {'module.a': torch.zeros(1), 'b': torch.zeros(1)}}, path)
    with pytest.raises(KeyError, match=rf'{path.name}: 1 keys start with "module."'):
        conv.load_official_checkpoint(str(path))
    bare = {'a': torch.zeros(1)}
    torch.save(bare, path)  # torch.save(model.state_dict()) of an unwrapped model
    assert conv.load_official_checkpoint(str(path)).keys() == bare.keys()


def test_cli_converts_a_train_script_checkpoint_for_the_given_config(tmp_path):
    src, dst = tmp_path / 'pixelformer_nyu.pth', tmp_path / 'out.pth'
    source = _tiny_model('pixelformer', seed=1)
    _save_official('pixelformer', source, src)
    options = [f'{k}={v}'.replace(' ', '') for k, v in _cfg_options('pixelformer').items()]
    script = osp.join(REPO, 'tools', 'model_converters', 'pixelformer2mmdepth.py')
    run = subprocess.run([sys.executable, script, str(src), str(dst), '--cfg-options',
                          *options], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    state = torch.load(dst, map_location='cpu')['state_dict']
    target = _tiny_model('pixelformer', seed=2)
    target.load_state_dict(state, strict=True)
    assert all(torch.equal(state[k], v) for k, v in source.state_dict().items())


def test_patch_merging_reorder_matches_the_official_merge():
    conv = load_converter('newcrfs2mmdepth')
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
    # and the inverse undoes it exactly
    assert torch.equal(conv.official_reduction_order(
        conv.unfold_reduction_order(official['reduction.weight'])),
        official['reduction.weight'])
    assert torch.equal(conv.official_norm_order(conv.unfold_norm_order(
        official['norm.weight'])), official['norm.weight'])


def _official_rel_index(w):
    """Swin's relative_position_index, as the host repos compute it."""
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing='ij')
    coords = torch.stack([ys.flatten(), xs.flatten()])
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    return (rel[..., 0] + w - 1) * (2 * w - 1) + (rel[..., 1] + w - 1)


def test_official_relative_index_equals_mmseg_buffer_and_the_inverse():
    conv = load_converter('newcrfs2mmdepth')
    assert torch.equal(WindowMSA(8, 2, (WIN, WIN)).relative_position_index,
                       _official_rel_index(WIN))
    table = torch.zeros((2 * WIN - 1)**2, 2)
    assert torch.equal(conv.official_relative_position_index(table), _official_rel_index(WIN))


def test_unknown_keys_are_named():
    conv = load_converter('newcrfs2mmdepth')
    sd = conv.newcrfs_to_official(_tiny_model('newcrfs', seed=1).state_dict())
    sd['crf0.something_new.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='crf0.something_new.weight'):
        conv.convert_newcrfs(sd)
    with pytest.raises(KeyError, match='backbone.layers.0.weird'):
        conv.convert_swin({'layers.0.weird': torch.zeros(1)})
