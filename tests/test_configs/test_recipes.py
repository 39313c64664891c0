"""The official-recipe leaves equal the hosts' training scripts, value by value (#14).

``OFFICIAL`` holds the facts read from the official repositories, each with the file
and line it comes from (PixelFormer = ashutosh1807/PixelFormer@bb0ae9f, NeWCRFs =
aliyun/NeWCRFs@d327bf7, AdaBins = shariqfarooq123/AdaBins@0952d91). Each test resolves a
leaf with ``tools/analysis_tools/recipe_card.py`` (optimiser built by mmengine on the
leaf's real model, schedulers built and stepped by mmengine) and compares.
"""
import copy
import gc
import importlib.util
import math
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS, TRANSFORMS

from mmdepth_dgr.apis import disable_pretrained_weights

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PF, NC, AB = 'PixelFormer@bb0ae9f', 'NeWCRFs@d327bf7', 'AdaBins@0952d91'
NINE_METRICS = {  # train.py l.75 eval_metrics; l.344-351 lower / higher is better
    'silog': 'less', 'abs_rel': 'less', 'log10': 'less', 'rmse': 'less', 'sq_rel': 'less',
    'rmse_log': 'less', 'd1': 'greater', 'd2': 'greater', 'd3': 'greater'}
SWIN_L_W7_22K = dict(  # networks/{PixelFormer,NewCRFDepth}.py l.54-64 / 26-36, 78 / 50
    embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48], window_size=7,
    pretrain_img_size=224, drop_path_rate=0.3,
    weights='swin_large_patch4_window7_224_22k.pth')  # arguments_train_*.txt l.3-4
BTS_PHOTOMETRIC = dict(prob=0.5, gamma=(0.9, 1.1), color=(0.9, 1.1))  # loaders
NYU_EVAL = dict(crop='nyu_eigen', min_depth=1e-3, max_depth=10.0)  # args l.30-32
KITTI_EVAL = dict(crop='garg', min_depth=1e-3, max_depth=80.0)  # args l.31-33

