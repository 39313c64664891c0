"""Quickstart: generate data if missing, train, evaluate, compare with a constant.

    .venv/bin/python tools/quickstart.py

1. Writes the procedural indoor scenes (NYU layout, 300 train / 60 test, 240x320) to
   ``data/synthetic_nyu`` unless a complete copy is already there.
2. Trains ``configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py``
   (SegFormer MiT-B0 from mmseg's definition, random init, SILog) through mmengine's
   Runner and evaluates it on the test split.
3. Evaluates, with the same metric, a constant predictor that outputs the median of all
   valid training depths, and prints both as one markdown table.
"""
import argparse
import os.path as osp
import sys
import time

from _launch import default_work_dir  # also puts the repo on sys.path

import numpy as np
import torch
from tqdm import tqdm

import mmdepth_dgr  # noqa: F401
from mmdepth_dgr.datasets.synthetic import generate_dataset
from mmdepth_dgr.datasets.transforms import read_depth_png
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import DATASETS, METRICS

DEFAULT_CONFIG = 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
SHOWN = ('d1', 'abs_rel', 'rmse', 'rmse_log', 'silog', 'dbe_acc', 'dbe_comp',
         'grad_err')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--data-root', default='data/synthetic_nyu')
    p.add_argument('--work-dir', default=None,
                   help='defaults to work_dirs/<config name>, as tools/train.py')
    p.add_argument('--max-iters', type=int, default=None,
                   help='override train_cfg.max_iters (and the LR schedule end)')
    p.add_argument('--num-train', type=int, default=300)
    p.add_argument('--num-test', type=int, default=60)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args()


def set_data_root(cfg: Config, root: str) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root


def constant_median_metrics(cfg: Config, train_depth_paths, depth_scale: float) -> dict:
    """Metrics of a predictor that outputs the median valid training depth everywhere."""
    values = []
    for path in tqdm(train_depth_paths, desc='median of train GT', leave=False):
        d = read_depth_png(path, depth_scale)
        values.append(d[(d > 0) & np.isfinite(d)])
    median = float(np.median(np.concatenate(values)))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    for idx in tqdm(range(len(dataset)), desc='constant-median baseline', leave=False):
        sample = dataset[idx]['data_samples']
        gt = sample.gt_depth_map.data
        out = sample.to_dict()
        out['pred_depth_map'] = dict(data=torch.full_like(gt, median))
        metric.process({}, [out])
    return metric.evaluate(len(dataset)), median


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    t0 = time.time()
    info = generate_dataset(args.data_root, kind='nyu', num_train=args.num_train,
                            num_test=args.num_test, seed=args.seed)
    print(f'[quickstart] data: {args.data_root} '
          f'({"already there" if info.get("skipped") else "generated"}, '
          f'{time.time() - t0:.0f} s)')

    cfg = Config.fromfile(args.config)
    set_data_root(cfg, args.data_root)
    cfg.work_dir = args.work_dir or default_work_dir(args.config)
    cfg.randomness = dict(seed=args.seed)
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        cfg.train_cfg.val_interval = args.max_iters + 1
        warmup = min(cfg.param_scheduler[0]['end'], max(1, args.max_iters // 2))
        cfg.param_scheduler[0]['end'] = warmup
        cfg.param_scheduler[-1]['begin'] = warmup
        cfg.param_scheduler[-1]['end'] = args.max_iters
    else:
        cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1  # test once at the end
    t1 = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_s = time.time() - t1
    model_metrics = runner.test()
    total_model_s = time.time() - t1

    init_default_scope('mmseg')
    train_ds = DATASETS.build(cfg.train_dataloader.dataset)
    paths = [train_ds.get_data_info(i)['depth_map_path'] for i in range(len(train_ds))]
    scale = cfg.train_dataloader.dataset.get('depth_scale', 1000.0)
    base_metrics, median = constant_median_metrics(cfg, paths, scale)

    def row(name, m):
        return f'| {name} | ' + ' | '.join(
            f'{m.get(k, float("nan")):.3f}' for k in SHOWN) + ' |'

    print('\n[quickstart] test split of the generated indoor scenes '
          f'({len(runner.test_dataloader.dataset)} images; δ1 higher is better, '
          'the rest lower)')
    print('| model | ' + ' | '.join(SHOWN) + ' |')
    print('|---' * (len(SHOWN) + 1) + '|')
    print(row(osp.basename(args.config)[:-3], model_metrics))
    print(row(f'constant median ({median:.2f} m)', base_metrics))
    print(f'\n[quickstart] train {train_s:.0f} s, train+test {total_model_s:.0f} s, '
          f'total {time.time() - t0:.0f} s; work dir {cfg.work_dir}')
    if not model_metrics['abs_rel'] < base_metrics['abs_rel']:
        print('[quickstart] WARNING: the model did not beat the constant predictor.')
        sys.exit(1)


if __name__ == '__main__':
    main()
