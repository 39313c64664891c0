"""The walkthrough of ``configs/probe/README.md`` as one command: generate the scenes, train
the quickstart CNN-vs-Transformer pair, run the sparse-pixel study, write one run record.

    python tools/analysis_tools/sparse_pixel_probe.py walkthrough --seed 0 \
        --work-dir work_dirs/probe_walkthrough/seed0 [--record docs/data/probe/X.json]

Steps (all seeded by ``--seed``; deterministic on CPU):

1. ``generate_dataset`` writes ``--num-train`` / ``--num-test`` generated NYU-layout scenes
   at ``--height`` x ``--width`` into ``--data-root`` (default ``WORK_DIR/data``) with the
   generator seed ``--seed`` (a folder already holding exactly that data is reused; the
   generator's fingerprint decides, see :mod:`mmdepth_dgr.datasets.synthetic.generate`).
2. ResNet-18 and MiT-B0 of ``configs/cnn_vs_transformer/`` (the ``*-600iter`` configs with
   the schedule shortened to ``--net-iters``: warm-up kept, poly decay ending at
   ``--net-iters``), each trained by the Runner with ``randomness.seed = --seed`` in
   ``WORK_DIR/{r18,mit-b0}``; no validation (the study evaluates both on the full image).
3. The study (:func:`mmdepth_dgr.probe.study.run_study`) in ``WORK_DIR/probe``: G trained
   ``--probe-iters`` per network, masks binarised to the top ``--density`` per image.
4. The run record (:func:`mmdepth_dgr.probe.study.probe_record`, ``tool =
   'sparse_pixel_walkthrough'``) with the data set, the pair's schedule and the times of
   every step, to ``WORK_DIR/walkthrough_record.json`` and ``--record``; the first two
   figure rows stacked into ``WORK_DIR/figure.png``.
"""
import argparse
import os.path as osp
import time
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from . import study

__all__ = ['PAIR', 'parse_args', 'pair_cfg', 'main']

#: The quickstart pair of ``configs/cnn_vs_transformer/``: side -> (short name, config).
PAIR = {
    'cnn': ('r18', osp.join(study._REPO, 'configs/cnn_vs_transformer/'
                                         'hu-pair_r18_1xb4-600iter_synnyu-240x320.py')),
    'transformer': ('mit-b0', osp.join(study._REPO, 'configs/cnn_vs_transformer/'
                                                    'hu-pair_mit-b0_1xb4-600iter_synnyu-'
                                                    '240x320.py')),
}