OFFICIAL = {
    'pixelformer-nyu': dict(
        config='configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_nyu-480x640.py',
        source=f'{PF}: configs/arguments_train_nyu.txt, pixelformer/train.py, '
               'pixelformer/dataloaders/dataloader.py, pixelformer/utils.py',
        encoder=SWIN_L_W7_22K,
        optimizer=dict(type='Adam', lr=4e-5, betas=[0.9, 0.999], eps=1e-8,
                       weight_decay=0.0),  # train.py l.217 Adam(lr) only; args l.11
        clip_grad=None,
        schedule=dict(kind='poly', end_ratio=0.1, power=0.9),  # train.py l.264, 297
        train_list='nyudepthv2_train_files_with_gt_dense.txt',  # args l.8
        train_list_len=36253, epochs=20, total_batch=8,  # data_splits/; args l.9-10
        head=dict(min_depth=0.1, max_depth=10.0),  # PixelFormer.py l.44; args l.17
        gt_valid_min=0.1,  # train.py l.290
        pipeline=[  # dataloader.py l.113-127, 136-145, 149-150, 220-244
            ('NYUBorderCrop', dict(box=(45, 43, 472, 608), mode='mask')),
            ('RandomRotateDepth', dict(degree=(-2.5, 2.5), prob=1.0)),  # args l.18-19
            ('CutDepth', dict(prob=1.0, size_ratio=0.75, index_order='pixelformer')),
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.75, 1.25)))],
        crop=None,  # --input_height 480 --input_width 640 (args l.15-16): no random crop
        eval=dict(interval=1000, flip=True, flip_fusion='edge_ramp',  # args l.26-27;
                  best=NINE_METRICS, **NYU_EVAL)),  # train.py l.334-363; utils l.158
    'pixelformer-kitti': dict(
        config='configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_kitti-352x1120.py',
        source=f'{PF}: configs/arguments_train_kittieigen.txt, pixelformer/train.py, '
               'pixelformer/dataloaders/dataloader.py',
        encoder=SWIN_L_W7_22K,
        optimizer=dict(type='Adam', lr=4e-5, betas=[0.9, 0.999], eps=1e-8,
                       weight_decay=0.0),  # train.py l.217; args l.11
        clip_grad=None,
        schedule=dict(kind='poly', end_ratio=0.1, power=0.9),
        train_list='kitti_eigen_train.txt',  # = data_splits/eigen_train_files_with_gt.txt
        train_list_len=23158, epochs=20, total_batch=8,  # args l.9-10
        head=dict(min_depth=0.1, max_depth=80.0),  # args l.17
        gt_valid_min=1.0,  # train.py l.292
        pipeline=[  # dataloader.py l.104-110 (KB crop), 124-127, 149-150, 220-244
            ('KBCrop', dict(crop_size=(352, 1216))),
            ('RandomRotateDepth', dict(degree=(-1.0, 1.0), prob=1.0)),  # args l.19-20
            ('RandomCropDepth', dict(crop_size=(352, 1120))),  # args l.15-16
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.9, 1.1)))],
        crop=(352, 1120),
        eval=dict(interval=1000, flip=True, flip_fusion='edge_ramp', best=NINE_METRICS,
                  **KITTI_EVAL)),  # args l.27, 31-33
    'newcrfs-nyu': dict(
        config='configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_nyu-480x640.py',
        source=f'{NC}: configs/arguments_train_nyu.txt, newcrfs/train.py, '
               'newcrfs/dataloaders/dataloader.py, newcrfs/networks/NewCRFDepth.py',
        encoder=SWIN_L_W7_22K,
        optimizer=dict(type='Adam', lr=2e-5, betas=[0.9, 0.999], eps=1e-8,
                       weight_decay=0.0),  # train.py l.218; args l.11
        clip_grad=None,
        schedule=dict(kind='poly', end_ratio=0.1, power=0.9),  # train.py l.273, 306
        train_list='nyudepthv2_train_files_with_gt_dense.txt',  # args l.8
        train_list_len=36253, epochs=50, total_batch=8,  # args l.9-10
        head=dict(min_depth=0.0, max_depth=10.0),  # NewCRFDepth.py l.146 sigmoid*max
        gt_valid_min=0.1,  # train.py l.299
        pipeline=[  # dataloader.py l.111-125, 136, 207-231 (no CutDepth)
            ('NYUBorderCrop', dict(box=(45, 43, 472, 608), mode='mask')),
            ('RandomRotateDepth', dict(degree=(-2.5, 2.5), prob=1.0)),
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.75, 1.25)))],
        crop=None,
        eval=dict(interval=1000, flip=True, flip_fusion='edge_ramp', best=NINE_METRICS,
                  **NYU_EVAL)),  # train.py l.343-370; utils.py l.158
    'newcrfs-kitti': dict(
        config='configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_kitti-352x1120.py',
        source=f'{NC}: configs/arguments_train_kittieigen.txt, newcrfs/train.py, '
               'newcrfs/dataloaders/dataloader.py',
        encoder=SWIN_L_W7_22K,
        optimizer=dict(type='Adam', lr=2e-5, betas=[0.9, 0.999], eps=1e-8,
                       weight_decay=0.0),
        clip_grad=None,
        schedule=dict(kind='poly', end_ratio=0.1, power=0.9),
        train_list='kitti_eigen_train.txt',
        train_list_len=23158, epochs=50, total_batch=8,
        head=dict(min_depth=0.0, max_depth=80.0),
        gt_valid_min=1.0,  # train.py l.301
        pipeline=[
            ('KBCrop', dict(crop_size=(352, 1216))),
            ('RandomRotateDepth', dict(degree=(-1.0, 1.0), prob=1.0)),
            ('RandomCropDepth', dict(crop_size=(352, 1120))),
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.9, 1.1)))],
        crop=(352, 1120),
        eval=dict(interval=1000, flip=True, flip_fusion='edge_ramp', best=NINE_METRICS,
                  **KITTI_EVAL)),
    'adabins-nyu': dict(
        config='configs/adabins/adabins_efficientnet-b5_4xb4-25e_nyu-416x544.py',
        source=f'{AB}: args_train_nyu.txt, train.py, dataloader.py',
        encoder=dict(model_name='tf_efficientnet_b5.ap_in1k', pretrained=True,
                     sync_bn=True),  # models/unet_adaptive_bins.py; train.py l.94
        optimizer=dict(type='AdamW', lr=3.57e-4, betas=[0.95, 0.999], eps=1e-8,
                       weight_decay=0.1),  # train.py l.152; args l.4-5; beta1 at step 0
        clip_grad=dict(max_norm=0.1, norm_type=2),  # train.py l.199
        schedule=dict(kind='onecycle', div_factor=25.0, final_div_factor=100.0,
                      pct_start=0.3, base_momentum=0.85, max_momentum=0.95),  # l.162-166
        train_list='nyu_train.txt',  # = train_test_inputs/nyudepthv2_train_files_with_gt
        train_list_len=24231, epochs=25, total_batch=16,  # args l.1, 8
        head=dict(min_depth=1e-3, max_depth=10.0),  # args l.20-21
        gt_valid_min=1e-3,  # train.py l.189 (depth > --min_depth)
        pipeline=[  # dataloader.py l.108-127, 197-221
            ('NYUBorderCrop', dict(box=(45, 43, 472, 608), mode='crop')),
            ('RandomRotateDepth', dict(degree=(-2.5, 2.5), prob=1.0)),  # args l.22-23
            ('RandomCropDepth', dict(crop_size=(416, 544))),  # args l.18-19
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.75, 1.25)))],
        crop=(416, 544),
        eval=dict(interval=500, flip=False, flip_fusion=None,  # args l.24; train.py
                  best={'abs_rel': 'less'}, **NYU_EVAL)),  # l.210-230, 250
    'adabins-kitti': dict(
        config='configs/adabins/adabins_efficientnet-b5_4xb4-25e_kitti-352x704.py',
        source=f'{AB}: args_train_kitti_eigen.txt, train.py, dataloader.py',
        encoder=dict(model_name='tf_efficientnet_b5.ap_in1k', pretrained=True,
                     sync_bn=True),
        optimizer=dict(type='AdamW', lr=3.57e-4, betas=[0.95, 0.999], eps=1e-8,
                       weight_decay=0.1),
        clip_grad=dict(max_norm=0.1, norm_type=2),
        schedule=dict(kind='onecycle', div_factor=25.0, final_div_factor=100.0,
                      pct_start=0.3, base_momentum=0.85, max_momentum=0.95),
        train_list='kitti_eigen_train.txt',  # = kitti_eigen_train_files_with_gt.txt
        train_list_len=23158, epochs=25, total_batch=16,
        head=dict(min_depth=1e-3, max_depth=80.0),
        gt_valid_min=1e-3,
        pipeline=[
            ('KBCrop', dict(crop_size=(352, 1216))),
            ('RandomRotateDepth', dict(degree=(-1.0, 1.0), prob=1.0)),
            ('RandomCropDepth', dict(crop_size=(352, 704))),
            ('RandomFlip', dict(prob=0.5)),
            ('RandomGammaBrightnessColor', dict(brightness=(0.9, 1.1)))],
        crop=(352, 704),
        # no --validate_every in the args file: train.py l.310 default 100
        eval=dict(interval=100, flip=False, flip_fusion=None, best={'abs_rel': 'less'},
                  **KITTI_EVAL)),
}


