"""Train a depth model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]``.

``--resume`` continues the last checkpoint of the work dir (or the given one); when
there is none it is an error naming the work dir, so a mistyped ``--work-dir`` cannot
silently restart a long run from iteration 0. ``--resume-or-start`` keeps mmengine's
behaviour (resume when a checkpoint exists, else start), for job schedulers that
re-submit the same command. ``--amp`` needs a GPU.
"""
import argparse
import os
import os.path as osp

from _launch import announce_run, build_runner, load_config, teardown_launcher

from mmengine.config import Config, DictAction
from mmengine.runner import find_latest_checkpoint

import mmdepth_dgr  # noqa: F401  (registers datasets, models, metrics, hooks)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a depth estimator')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from the latest checkpoint in the work dir (no value) or '
        'from the given checkpoint path; an error when there is nothing to resume')
    resume.add_argument(
        '--resume-or-start', action='store_true',
        help='resume from the latest checkpoint in the work dir when there is one, '
        'else start from iteration 0 (mmengine\'s auto-resume, for re-submitted jobs)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a CUDA GPU)')
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


def _has_gpu() -> bool:
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    return is_cuda_available() or is_npu_available() or is_mlu_available() or \
        is_musa_available()


def build_cfg(args) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if cfg.get('optim_wrapper', {}).get('type') == 'AmpOptimWrapper' and not _has_gpu():
        how = '--amp' if args.amp else \
            f'optim_wrapper.type=AmpOptimWrapper in {args.config}'
        raise RuntimeError(
            f'{how}: mixed-precision training needs a GPU (CUDA; mmengine\'s '
            'AmpOptimWrapper also accepts NPU/MLU/MUSA) and none is available here. '
            'Train without --amp on CPU.')
    if args.resume == 'auto':
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest is None:
            raise FileNotFoundError(
                f'--resume: nothing to resume in the work dir {osp.abspath(cfg.work_dir)} '
                '(no "last_checkpoint" file there). Check --work-dir (default: '
                './work_dirs/<config name>), give the checkpoint (--resume PATH), or use '
                '--resume-or-start to start from iteration 0 when there is none.')
        cfg.resume, cfg.load_from = True, latest
    elif args.resume:
        if not args.resume.startswith(('http://', 'https://')) and \
                not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: checkpoint not found (absolute path '
                f'{osp.abspath(args.resume)})')
        cfg.resume, cfg.load_from = True, args.resume
    elif args.resume_or_start:
        cfg.resume, cfg.load_from = True, None
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
