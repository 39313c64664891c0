"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--show-dir D] [--out D]``.

``CHECKPOINT`` may be a local path or an http(s) URL (downloaded once into the torch.hub
cache and checked against the SHA-256 prefix in its name). It is loaded strictly: a
checkpoint of another model is an error naming the file and the missing / unexpected /
shape-mismatched keys (``--non-strict`` evaluates it anyway, with a warning).

``--out D`` and ``--show-dir D`` write one file per test image at the image's path
relative to the test set's image folder (``data_root`` + ``data_prefix.img_path``), so
frames with equal base names from different folders (KITTI drives) never overwrite
each other.
"""
import argparse
import os
import os.path as osp
from typing import Optional

from _launch import announce_run, build_runner, load_config, teardown_launcher

from mmengine.config import Config, DictAction

import mmdepth_dgr  # noqa: F401


def parse_args():
    parser = argparse.ArgumentParser(description='Test a depth estimator')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file path or URL')
    parser.add_argument('--work-dir', help='dir for the evaluation logs')
    parser.add_argument(
        '--out', help='dir to save each predicted depth as a uint16 PNG (metres x '
        'test_evaluator.depth_scale_factor, 256 by default) at the image\'s path '
        'relative to the test image folder, plus per_image_metrics.csv')
    parser.add_argument('--show-dir', help='dir to save image | GT | prediction | error '
                        'panels (titled, colour bars in metres, one error scale for the '
                        'run), at the same relative paths as --out')
    parser.add_argument('--flip', action='store_true', help='flip test-time augmentation')
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint whose keys or shapes do not match the model (a warning '
        'names them; the unmatched weights keep their random initialisation, so the '
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


def image_root(dataset_cfg) -> Optional[str]:
    """The image folder of a dataset config (``data_root`` joined with
    ``data_prefix.img_path``, as mmengine's ``BaseDataset`` joins them), or None.

    Args:
        dataset_cfg (dict): ``test_dataloader.dataset``.

    Returns:
        str | None: The folder output names are made relative to.
    """
    if not isinstance(dataset_cfg, dict):
        return None
    data_root = dataset_cfg.get('data_root') or ''
    prefix = (dataset_cfg.get('data_prefix') or {}).get('img_path') or ''
    if osp.isabs(prefix):
        return prefix
    return osp.join(data_root, prefix) if data_root or prefix else None


def build_cfg(args) -> Config:
    if not args.checkpoint.startswith(('http://', 'https://')) and \
            not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'Checkpoint not found: {args.checkpoint} (absolute path '
            f'{osp.abspath(args.checkpoint)}; current directory {os.getcwd()})')
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    # Loaded in main() (strict unless --non-strict), not through cfg.load_from, which the
    # Runner loads non-strictly (right for fine-tuning, wrong for evaluation).
    cfg.load_from = None
    # Testing needs no training set: without this, mmseg's visualization hook (step=
    # runner.iter) makes mmengine build the train loop and its dataset, and --show-dir
    # fails on a machine that holds only the test data.
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    if args.flip:
        cfg.model.test_cfg['flip'] = True
    root = image_root(cfg.get('test_dataloader', {}).get('dataset'))
    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise KeyError('--show-dir needs default_hooks.visualization in the config')
        hooks.visualization.update(draw=True, interval=1)
        if cfg.visualizer.get('type') in ('DepthLocalVisualizer',
                                          'mmseg.DepthLocalVisualizer'):
            cfg.visualizer.update(out_dir=args.show_dir, out_root=root)
        else:  # another visualizer: its vis backends write under --show-dir
            cfg.visualizer['save_dir'] = args.show_dir
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['output_dir'] = args.out
            ev['output_root'] = root
    return cfg


def main():
    args = parse_args()
    cfg = build_cfg(args)
    runner = build_runner(cfg, verbose=args.verbose)
    announce_run(runner, 'test', args.config, checkpoint=args.checkpoint)
    try:
        runner.load_checkpoint(args.checkpoint, map_location='cpu',
                               strict=not args.non_strict)
        runner.test()
    finally:
        teardown_launcher()


if __name__ == '__main__':
    main()
