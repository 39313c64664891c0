"""Quickstart: generate data if missing, train, evaluate, compare with a constant.

    .venv/bin/python tools/quickstart.py

1. Writes the procedural indoor scenes (NYU layout, 300 train / 60 test, 240x320) to
   ``data/synthetic_nyu`` unless the folder already holds exactly what the current
   generator writes (a folder from another generator version, or with changed files, is
   regenerated; see ``mmdepth_dgr/datasets/synthetic/generate.py``).
2. Trains ``configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py``
   (SegFormer MiT-B0 from mmseg's definition, random init, SILog) through mmengine's
   Runner and evaluates it once on the test split.
3. Evaluates, with the same metric, a constant predictor that outputs the median of all
   valid training depths, prints both as one markdown table and writes a run record
   (commit, data fingerprint, library versions, device, the exact command, the metrics,
   timings) to ``<work dir>/quickstart_record.json`` (and ``--record PATH``).

The console shows a progress bar per phase (generate, train, evaluate) and the table; the
full mmengine log goes to the work dir (``--verbose`` shows it live).

Training uses one torch thread unless ``--threads`` says otherwise: CPU results depend on
the thread count in their last digits (parallel reductions sum in another order, and 600
iterations amplify it), and torch's default is the machine's core count, so with the
default the printed numbers are the same on every machine (a CPU run is deterministic). The README's
"Quickstart result" table is :func:`results_table` of the committed record
``docs/data/quickstart_cpu.json``; ``--from-record PATH`` prints it without training.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional, Sequence

# _launch also puts the repository on sys.path
from _launch import announce_run, build_runner, default_work_dir

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, METRICS

import mmdepth_dgr  # noqa: F401
from mmdepth_dgr.datasets.synthetic import generate_dataset
from mmdepth_dgr.datasets.transforms import read_depth_png
from mmdepth_dgr.engine.hooks import make_progress
from mmdepth_dgr.utils.run_record import make_run_record

DEFAULT_CONFIG = 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
#: README table columns: metric key -> (header, digits, bold the better value).
#: The edge columns are not bolded: a constant has no edges (iBims caps it at 10 px)
#: and zero gradients, so "better" there does not mean a better depth map.
COLUMNS = {
    'd1': ('δ1 ↑', 3, True), 'abs_rel': ('AbsRel ↓', 3, True),
    'rmse': ('RMSE (m) ↓', 3, True), 'rmse_log': ('RMSElog ↓', 3, True),
    'silog': ('SILog ↓', 2, True), 'dbe_acc': ('dbe_acc (px) ↓', 2, False),
    'dbe_comp': ('dbe_comp (px) ↓', 2, False), 'grad_err': ('grad_err ↓', 3, False),
}
HIGHER_IS_BETTER = {'d1'}


def parse_args(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--data-root', default='data/synthetic_nyu')
    p.add_argument('--work-dir', default=None,
                   help='defaults to work_dirs/<config name>, as tools/train.py')
    p.add_argument('--max-iters', type=int, default=None,
                   help='override train_cfg.max_iters (and the LR schedule end)')
    p.add_argument('--num-train', type=int, default=300)
    p.add_argument('--num-test', type=int, default=60)
    p.add_argument('--height', type=int, default=240, help='generated image height')
    p.add_argument('--width', type=int, default=320, help='generated image width')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (default 1: the numbers then do not depend on the '
                   "machine's core count; more threads are faster and change the last "
                   'digits)')
    p.add_argument('--verbose', action='store_true',
                   help="show mmengine's full log on the console (it always goes to the "
                   'work dir)')
    p.add_argument('--record', default=None, metavar='JSON',
                   help='also write the run record here, e.g. docs/data/quickstart_cpu.json')
    p.add_argument('--from-record', default=None, metavar='JSON',
                   help='train nothing: print the table of a saved run record')
    return p.parse_args(argv)


def set_data_root(cfg: Config, root: str) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root


def _tracked(iterable, total: int, desc: str):
    bar = make_progress(total, desc, unit='img')
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


def constant_median_metrics(cfg: Config, train_depth_paths, depth_scale: float):
    """Metrics of a predictor that outputs the median valid training depth everywhere.

    Returns:
        tuple[dict, float]: the metrics and the median (metres).
    """
    values = []
    for path in _tracked(train_depth_paths, len(train_depth_paths), 'median of train GT'):
        d = read_depth_png(path, depth_scale)
        values.append(d[(d > 0) & np.isfinite(d)])
    median = float(np.median(np.concatenate(values)))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    for idx in _tracked(range(len(dataset)), len(dataset), 'evaluate constant'):
        sample = dataset[idx]['data_samples']
        gt = sample.gt_depth_map.data
        out = sample.to_dict()
        out['pred_depth_map'] = dict(data=torch.full_like(gt, median))
        metric.process({}, [out])
    return metric.evaluate(len(dataset)), median


def _plain(metrics: Dict) -> Dict:
    """JSON-able copy (numpy / torch scalars to Python numbers)."""
    return {k: (v.item() if hasattr(v, 'item') else v) for k, v in metrics.items()}


def results_table(record: Dict) -> str:
    """The comparison table of a quickstart record (README "Quickstart result" format).

    One row per entry of ``record['rows']`` (``name``, ``metrics``), one column per
    :data:`COLUMNS` key; in the standard-metric columns the better value is bold.

    Returns:
        str: a markdown table.
    """
    rows = record['rows']
    head = ['model'] + [h for h, _, _ in COLUMNS.values()]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    best = {}
    for key, (_, _, bold) in COLUMNS.items():
        vals = [r['metrics'][key] for r in rows]
        if bold and len(rows) > 1:
            best[key] = max(vals) if key in HIGHER_IS_BETTER else min(vals)
    for r in rows:
        cells = [r['name']]
        for key, (_, digits, _) in COLUMNS.items():
            v = r['metrics'][key]
            text = f'{v:.{digits}f}'
            cells.append(f'**{text}**' if key in best and v == best[key]
                         and sum(x['metrics'][key] == v for x in rows) == 1 else text)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _model_name(config: str, iters: int) -> str:
    name = ('MiT-B0 + regression head' if osp.normpath(config) == osp.normpath(DEFAULT_CONFIG)
            else osp.splitext(osp.basename(config))[0])
    return f'{name}, {iters} iterations'


def _print_table(record: Dict) -> None:
    print(f'\n[quickstart] test split of the generated indoor scenes '
          f'({int(record["results"]["model"].get("num_images"))} images; δ1 higher is better, '
          'the rest lower)')
    print(results_table(record))


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.from_record:
        with open(args.from_record, encoding='utf-8') as f:
            record = json.load(f)
        _print_table(record)
        return record
    command = None if argv is None else ['python', 'tools/quickstart.py', *argv]
    if args.threads < 1:
        raise SystemExit(f'quickstart.py: --threads must be >= 1, got {args.threads}')
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    print(f'[quickstart] 1/3 data: {args.data_root}', flush=True)
    info = generate_dataset(args.data_root, kind='nyu', num_train=args.num_train,
                            num_test=args.num_test, height=args.height, width=args.width,
                            seed=args.seed)
    generate_s = time.perf_counter() - t0
    status = ('already there, unchanged' if info['skipped'] else
              f'regenerated ({info["regenerated"]})' if info.get('regenerated')
              else 'generated')
    print(f'[quickstart] data {status}; content sha256 {info["content_sha256"][:12]}',
          flush=True)

    cfg = Config.fromfile(args.config)
    set_data_root(cfg, args.data_root)
    cfg.work_dir = args.work_dir or default_work_dir(args.config)
    cfg.randomness = dict(seed=args.seed)
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        warmup = min(cfg.param_scheduler[0]['end'], max(1, args.max_iters // 2))
        cfg.param_scheduler[0]['end'] = warmup
        cfg.param_scheduler[-1]['begin'] = warmup
        cfg.param_scheduler[-1]['end'] = args.max_iters
    iters = cfg.train_cfg.max_iters
    # Evaluate once, with runner.test() after training: IterBasedTrainLoop validates
    # at the last iteration unless val_begin lies beyond it.
    cfg.train_cfg.val_interval = iters + 1
    cfg.train_cfg.val_begin = iters + 1
    print('[quickstart] 2/3 train', flush=True)
    runner = build_runner(cfg, verbose=args.verbose, show_metrics=False)
    announce_run(runner, 'train', args.config)
    t1 = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - t1
    print('[quickstart] 3/3 evaluate', flush=True)
    model_metrics = _plain(runner.test())
    test_s = time.perf_counter() - t1 - train_s

    init_default_scope('mmseg')
    train_ds = DATASETS.build(cfg.train_dataloader.dataset)
    paths = [train_ds.get_data_info(i)['depth_map_path'] for i in range(len(train_ds))]
    scale = cfg.train_dataloader.dataset.get('depth_scale', 1000.0)
    base_metrics, median = constant_median_metrics(cfg, paths, scale)
    base_metrics = _plain(base_metrics)
    total_s = time.perf_counter() - t0

    record = make_run_record(command=command, data_root=args.data_root, extra=dict(
        tool='quickstart', config=args.config, seed=args.seed, threads=args.threads,
        max_iters=iters,
        batch_size=cfg.train_dataloader.batch_size, work_dir=cfg.work_dir,
        dataset=dict(num_train=args.num_train, num_test=args.num_test, height=args.height,
                     width=args.width, status=status),
        median_m=median,
        results=dict(model=model_metrics, constant_median=base_metrics),
        rows=[dict(name=_model_name(args.config, iters), metrics=model_metrics),
              dict(name=f'constant median ({median:.2f} m)', metrics=base_metrics)],
        timing_s=dict(generate=generate_s, train=train_s, test=test_s, total=total_s)))
    paths_out = [osp.join(cfg.work_dir, 'quickstart_record.json')] + (
        [args.record] if args.record else [])
    for path in paths_out:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
            f.write('\n')

    _print_table(record)
    print(f'\n[quickstart] train {train_s:.0f} s, test {test_s:.0f} s, total {total_s:.0f} s; '
          f'record {" and ".join(paths_out)}; full log in {runner.log_dir}')
    if not model_metrics['abs_rel'] < base_metrics['abs_rel']:
        print('[quickstart] WARNING: the model did not beat the constant predictor.')
        if argv is None:
            sys.exit(1)
    return record


if __name__ == '__main__':
    main()
