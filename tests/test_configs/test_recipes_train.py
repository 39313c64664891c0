"""Each official-recipe leaf trains 2 iterations through tools/train.py (CPU).

The full networks (Swin-L, EfficientNet-B5) with their recipes' optimisers, schedulers,
loss masks and augmentations (CutDepth included) run on generated data at reduced frame
sizes: the crops that refer to the real frame sizes (NYU border box, KITTI KB crop and
random crop) are scaled down with ``--cfg-options``, pretrained downloads are off, and
no checkpoint is written (a Swin-L checkpoint with Adam state is ~3 GB). AdaBins cannot go
as small: its mini-ViT needs n_query + 1 = 129 patches of 16 px on the stride-2 decoder map,
so its frames are generated at 368x400 (NYU) / 352x400 (KITTI) and cropped to 352x384.

Each run needs minutes of CPU and up to ~5 GB of memory (Swin-L with Adam state), so by
default two leaves run (PixelFormer NYU: Swin-L, CutDepth, the poly schedule and the
flip post-processing; AdaBins KITTI: EfficientNet-B5, the one-cycle lr/beta1 schedulers,
SyncBN configs) and the other four with ``MMDEPTH_TRAIN_ALL_RECIPES=1``.
"""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, TINY_HW

LEAVES = {
    'pixelformer-nyu': 'configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_nyu-480x640.py',
    'pixelformer-kitti':
    'configs/pixelformer/pixelformer_swin-l-w7_8xb1-20e_kitti-352x1120.py',
    'newcrfs-nyu': 'configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_nyu-480x640.py',
    'newcrfs-kitti': 'configs/newcrfs/newcrfs_swin-l-w7_8xb1-50e_kitti-352x1120.py',
    'adabins-nyu': 'configs/adabins/adabins_efficientnet-b5_4xb4-25e_nyu-416x544.py',
    'adabins-kitti': 'configs/adabins/adabins_efficientnet-b5_4xb4-25e_kitti-352x704.py',
}
KITTI_HW = (64, 160)
# AdaBins: frames large enough for 129 mini-ViT patches after a 352x384 crop
ADABINS_NYU_HW, ADABINS_KITTI_HW, ADABINS_CROP = (368, 400), (352, 400), (352, 384)


def _generate(factory, name, **kw):
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(factory.mktemp(name))
    generate_dataset(root, seed=0, progress=False, num_workers=0, **kw)
    return root


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory, synthetic_nyu_root):
    return {
        'nyu': synthetic_nyu_root,
        'kitti': _generate(tmp_path_factory, 'syn_kitti', kind='kitti', num_train=4,
                           num_test=3, height=KITTI_HW[0], width=KITTI_HW[1]),
        'adabins-nyu': _generate(tmp_path_factory, 'syn_nyu_ab', kind='nyu', num_train=2,
                                 num_test=1, height=ADABINS_NYU_HW[0],
                                 width=ADABINS_NYU_HW[1]),
        'adabins-kitti': _generate(tmp_path_factory, 'syn_kitti_ab', kind='kitti',
                                   num_train=2, num_test=2, height=ADABINS_KITTI_HW[0],
                                   width=ADABINS_KITTI_HW[1]),
    }


def _loaders(data_root, train_split, test_split, prefix):
    opts = []
    for key, split in (('train_dataloader', train_split), ('val_dataloader', test_split),
                       ('test_dataloader', test_split)):
        p = prefix['train' if key == 'train_dataloader' else 'test']
        opts += [f'{key}.dataset.data_root={data_root}',
                 f'{key}.dataset.split_file={split}',
                 f'{key}.dataset.data_prefix.img_path={p}',
                 f'{key}.dataset.data_prefix.depth_map_path={p}',
                 f'{key}.num_workers=0', f'{key}.persistent_workers=False']
    return opts


def _overrides(key, roots):
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=1000',
            'default_hooks.checkpoint.save_last=False',
            'default_hooks.checkpoint.save_best=None', 'default_hooks.checkpoint.rule=None',
            'default_hooks.logger.interval=1']
    host, dataset = key.split('-')
    adabins = host == 'adabins'
    if adabins:
        opts += ['model.backbone.pretrained=False', 'train_dataloader.batch_size=1']
    else:
        opts += ['model.backbone.init_cfg=None']
    if dataset == 'nyu':
        h, w = ADABINS_NYU_HW if adabins else TINY_HW
        opts += _loaders(roots[key] if adabins else roots['nyu'], 'nyu_train.txt',
                         'nyu_test.txt', dict(train='train', test='test'))
        # the NYU border box (rows 45:472, cols 43:608 of 480x640) scaled to the frame
        opts += [f'train_dataloader.dataset.pipeline.2.frame_hw=[{h},{w}]',
                 f'train_dataloader.dataset.pipeline.2.box=[4,4,{h - 4},{w - 4}]',
                 'val_evaluator.crop=none', 'test_evaluator.crop=none']
        if adabins:  # its 416x544 random crop inside the border crop
            opts += ['train_dataloader.dataset.pipeline.4.crop_size=[{},{}]'.format(
                *ADABINS_CROP)]
    else:
        h, w = ADABINS_KITTI_HW if adabins else KITTI_HW
        crop = ADABINS_CROP if adabins else (h, w - 32)
        opts += _loaders(roots[key] if adabins else roots['kitti'], 'kitti_eigen_train.txt',
                         'kitti_eigen_test.txt', dict(train='', test=''))
        # KB crop 352x1216 -> the whole frame; the random crop (352x1120 / 352x704)
        # -> `crop`
        opts += [f'train_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]',
                 f'train_dataloader.dataset.pipeline.4.crop_size=[{crop[0]},{crop[1]}]',
                 f'val_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]',
                 f'test_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]']
    return opts


DEFAULT = ('pixelformer-nyu', 'adabins-kitti')
ALL = os.environ.get('MMDEPTH_TRAIN_ALL_RECIPES') == '1'


@pytest.mark.parametrize('key', [
    k if k in DEFAULT else pytest.param(k, marks=pytest.mark.skipif(
        not ALL, reason='heavy: set MMDEPTH_TRAIN_ALL_RECIPES=1 to train this leaf too'))
    for k in sorted(LEAVES)])
def test_official_recipe_leaf_trains_two_iterations_through_train_py(
        key, data_roots, tmp_path):
    work = str(tmp_path / 'work')
    # --verbose: mmengine's iteration lines on the console, as the asserts read them
    args = [sys.executable, 'tools/train.py', LEAVES[key], '--work-dir', work, '--verbose',
            '--cfg-options'] + _overrides(key, data_roots)
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='2',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=1500)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # two logged training iterations with a finite loss, then the validation
    assert 'Iter(train) [2/2]' in log, log[-3000:]
    assert 'Iter(val)' in log and 'd1:' in log, log[-3000:]
    assert 'nan' not in log.split('Iter(train) [2/2]')[1].split('\n')[0].lower()
    assert not [f for f in os.listdir(work) if f.endswith('.pth')]
