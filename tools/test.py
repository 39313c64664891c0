"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--show-dir D] [--out D]``.

``CHECKPOINT`` may be a local path or an http(s) URL (downloaded through mmengine's
checkpoint loader and cached).
"""
import argparse
import os
import os.path as osp

from _launch import setup_launcher, teardown_launcher

import mmdepth_dgr  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Test a depth estimator')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file path or URL')
    parser.add_argument('--work-dir', help='dir for the evaluation logs')
    parser.add_argument(
        '--out', help='dir to save each predicted depth as a uint16 PNG (metres x '
        'test_evaluator.depth_scale_factor, 256 by default) plus per_image_metrics.csv')
    parser.add_argument('--show-dir', help='dir to save image|GT|pred|error panels')
    parser.add_argument('--flip', action='store_true', help='flip test-time augmentation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_cfg(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file not found: {args.config}')
    if not args.checkpoint.startswith(('http://', 'https://')) and \
            not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    setup_launcher(cfg, args.launcher)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.flip:
        cfg.model.test_cfg['flip'] = True
    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise KeyError('--show-dir needs default_hooks.visualization in the config')
        hooks.visualization.update(draw=True, interval=1)
        cfg.visualizer['save_dir'] = args.show_dir
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['output_dir'] = args.out
    return cfg


def main():
    args = parse_args()
    cfg = build_cfg(args)
    runner = Runner.from_cfg(cfg)
    try:
        runner.test()
    finally:
        teardown_launcher()


if __name__ == '__main__':
    main()