def _tool():
    spec = importlib.util.spec_from_file_location(
        'recipe_card', osp.join(REPO, 'tools', 'analysis_tools', 'recipe_card.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CARD = _tool()
_MODELS = {}


def _model_for(cfg, key):
    """The leaf's real model (pretrained off); one per host, reused across datasets."""
    host = key.split('-')[0]
    if host not in _MODELS:
        _MODELS.clear()
        gc.collect()
        with DefaultScope.overwrite_default_scope('mmseg'):
            model_cfg = disable_pretrained_weights(copy.deepcopy(cfg.model))
            _MODELS[host] = MODELS.build(model_cfg)
    return _MODELS[host]


@pytest.fixture(scope='module')
def recipes():
    out = {}
    for key, off in OFFICIAL.items():
        cfg = Config.fromfile(osp.join(REPO, off['config']))
        out[key] = (cfg, CARD.resolve_recipe(cfg, off['config'], off['train_list_len'],
                                             model=_model_for(cfg, key)))
    _MODELS.clear()
    gc.collect()
    return out


KEYS = sorted(OFFICIAL)


def _official_lr_at(off, step):
    iters = off['epochs'] * math.ceil(off['train_list_len'] / off['total_batch'])
    lr0 = off['optimizer']['lr']
    s = off['schedule']
    if s['kind'] == 'poly':  # train.py: (lr - end) * (1 - step / total) ** 0.9 + end
        end = s['end_ratio'] * lr0
        return (lr0 - end) * (1 - step / iters)**s['power'] + end, None
    # AdaBins steps torch's OneCycleLR itself: use it as the reference.
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr0,
                            weight_decay=off['optimizer']['weight_decay'])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, lr0, total_steps=iters, pct_start=s['pct_start'], cycle_momentum=True,
        base_momentum=s['base_momentum'], max_momentum=s['max_momentum'],
        div_factor=s['div_factor'], final_div_factor=s['final_div_factor'])
    sched.last_epoch = step - 1  # closed-form OneCycle: jump to the step
    with warnings.catch_warnings():  # no optimiser step is taken
        warnings.simplefilter('ignore')
        sched.step()
    return opt.param_groups[0]['lr'], opt.param_groups[0]['betas'][0]


