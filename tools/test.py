"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--show-dir D] [--out D]``.

``CHECKPOINT`` may be a local path or an http(s) URL (downloaded through mmengine's
checkpoint loader and cached).
"""
import argparse
import os
import os.path as osp

from _launch import announce_run, build_runner, load_config, teardown_launcher

import mmdepth_dgr  # noqa: F401
from mmengine.config import Config, DictAction


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
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint whose keys or shapes do not match the model (mmengine '
        'only warns; the unmatched weights keep their random initialisation, so the '
        'metrics are those of a partly untrained model). Default: such a checkpoint is '
        'an error naming it and the keys.')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
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
    if not args.checkpoint.startswith(('http://', 'https://')) and \
            not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {args.checkpoint}')
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    # Loaded in main() (strict unless --non-strict), not through cfg.load_from: the
    # Runner's load_from path is always non-strict and would evaluate another model's
    # checkpoint with random weights in place of the missing ones, silently.
    cfg.load_from = None
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


def _shorten_key_lists(msg: str, keep: int = 5) -> str:
    """Shorten mmengine's 'missing keys in source state_dict: k1, k2, ...' lines."""
    out = []
    for line in msg.splitlines():
        head, sep, keys = line.partition(': ')
        names = keys.split(', ')
        if sep and len(names) > keep:
            line = f'{head}: {", ".join(names[:keep])}, ... ({len(names)} in all)'
        out.append(line)
    return '\n'.join(out)


def main():
    args = parse_args()
    cfg = build_cfg(args)
    runner = build_runner(cfg, verbose=args.verbose)
    announce_run(runner, 'test', args.config, checkpoint=args.checkpoint)
    try:
        try:
            runner.load_checkpoint(args.checkpoint, map_location='cpu',
                                   strict=not args.non_strict)
        except RuntimeError as e:
            if 'do not match exactly' not in str(e):
                raise
            raise RuntimeError(
                f'Checkpoint {args.checkpoint} does not match the model of {args.config} '
                '(pass --non-strict to evaluate it anyway, with the unmatched weights left '
                f'at their initialisation):\n{_shorten_key_lists(str(e))}') from None
        runner.test()
    finally:
        teardown_launcher()


if __name__ == '__main__':
    main()
