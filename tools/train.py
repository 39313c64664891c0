"""Train a depth model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume]``."""
import argparse
import os

from _launch import announce_run, build_runner, load_config, teardown_launcher

import mmdepth_dgr  # noqa: F401  (registers datasets, models, metrics, hooks)
from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Train a depth estimator')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from the latest checkpoint in the work dir (no value) or '
        'from the given checkpoint path')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic mixed precision (GPU)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--verbose', action='store_true',
        help='show the full mmengine log on the console (environment, config, hook table, '
        'log lines). Default: a run header, progress bars and the metrics; the full log '
        'goes to the work dir either way')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main():
    args = parse_args()
    cfg = build_cfg(args)
    runner = build_runner(cfg, verbose=args.verbose)
    announce_run(runner, 'train', args.config)
    try:
        runner.train()
    finally:
        teardown_launcher()


if __name__ == '__main__':
    main()