@pytest.mark.parametrize('key', KEYS)
def test_encoder_and_pretrained_weights_are_the_hosts(recipes, key):
    off, (cfg, r) = OFFICIAL[key], recipes[key]
    enc = r['encoder']
    assert not enc['dgr']
    for k, v in off['encoder'].items():
        if k == 'weights':
            assert enc['weights'].endswith('/' + v), enc['weights']
            assert enc['type'] == 'PretrainedSwinTransformer'  # converts that file
        elif k == 'pretrained':
            assert cfg.model.backbone.pretrained is v
        else:
            assert enc[k] == v, k


@pytest.mark.parametrize('key', KEYS)
def test_optimizer_groups_as_mmengine_builds_them(recipes, key):
    off, (_, r) = OFFICIAL[key], recipes[key]
    o = r['optimizer']
    assert o['type'] == off['optimizer']['type']
    assert o['clip_grad'] == off['clip_grad']
    assert len(o['groups']) == 1  # every parameter in one group, as the hosts run it
    g = o['groups'][0]
    assert g['parts'] == ['backbone', 'decode_head']
    want = dict(off['optimizer'])
    want.pop('type')
    if off['schedule']['kind'] == 'onecycle':  # the schedulers own lr and beta1
        want.pop('lr')
        assert g['betas'][1] == want.pop('betas')[1]
    for k, v in want.items():
        assert g[k] == pytest.approx(v, rel=1e-12), k


@pytest.mark.parametrize('key', KEYS)
def test_lr_at_iterations_0_1_mid_last_equals_the_hosts_schedule(recipes, key):
    off, (_, r) = OFFICIAL[key], recipes[key]
    samples = r['schedule']['samples']
    n = r['length']['max_iters']
    assert sorted(samples) == [0, 1, n // 2, n - 1]
    for it, vals in samples.items():
        lr, beta1 = _official_lr_at(off, it)
        assert vals['lr'][0] == pytest.approx(lr, rel=1e-9), it
        if beta1 is not None:
            assert vals['beta1'][0] == pytest.approx(beta1, rel=1e-9), it
        else:
            assert vals['beta1'][0] == off['optimizer']['betas'][0]


@pytest.mark.parametrize('key', KEYS)
def test_length_and_total_batch(recipes, key):
    off, (cfg, r) = OFFICIAL[key], recipes[key]
    ipe = math.ceil(off['train_list_len'] / off['total_batch'])
    assert r['batch']['total'] == off['total_batch']
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=off['total_batch'])
    assert r['length']['max_iters'] == off['epochs'] * ipe
    assert r['length']['epochs'] == pytest.approx(off['epochs'])
    assert r['data']['split_file'] == off['train_list']


@pytest.mark.parametrize('key', KEYS)
def test_crops_and_augmentations_in_the_hosts_order(recipes, key):
    off, (_, r) = OFFICIAL[key], recipes[key]
    steps = r['data']['augmentations']
    assert [s['type'] for s in steps] == [name for name, _ in off['pipeline']]
    with DefaultScope.overwrite_default_scope('mmseg'):
        for step, (name, want) in zip(steps, off['pipeline']):
            t = TRANSFORMS.build(step)
            for k, v in want.items():
                got = {'brightness': 'brightness_range'}.get(k, k)
                value = getattr(t, got)
                assert tuple(value) == tuple(v) if isinstance(v, tuple) else value == v, \
                    (name, k)
            if name == 'RandomGammaBrightnessColor':
                assert t.prob == BTS_PHOTOMETRIC['prob']
                assert tuple(t.gamma_range) == BTS_PHOTOMETRIC['gamma']
                assert tuple(t.color_range) == BTS_PHOTOMETRIC['color']
    assert r['data']['crop'] == (list(off['crop']) if off['crop'] else 'full frame')


@pytest.mark.parametrize('key', KEYS)
def test_loss_mask_and_depth_range(recipes, key):
    off, (_, r) = OFFICIAL[key], recipes[key]
    assert r['head']['gt_valid_min'] == off['gt_valid_min']
    assert r['head']['min_depth'] == off['head']['min_depth']
    assert r['head']['max_depth'] == off['head']['max_depth']