def parse_args(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(
        prog='sparse_pixel_probe.py walkthrough',
        description='The sparse-pixel walkthrough of configs/probe/README.md in one command.')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the data generator, of both networks\' and both G\'s '
                   'training')
    p.add_argument('--work-dir', default=None,
                   help='default: work_dirs/probe_walkthrough/seed<SEED>')
    p.add_argument('--data-root', default=None, help='default: WORK_DIR/data')
    p.add_argument('--height', type=int, default=120)
    p.add_argument('--width', type=int, default=160)
    p.add_argument('--num-train', type=int, default=300)
    p.add_argument('--num-test', type=int, default=60)
    p.add_argument('--net-iters', type=int, default=120,
                   help='training iterations of each network of the pair')
    p.add_argument('--probe-iters', type=int, default=40,
                   help='training iterations of each mask network G')
    p.add_argument('--density', type=float, default=0.1,
                   help='binarise the masks to this top fraction per image')
    p.add_argument('--lam', type=float, default=None,
                   help='lambda of Eq. 4 (default: the probe config\'s, 5)')
    p.add_argument('--num-figures', type=int, default=2)
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: torch\'s); 1 avoids OpenMP threads '
                   'spinning against each other on a machine shared with other jobs')
    p.add_argument('--record', default=None, metavar='JSON',
                   help='also write the run record here, e.g. '
                   'docs/data/probe/walkthrough_120x160_seed0.json')
    p.add_argument('--cfg-options', nargs='+', default=None,
                   help='passed to the study (overrides of the probe config)')
    args = p.parse_args(argv)
    if args.work_dir is None:
        args.work_dir = osp.join('work_dirs', 'probe_walkthrough', f'seed{args.seed}')
    if args.data_root is None:
        args.data_root = osp.join(args.work_dir, 'data')
    if args.threads is not None and args.threads < 1:
        p.error(f'--threads must be >= 1, got {args.threads}')
    for name in ('net_iters', 'probe_iters', 'num_train', 'num_test'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1, got {getattr(args, name)}')
    return args


def pair_cfg(config: str, work_dir: str, data_root: str, iters: int, seed: int,
             name: str) -> Config:
    """The Runner config of one network of the pair, shortened to ``iters`` iterations.

    Args:
        config (str): The pair config (``configs/cnn_vs_transformer/*-600iter*.py``).
        work_dir (str): The Runner's work dir.
        data_root (str): The generated data (train, val and test dataloaders).
        iters (int): Training iterations; the poly decay ends there, the warm-up is kept
            (clipped to half of ``iters``); one checkpoint, ``iter_<iters>.pth``, no validation.
        seed (int): ``randomness.seed``.
        name (str): Unique experiment / visualizer name (several Runners in one process).

    Returns:
        mmengine.Config
    """
    cfg = Config.fromfile(config)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].dataset.data_root = data_root
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1
    cfg.train_cfg.val_begin = iters + 1
    warm = min(cfg.param_scheduler[0]['end'], max(1, iters // 2))
    cfg.param_scheduler[0]['end'] = warm
    cfg.param_scheduler[-1]['begin'] = warm
    cfg.param_scheduler[-1]['end'] = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.experiment_name = f'probe_walkthrough_{name}_{time.strftime("%Y%m%d_%H%M%S")}'
    if cfg.get('visualizer') is not None:
        cfg.visualizer.name = f'{cfg.experiment_name}_vis'
    return cfg


def _stack_figures(paths, out: str) -> Optional[str]:
    rows = [cv2.imread(p) for p in paths]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    cv2.imwrite(out, np.concatenate(rows, axis=0))
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Run the walkthrough (see the module docstring); returns the run record."""
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    from mmdepth_dgr.engine import build_runner

    args = parse_args(argv)
    command = None if argv is None else [
        'python', 'tools/analysis_tools/sparse_pixel_probe.py', 'walkthrough', *argv]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    print(f'[walkthrough] 1/3 data: {args.data_root} ({args.num_train} train / '
          f'{args.num_test} test, {args.height}x{args.width}, seed {args.seed})', flush=True)
    info = generate_dataset(args.data_root, kind='nyu', num_train=args.num_train,
                            num_test=args.num_test, height=args.height, width=args.width,
                            seed=args.seed)
    status = ('already there, unchanged' if info['skipped'] else
              f'regenerated ({info["regenerated"]})' if info.get('regenerated')
              else 'generated')
    timing = dict(generate=time.perf_counter() - t0)

    ckpts = {}
    for side, (short, config) in PAIR.items():
        print(f'[walkthrough] 2/3 train {short} ({args.net_iters} iterations)', flush=True)
        t = time.perf_counter()
        init_default_scope('mmseg')
        cfg = pair_cfg(config, osp.join(args.work_dir, short), args.data_root,
                       args.net_iters, args.seed, short)
        build_runner(cfg).train()
        ckpts[side] = osp.join(cfg.work_dir, f'iter_{args.net_iters}.pth')
        if not osp.isfile(ckpts[side]):
            raise FileNotFoundError(f'walkthrough: training {config} did not write '
                                    f'{ckpts[side]}')
        timing[f'train_{short}'] = time.perf_counter() - t

    print('[walkthrough] 3/3 the probe', flush=True)
    probe_argv = [PAIR['cnn'][1], ckpts['cnn'], PAIR['transformer'][1], ckpts['transformer'],
                  '--work-dir', osp.join(args.work_dir, 'probe'), '--data-root',
                  args.data_root, '--iters', str(args.probe_iters), '--density',
                  str(args.density), '--seed', str(args.seed), '--num-figures',
                  str(args.num_figures)]
    if args.lam is not None:
        probe_argv += ['--lam', str(args.lam)]
    if args.cfg_options:
        probe_argv += ['--cfg-options', *args.cfg_options]
    pargs = study.parse_args(probe_argv)
    t = time.perf_counter()
    res = study.run_study(pargs)
    timing['probe'] = time.perf_counter() - t
    timing['total'] = time.perf_counter() - t0
    figure = _stack_figures(res['figures'], osp.join(args.work_dir, 'figure.png'))
    record = study.probe_record(res, pargs, command=command, extra=dict(
        tool='sparse_pixel_walkthrough',
        dataset=dict(kind='nyu', num_train=args.num_train, num_test=args.num_test,
                     height=args.height, width=args.width, seed=args.seed, status=status),
        pair={side: dict(config=study._repo_rel(config), iters=args.net_iters,
                         batch_size=Config.fromfile(config).train_dataloader.batch_size)
              for side, (_, config) in PAIR.items()},
        work_dir=args.work_dir, figure=figure,
        timing_s=dict(timing, probe_train_cnn=res['train_s']['cnn'],
                      probe_train_transformer=res['train_s']['transformer'],
                      probe_evaluate=res['eval_s'])))
    paths = study.write_record(record, [osp.join(args.work_dir, 'walkthrough_record.json'),
                                        args.record])
    print(f'[walkthrough] {timing["total"]:.0f} s in all (data {timing["generate"]:.0f} s, '
          f'r18 {timing["train_r18"]:.0f} s, mit-b0 {timing["train_mit-b0"]:.0f} s, probe '
          f'{timing["probe"]:.0f} s); run record: {" and ".join(paths)}', flush=True)
    return record
