"""Helpers shared by the decode-head tests: random level features, fake batches, the
leaf-config check and the "few Runner iterations" config. The host table and the tiny
model configs are in _hosts.py, the checks every host shares in test_host_matrix.py."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from tests.conftest import REPO_ROOT, tiny_runner_cfg

REPO = REPO_ROOT
SYNTHETIC_NYU = osp.join(REPO, 'configs/_base_/datasets/synthetic_nyu.py')


def level_feats(channels, strides=(4, 8, 16, 32), b=2, h=64, w=96):
    """Random multi-level features ``[B, C_i, H / s_i, W / s_i]``."""
    return [torch.randn(b, c, h // s, w // s) for c, s in zip(channels, strides)]


def depth_batch(b=2, h=64, w=96):
    """Float inputs and data samples whose GT depth is in (0.5, 9.5) with the first four
    rows invalid (0)."""
    inputs = torch.randn(b, 3, h, w)
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        gt = torch.rand(1, h, w) * 9 + 0.5
        gt[:, :4] = 0  # some invalid pixels
        s.gt_depth_map = PixelData(data=gt)
        samples.append(s)
    return inputs, samples


def uint8_batch(model, n, h, w, gt_fn):
    """Uint8 images + samples with ``gt_fn()`` depth, run through ``model``'s
    data preprocessor (training mode)."""
    imgs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(gt_depth_map=PixelData(data=gt_fn()))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return model.data_preprocessor(dict(inputs=imgs, data_samples=samples), True)


def check_leaf_config(cfg, path, head_type):
    """Check the head type, GT pad value, flip test and NYU/KITTI depth caps of a leaf
    config; return the expected ``max_depth``."""
    assert cfg.model.decode_head.type == head_type
    assert cfg.model.data_preprocessor.seg_pad_val == 0
    assert cfg.model.test_cfg.flip is True
    max_depth = 80.0 if 'kitti' in path else 10.0
    assert cfg.model.decode_head.max_depth == max_depth
    assert cfg.val_evaluator.max_depth == max_depth
    return max_depth


def synthetic_runner_cfg(leaf, work_dir, data_root, model):
    """``leaf`` shrunk by :func:`tests.conftest.tiny_runner_cfg` to 3 iterations (one
    validation at the end, no checkpoint), with ``model`` and the synthetic-NYU loaders
    and evaluators on ``data_root``; PolyLR as in the leaves."""
    cfg = tiny_runner_cfg(leaf, str(work_dir), data_root, max_iters=3,
                          **{'default_hooks.checkpoint.interval': 1000})
    cfg.model = Config(dict(model=model)).model
    syn = Config.fromfile(SYNTHETIC_NYU)
    for split in ('train', 'val', 'test'):
        loader = copy.deepcopy(syn[f'{split}_dataloader'])
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        if split == 'train':
            loader.batch_size = 2
        cfg[f'{split}_dataloader'] = loader
    cfg.val_evaluator = cfg.test_evaluator = syn.val_evaluator
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False,
                                begin=0, end=3)]
    return cfg