@pytest.mark.parametrize('key', KEYS)
def test_evaluation_protocol_interval_and_best_checkpoints(recipes, key):
    off, (_, r) = OFFICIAL[key], recipes[key]
    ev, want = r['evaluation'], off['eval']
    assert ev['interval'] == want['interval']
    assert ev['flip'] is want['flip'] and ev['flip_fusion'] == want['flip_fusion']
    for k in ('crop', 'min_depth', 'max_depth'):
        assert ev['evaluator'][k] == want[k], k
    assert ev['evaluator'].get('crop_convention', 'kb_cropped') == 'kb_cropped'
    best = ev['save_best'] if isinstance(ev['save_best'], list) else [ev['save_best']]
    rule = ev['rule'] if isinstance(ev['rule'], list) else [ev['rule']]
    assert dict(zip(best, rule)) == want['best']


@pytest.mark.parametrize('key', KEYS)
def test_dgr_leaf_is_the_recipe_plus_dgr_and_nothing_else(key):
    path = OFFICIAL[key]['config']
    host = osp.basename(path).split('_')[0]
    dgr_path = path.replace(f'/{host}_', f'/{host}-dgr_')
    base, dgr = (Config.fromfile(osp.join(REPO, p)).to_dict() for p in (path, dgr_path))
    bb_base, bb_dgr = base['model'].pop('backbone'), dgr['model'].pop('backbone')
    assert base == dgr
    assert bb_dgr.pop('type') == 'DGRBackbone'
    assert bb_dgr.pop('host_type') == bb_base.pop('type')
    assert bb_dgr == bb_base


def test_paper_schedule_keeps_the_dgr_papers_sec4_values():
    # DGR paper (Yao, Wu, Zhang, BMVC 2024) Sec. 4 "Implementation Details": Adam
    # beta (0.9, 0.999), eps 1e-6, weight decay 0.01 encoder / 0 decoder, poly decay
    # power 0.9 from 1e-4 to 1e-5.
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/schedules/schedule_paper_25k.py'))

    class Tiny(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Linear(2, 2)
            self.decode_head = torch.nn.Linear(2, 1)

    model = Tiny()
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    by_part = {}
    for g in wrapper.optimizer.param_groups:
        for p in g['params']:
            in_backbone = any(p is q for q in model.backbone.parameters())
            part = 'backbone' if in_backbone else 'head'
            by_part.setdefault(part, set()).add((g['lr'], g['weight_decay'], g['eps'],
                                                 tuple(g['betas'])))
    assert by_part == {'backbone': {(1e-4, 0.01, 1e-6, (0.9, 0.999))},
                       'head': {(1e-4, 0.0, 1e-6, (0.9, 0.999))}}
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min) == ('PolyLR', 0.9, 1e-5)


def test_card_prints_every_section(tmp_path, capsys):
    path = osp.join(REPO, OFFICIAL['adabins-kitti']['config'])
    CARD.main([path, '--train-list-len', '23158'])
    text = capsys.readouterr().out
    for section in ('encoder', 'head and loss', 'training data', 'batch',
                    'optimiser (as mmengine builds it)', 'schedule', 'length',
                    'evaluation'):
        assert f'\n{section}' in text, section
    assert '36,200 (IterBasedTrainLoop)' in text
    assert 'ceil(23,158 / 16) = 1,448 iterations per epoch' in text
    assert 'GT > 0.001 m' in text and 'every 100 iterations' in text


def test_auto_scale_lr_keeps_the_lr_per_sample(recipes):
    # 2 GPUs x 1 image instead of 8 x 1: mmengine scales the lr by 2/8 before the
    # schedulers are built; the poly floor follows (0.1 x the scaled lr).
    off = OFFICIAL['pixelformer-kitti']
    cfg = copy.deepcopy(recipes['pixelformer-kitti'][0])
    cfg.train_cfg.max_iters = 100
    cfg.param_scheduler[0].end = 101
    tiny = torch.nn.Module()
    tiny.backbone, tiny.decode_head = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    r = CARD.resolve_recipe(cfg, off['config'], off['train_list_len'], gpus=2, model=tiny)
    assert r['batch']['lr_scale'] == pytest.approx(0.25)
    last = r['schedule']['samples'][99]['lr'][0]
    lr0 = 0.25 * off['optimizer']['lr']
    assert r['schedule']['samples'][0]['lr'][0] == pytest.approx(lr0, rel=1e-12)
    assert last == pytest.approx(0.9 * lr0 * (1 / 100)**0.9 + 0.1 * lr0, rel=1e-9)
