"""Each official-recipe leaf trains 2 iterations through tools/train.py (CPU).

The full networks (Swin-L, EfficientNet-B5) with their recipes' optimisers, schedulers,
loss masks and augmentations (CutDepth included) run on generated data at reduced frame
sizes: the crops that refer to the real frame sizes (NYU border box, KITTI KB crop and
random crop) are scaled down with ``--cfg-options``, pretrained downloads are off, and
no checkpoint is written (a Swin-L checkpoint with Adam state is ~3 GB).
"""
import os
import os.path as osp
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


@pytest.fixture(scope='module')
def synthetic_kitti_root(tmp_path_factory):
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('synthetic_kitti'))
    generate_dataset(root, kind='kitti', num_train=4, num_test=3, height=KITTI_HW[0],
                     width=KITTI_HW[1], seed=0, progress=False, num_workers=0)
    return root


def _loaders(data_root, train_split, test_split, prefix):
    opts = []
    for key, split in (('train_dataloader', train_split), ('val_dataloader', test_split),
                       ('test_dataloader', test_split)):
        p = prefix['train' if key == 'train_dataloader' else 'test']
        opts += [f'{key}.dataset.data_root={data_root}', f'{key}.dataset.split_file={split}',
                 f'{key}.dataset.data_prefix.img_path={p}',
                 f'{key}.dataset.data_prefix.depth_map_path={p}',
                 f'{key}.num_workers=0', f'{key}.persistent_workers=False']
    return opts


def _overrides(key, nyu_root, kitti_root, work_dir):
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=1000',
            'default_hooks.checkpoint.save_last=False',
            'default_hooks.checkpoint.save_best=None', 'default_hooks.checkpoint.rule=None',
            'default_hooks.logger.interval=1']
    host, dataset = key.split('-')
    if host == 'adabins':
        opts += ['model.backbone.pretrained=False', 'train_dataloader.batch_size=2']
    else:
        opts += ['model.backbone.init_cfg=None']
    if dataset == 'nyu':
        h, w = TINY_HW
        opts += _loaders(nyu_root, 'nyu_train.txt', 'nyu_test.txt',
                         dict(train='train', test='test'))
        # the NYU border box (rows 45:472, cols 43:608 of 480x640) scaled to the frame
        opts += [f'train_dataloader.dataset.pipeline.2.frame_hw=[{h},{w}]',
                 f'train_dataloader.dataset.pipeline.2.box=[4,4,{h - 4},{w - 4}]',
                 'val_evaluator.crop=none', 'test_evaluator.crop=none']
        if host == 'adabins':  # 416x544 random crop inside the border crop
            opts += [f'train_dataloader.dataset.pipeline.4.crop_size=[{h - 16},{w - 16}]']
    else:
        h, w = KITTI_HW
        opts += _loaders(kitti_root, 'kitti_eigen_train.txt', 'kitti_eigen_test.txt',
                         dict(train='', test=''))
        # KB crop 352x1216 -> the whole frame; random crop 352x1120 / 352x704 -> 64x128
        opts += [f'train_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]',
                 f'train_dataloader.dataset.pipeline.4.crop_size=[{h},{w - 32}]',
                 f'val_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]',
                 f'test_dataloader.dataset.pipeline.2.crop_size=[{h},{w}]']
    return opts


@pytest.mark.parametrize('key', sorted(LEAVES))
def test_official_recipe_leaf_trains_two_iterations_through_train_py(
        key, synthetic_nyu_root, synthetic_kitti_root, tmp_path):
    work = str(tmp_path / 'work')
    args = [sys.executable, 'tools/train.py', LEAVES[key], '--work-dir', work,
            '--cfg-options'] + _overrides(key, synthetic_nyu_root, synthetic_kitti_root,
                                          work)
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
