"""Reproduce the paper's two claims at small scale, on generated indoor scenes.

Claims (Yao, Wu, Zhang, "Improving Depth Gradient Continuity in Transformers", BMVC 2024):

* **C1 (DGR)**: adding DGR blocks to a transformer improves depth accuracy and the
  continuity of depth gradients (Tables 1/3).
* **C2 (OTDL, Table 2)**: training with ``MSE + λ·OTDL`` (Eq. 17) beats MSE alone and OTDL
  alone.

Every variant is the quickstart model (MiT-B0 + regression head, random init) trained with
the same data, schedule and seeds through mmengine's Runner, then evaluated on the test
split with ``DepthEvalMetric`` (standard + edge/continuity metrics). Seeds change the
initialisation and the data order; the data set is the same for every run. Because
variant *v* and variant *w* share seed *s*, differences are paired per seed.

Variants (config files; only the model differs). ``+DGR/<reading>`` is DGRBackbone on the
same host; ``/block`` is the paper's placement (a DGR block after every transformer block,
Sec. 3.2, DGRBackbone's default), ``/stage`` one block at the end of every stage:

=========================  ==============================================================
``baseline``               quickstart, SILog
``+DGR/block``             + DGR after every transformer block (8 blocks), SILog
``+DGR/stage``             + DGR at the end of every stage (4 blocks), SILog
``+DGR/authors``           per block, ``dgr=dict(preset='authors')`` (the authors' release)
``+DGR/stencil8``          per block, ``dgr=dict(stencil_channels=8)``
``+DGR/k1``                per block, ``dgr=dict(spatial_kernel_size=1)``
``+DGR/stencil8-k1``       per block, both of the above
``+DGR/sharedSE``          per block, ``share_se='stage'``
``+DGR/lastblock``         per block, ``blocks=[-1]`` (each stage's last block only)
``MSE``                    masked MSE only (Table 2 row 1)
``OTDL``                   100·OTDL only, spatial reading (Table 2 row 2)
``MSE+OTDL``               MSE + 100·OTDL, Eq. 17 (Table 2 row 3; the "+OTDL" variant)
``+DGR/block, MSE``        per-block DGR, MSE only (DGR ablation under the MSE loss)
``+DGR/block, MSE+OTDL``   per-block DGR + Eq. 17 (the full method)
``+DGR/stage, MSE``        per-stage DGR, MSE only
``+DGR/stage, MSE+OTDL``   per-stage DGR + Eq. 17
=========================  ==============================================================

Runs saved before per-block placement became the default (runs without a run record)
named their per-stage variants ``+DGR``, ``+DGR, MSE`` and ``+DGR, MSE+OTDL``;
``--from-runs`` shows them under their per-stage names (:data:`LEGACY_NAMES`) and says so
in the report.

Output: a markdown table (mean ± sample std over seeds, ddof=1; with one seed the spread
is shown as ``–``), a table of paired per-seed differences for each claim with a verdict
rule stated next to it, and the wall time per run. Printed to stdout and written to
``--out``.

Examples::

    # default size (every variant x 3 seeds, 200 iters, 240x320 batch 4, 60 test images)
    python tools/analysis_tools/reproduce_claims.py --out docs/claims.md
    # a subset (quote the names with a comma)
    python tools/analysis_tools/reproduce_claims.py --variants baseline +DGR/block +DGR/stage
    # CI size: tiny generated data, 2 iterations, 1 seed (checks structure only)
    python tools/analysis_tools/reproduce_claims.py --quick --out /tmp/claims.md
    # split the seeds over processes (or machines), then merge into one report
    python tools/analysis_tools/reproduce_claims.py --seeds 0 --save-runs s0.json
    python tools/analysis_tools/reproduce_claims.py --seeds 1 --save-runs s1.json
    python tools/analysis_tools/reproduce_claims.py --from-runs s0.json s1.json --out r.md
"""
import argparse
import json
import logging
import math
import os
import os.path as osp
import platform
import re
import shlex
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

os.environ.setdefault('HF_HUB_OFFLINE', '1')

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import mmdepth_dgr  # noqa: E402,F401  (mmcv stand-in + registration, must come first)

# isort: split
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from tqdm import tqdm  # noqa: E402

from mmdepth_dgr.datasets.synthetic import generate_dataset  # noqa: E402
from mmdepth_dgr.utils.run_record import (make_run_record, record_differences,  # noqa: E402
                                          summarize_record)

SCRIPT = 'tools/analysis_tools/reproduce_claims.py'

_DGR = 'configs/dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py'
_CLAIMS = 'configs/claims/mit-b0-dgr{}_regression{}_1xb4-600iter_synnyu-240x320.py'
#: label -> config path (relative to the repository root).
VARIANTS: Dict[str, str] = {
    'baseline': 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py',
    '+DGR/block': _DGR,
    '+DGR/stage': _CLAIMS.format('-stage', ''),
    '+DGR/authors': _CLAIMS.format('-authors', ''),
    '+DGR/stencil8': _CLAIMS.format('-stencil8', ''),
    '+DGR/k1': _CLAIMS.format('-k1', ''),
    '+DGR/stencil8-k1': _CLAIMS.format('-stencil8-k1', ''),
    '+DGR/sharedSE': _CLAIMS.format('-sharedse', ''),
    '+DGR/lastblock': _CLAIMS.format('-lastblock', ''),
    '+DGR/stencil8-k1-lastblock': _CLAIMS.format('-stencil8-k1-lastblock', ''),
    'MSE': 'configs/otdl/mit-b0_regression-mse_1xb4-600iter_synnyu-240x320.py',
    'OTDL': 'configs/otdl/mit-b0_regression-otdl_1xb4-600iter_synnyu-240x320.py',
    'MSE+OTDL': 'configs/otdl/mit-b0_regression-mse-otdl_1xb4-600iter_synnyu-240x320.py',
    '+DGR/block, MSE': _CLAIMS.format('', '-mse'),
    '+DGR/block, MSE+OTDL': _CLAIMS.format('', '-mse-otdl'),
    '+DGR/stage, MSE': _CLAIMS.format('-stage', '-mse'),
    '+DGR/stage, MSE+OTDL': _CLAIMS.format('-stage', '-mse-otdl'),
}
_LOSS = {'MSE': 'MSE', 'OTDL': '100·OTDL', 'MSE+OTDL': 'MSE + 100·OTDL'}
VARIANT_LOSS = {name: _LOSS.get(name.split(', ')[-1], 'SILog') for name in VARIANTS}
#: Names the runs saved before DGRBackbone's default became placement='block' gave their
#: DGR variants, which were per-stage then -> their name here. Applied to runs without a
#: run record only (those predate both changes). Run records and the per-block default
#: were developed side by side, so a run with a record and an old name may have either
#: placement: it is refused.
LEGACY_NAMES: Dict[str, str] = {
    '+DGR': '+DGR/stage', '+DGR, MSE': '+DGR/stage, MSE',
    '+DGR, MSE+OTDL': '+DGR/stage, MSE+OTDL'}
#: Shown metrics; True = higher is better.
METRICS: Dict[str, bool] = {
    'd1': True, 'abs_rel': False, 'rmse': False, 'silog': False,
    'dbe_acc': False, 'dbe_comp': False, 'grad_err': False, 'curv_err': False,
}
#: (row, candidate, reference, kind) paired comparisons. kind 'claim': a test of the
#: paper's claims (verdict reproduced / contradicted / inconclusive); 'ablation': one DGR
#: reading against another (verdict better / worse / inconclusive, for the candidate).
COMPARISONS: List[Tuple[str, str, str, str]] = [
    ('C1 DGR per block (SILog)', '+DGR/block', 'baseline', 'claim'),
    ('C1 DGR per stage (SILog)', '+DGR/stage', 'baseline', 'claim'),
    ("C1 DGR authors' preset (SILog)", '+DGR/authors', 'baseline', 'claim'),
    ('C1 DGR stencils on 8 ch (SILog)', '+DGR/stencil8', 'baseline', 'claim'),
    ('C1 DGR 1x1 spatial conv (SILog)', '+DGR/k1', 'baseline', 'claim'),
    ('C1 DGR stencils on 8 ch + 1x1 (SILog)', '+DGR/stencil8-k1', 'baseline', 'claim'),
    ('C1 DGR SE shared per stage (SILog)', '+DGR/sharedSE', 'baseline', 'claim'),
    ('C1 DGR last block only (SILog)', '+DGR/lastblock', 'baseline', 'claim'),
    ('C1 DGR 8 ch + 1x1, last block only (SILog)', '+DGR/stencil8-k1-lastblock',
     'baseline', 'claim'),
    ('placement: per block vs per stage', '+DGR/block', '+DGR/stage', 'ablation'),
    ("reading: authors' preset vs default", '+DGR/authors', '+DGR/block', 'ablation'),
    ('lever: stencils on 8 ch', '+DGR/stencil8', '+DGR/block', 'ablation'),
    ('lever: 1x1 spatial conv', '+DGR/k1', '+DGR/block', 'ablation'),
    ('lever: stencils on 8 ch + 1x1', '+DGR/stencil8-k1', '+DGR/block', 'ablation'),
    ('lever: SE shared per stage', '+DGR/sharedSE', '+DGR/block', 'ablation'),
    ('lever: last block only', '+DGR/lastblock', '+DGR/block', 'ablation'),
    ('lever: 8 ch + 1x1, last block only', '+DGR/stencil8-k1-lastblock', '+DGR/block',
     'ablation'),
    ('C1 DGR per block (MSE)', '+DGR/block, MSE', 'MSE', 'claim'),
    ('C1 DGR per stage (MSE)', '+DGR/stage, MSE', 'MSE', 'claim'),
    ('C1 DGR per block (MSE+OTDL)', '+DGR/block, MSE+OTDL', 'MSE+OTDL', 'claim'),
    ('C1 DGR per stage (MSE+OTDL)', '+DGR/stage, MSE+OTDL', 'MSE+OTDL', 'claim'),
    ('C2 MSE+OTDL vs MSE', 'MSE+OTDL', 'MSE', 'claim'),
    ('C2 MSE+OTDL vs OTDL', 'MSE+OTDL', 'OTDL', 'claim'),
    ('full method (per block) vs baseline', '+DGR/block, MSE+OTDL', 'baseline', 'claim'),
    ('full method (per stage) vs baseline', '+DGR/stage, MSE+OTDL', 'baseline', 'claim'),
]
#: Verdict words per comparison kind: (better on all seeds, worse on all seeds).
VERDICTS = {'claim': ('reproduced', 'contradicted'), 'ablation': ('better', 'worse')}

DEFAULTS = dict(iters=200, batch_size=4, seeds=[0, 1, 2], num_train=300, num_test=60,
                height=240, width=320)
QUICK = dict(iters=2, batch_size=2, seeds=[0], num_train=8, num_test=2, height=64, width=96)


def parse_args(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true',
                   help='CI size: tiny generated data, 2 iterations, seed 0')
    p.add_argument('--data-root', default=None,
                   help='generated-data folder (default data/synthetic_nyu; --quick: a '
                   'temporary folder)')
    p.add_argument('--work-dir', default=None,
                   help='runner work dirs (default: a temporary folder, removed)')
    p.add_argument('--iters', type=int, default=None, help='training iterations per run')
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--seeds', type=int, nargs='+', default=None)
    p.add_argument('--num-train', type=int, default=None,
                   help='generated training frames (data set size)')
    p.add_argument('--num-test', type=int, default=None,
                   help='generated test frames; all of them are evaluated')
    p.add_argument('--height', type=int, default=None, help='generated frame height')
    p.add_argument('--width', type=int, default=None, help='generated frame width')
    p.add_argument('--variants', nargs='+', default=None, choices=list(VARIANTS),
                   help='subset of the variants (default: all)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default: min(2, cpu count))')
    p.add_argument('--tiny-model', action='store_true',
                   help='shrink MiT to 1 layer/stage, 16 dims (tests only)')
    p.add_argument('--out', default=None, help='write the markdown report here')
    p.add_argument('--save-runs', default=None, metavar='JSON',
                   help='also write the setup and every run\'s metrics to this JSON file '
                   '(input of --from-runs; with --from-runs: the merged runs, one file)')
    p.add_argument('--from-runs', nargs='+', default=None, metavar='JSON',
                   help='train nothing: merge the runs saved by --save-runs (e.g. one file '
                   'per seed, run in parallel) and write the report')
    args = p.parse_args(argv)
    if args.from_runs:
        training = [f'--{k.replace("_", "-")}' for k in (
            'quick', 'data_root', 'work_dir', 'iters', 'batch_size', 'seeds', 'num_train',
            'num_test', 'height', 'width', 'variants', 'threads', 'tiny_model')
            if getattr(args, k) not in (None, False)]
        if training:
            p.error(f'--from-runs trains nothing and reports every merged run; '
                    f'{", ".join(training)} cannot be combined with it')
    size = QUICK if args.quick else DEFAULTS
    for key, val in size.items():
        if getattr(args, key) is None:
            setattr(args, key, val)
    return args


def run_config(config: str, data_root: str, work_dir: str, seed: int, iters: int,
               batch_size: int, tiny_model: bool = False) -> Config:
    """Load ``config`` and set data root, schedule, batch, seed; no checkpoints/images.

    The schedule keeps the config's shape (linear warm-up, then poly decay to ``eta_min``)
    compressed to ``iters``: warm-up ``min(30, iters // 10)`` iterations.

    Returns:
        mmengine.Config: for ``Runner.from_cfg``; evaluation happens in ``runner.test()``.
    """
    cfg = Config.fromfile(osp.join(_REPO, config))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
        # In-process loading: worker processes of earlier runs would linger
        # (persistent_workers) and compete for the 2 cores; decoding one 240x320
        # PNG pair costs milliseconds next to a training step.
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_dataloader.batch_size = batch_size
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{osp.basename(work_dir)}'
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = iters
    # Evaluation once, through runner.test(): IterBasedTrainLoop would otherwise also
    # validate after the last iteration whatever val_interval says.
    cfg.train_cfg.val_interval = iters + 1
    cfg.train_cfg.val_begin = iters + 1
    warm = max(1, min(30, iters // 10))
    sched = cfg.param_scheduler
    sched[0]['end'] = warm
    sched[-1]['begin'] = warm
    sched[-1]['end'] = max(iters, warm + 1)
    hooks = cfg.default_hooks
    hooks.checkpoint.interval = iters + 1  # no checkpoint files
    hooks.checkpoint.save_last = False
    hooks.logger.interval = max(1, iters // 4)
    hooks.visualization.draw = False
    cfg.log_level = 'WARNING'
    if tiny_model:
        bb = cfg.model.backbone
        # two blocks in stage 0: share_se='stage' needs two DGR blocks in one stage
        bb.num_layers, bb.embed_dims = [2, 1, 1, 1], 16
        cfg.model.decode_head.in_channels = [16, 32, 80, 128]
    return cfg


def train_and_test(cfg: Config) -> Dict[str, float]:
    """Train ``cfg`` and evaluate on its test split; adds ``wall_s``."""
    t0 = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    out = {k: float(v) for k, v in metrics.items()}
    out['wall_s'] = time.perf_counter() - t0
    return out


def _fmt(values: List[float], digits: int) -> str:
    if not values:
        return 'n/a'
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f'{mean:.{digits}f} ± –'
    return f'{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}'


def _digits(key: str) -> int:
    return {'d1': 3, 'abs_rel': 3, 'rmse': 3, 'silog': 2, 'dbe_acc': 2, 'dbe_comp': 2,
            'grad_err': 4, 'curv_err': 4}.get(key, 3)


def results_table(results: Dict[str, List[Dict[str, float]]]) -> str:
    """Markdown: one row per variant, mean ± std (ddof=1) over seeds, and the wall time."""
    head = ['variant', 'loss', *[f'{k} {"↑" if up else "↓"}' for k, up in METRICS.items()],
            'wall s/run']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, runs in results.items():
        cells = [name, VARIANT_LOSS[name]]
        cells += [_fmt([r[k] for r in runs], _digits(k)) for k in METRICS]
        cells.append(_fmt([r['wall_s'] for r in runs], 0))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def paired_table(results: Dict[str, List[Dict[str, float]]], seeds: Sequence[int]) -> str:
    """Markdown: per claim and metric, the paired difference candidate − reference.

    Cell: ``mean diff (k/n)`` where k = seeds on which the candidate is better
    (direction per metric). Verdict per row: when the candidate is better on every seed
    for a majority of the 8 metrics, *reproduced* (a claim) or *better* (an ablation);
    when it is worse on every seed for a majority, *contradicted* or *worse*;
    *inconclusive* otherwise (:data:`COMPARISONS`, :data:`VERDICTS`). Rows whose
    variants were not run are left out.
    """
    head = ['claim', 'candidate − reference', *METRICS, 'verdict']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for claim, cand, ref, kind in COMPARISONS:
        if cand not in results or ref not in results:
            continue
        n = len(seeds)
        cells, all_better, all_worse = [claim, f'{cand} − {ref}'], 0, 0
        for key, up in METRICS.items():
            diffs = [c[key] - r[key] for c, r in zip(results[cand], results[ref])]
            diffs = [d for d in diffs if math.isfinite(d)]
            better = sum((d > 0) if up else (d < 0) for d in diffs)
            worse = sum((d < 0) if up else (d > 0) for d in diffs)
            all_better += int(bool(diffs) and better == len(diffs))
            all_worse += int(bool(diffs) and worse == len(diffs))
            mean = statistics.fmean(diffs) if diffs else float('nan')
            cells.append(f'{mean:+.{_digits(key)}f} ({better}/{n})')
        majority = len(METRICS) // 2 + 1
        better_word, worse_word = VERDICTS[kind]
        verdict = (better_word if all_better >= majority else
                   worse_word if all_worse >= majority else 'inconclusive')
        cells.append(f'{verdict} ({all_better} better / {all_worse} worse on all seeds)')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def describe_setup(args) -> Dict:
    """The run's setup as a JSON-able dict (saved by ``--save-runs``, shown in the report)."""
    cuda = torch.cuda.is_available()
    return dict(iters=args.iters, batch_size=args.batch_size, height=args.height,
                width=args.width, num_train=args.num_train, num_test=args.num_test,
                threads=torch.get_num_threads(), torch=torch.__version__,
                device=torch.cuda.get_device_name(0) if cuda else
                f'CPU ({platform.processor() or platform.machine()})')


def provenance_line(records: Sequence[Optional[Dict]]) -> str:
    """The report's provenance: code, data fingerprint and library versions of the runs
    (which :func:`merge_runs` guarantees agree), or that they were not recorded."""
    known = [r for r in records if r]
    if not known:
        return ('Provenance: not recorded (these runs predate run records: no commit, data '
                'fingerprint or library versions were stored with them).')
    return f'Provenance: {summarize_record(known[0], device=False)}.'


def report(setup: Dict, seeds: Sequence[int], results, total_s: float, command: str,
           load: Optional[float] = None, total_note: str = '',
           provenance: Sequence[Optional[Dict]] = (), renaming: str = '') -> str:
    """Markdown report: command, setup line, provenance line, results table, paired table.

    Args:
        setup (dict): from :func:`describe_setup`.
        seeds (Sequence[int]): the seeds, in the order of each variant's runs.
        results (dict): variant -> list of metric dicts, one per seed.
        total_s (float): wall time of all runs (summed over processes when merged).
        command (str): the command line that produced the report.
        load (float, optional): 1-min load average at the end; None: not shown.
        total_note (str): shown after the total, e.g. how it was summed.
        provenance (Sequence[dict | None]): the runs' run records
            (:func:`provenance_line`). Defaults to none recorded.
        renaming (str): :func:`renaming_line`, shown after the provenance line when
            not empty. Defaults to ''.

    Returns:
        str: the markdown text.
    """
    load_txt = '' if load is None else f'; load average at the end {load:.1f}'
    return '\n'.join([
        f'Command: `{command}`',
        '',
        f'Setup: {setup["iters"]} iterations, batch {setup["batch_size"]}, '
        f'{setup["height"]}x{setup["width"]}, generated NYU-layout data '
        f'({setup["num_train"]} train / {setup["num_test"]} test, data seed 0), seeds '
        f'{list(seeds)}, {setup["threads"]} torch threads; torch {setup["torch"]}, '
        f'{setup["device"]}{load_txt}; total {total_s / 60:.1f} min{total_note}.',
        '',
        provenance_line(list(provenance)),
        '',
        *([renaming, ''] if renaming else []),
        f'Mean ± sample std (ddof=1) over {len(seeds)} seed(s); test split, full '
        'frame, 1e-3..10 m. d1 higher is better, the rest lower; dbe_* in pixels, '
        'grad_err/curv_err in the GT\'s smooth regions (DepthEvalMetric).',
        '',
        results_table(results),
        '',
        'Paired differences (candidate − reference, same seed), mean over seeds; '
        '(k/n) = seeds on which the candidate is better. Verdict: *reproduced* if the '
        'candidate is better on every seed for a majority (≥5) of the 8 metrics, '
        '*contradicted* if worse on every seed for a majority, else *inconclusive*'
        + ('; rows comparing two DGR readings say *better*/*worse* instead.'
           if any(k == 'ablation' and c in results and r in results
                  for _, c, r, k in COMPARISONS) else '.'),
        '',
        paired_table(results, seeds),
        '',
    ])


def save_runs(path: str, setup: Dict, total_s: float, command: str, runs: List[Dict],
              merged_from: int = 1) -> None:
    """Write the ``--save-runs`` JSON: setup, total wall time, command, the run records
    (``variant``, ``seed``, ``metrics``, ``provenance``: the run record of
    :func:`mmdepth_dgr.utils.run_record.make_run_record`) and how many processes
    produced them."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(dict(setup=setup, total_s=total_s, command=command, runs=runs,
                       merged_from=merged_from), f, indent=1)


def merge_runs(paths: Sequence[str]):
    """Merge ``--save-runs`` files into ``(setup, seeds, results, total_s, runs, n)``.

    Every file must have the same setup except ``threads``/``device``/``torch`` (differing
    values are all shown, joined by ``/``), every run the same provenance in code, data
    fingerprint and library versions (:data:`~mmdepth_dgr.utils.run_record.MERGE_FIELDS`;
    runs saved before run records existed merge only with each other), and every variant
    must have a run for every seed, exactly once. Runs named as before per-block
    placement (:data:`LEGACY_NAMES`, no run record) get their per-stage name; the name
    they were saved under is kept as ``saved_as``.
    ``total_s`` is the sum of the files' wall times, ``n`` the number of processes they
    came from (a merged file counts as many as it merged), ``runs`` the run records.

    Raises:
        ValueError: naming the file at fault (and, for provenance, the differing fields;
            for a run, its variant and seed).
    """
    setup, runs, total, sources = None, [], 0.0, 0
    first_prov = None
    keys = ('iters', 'batch_size', 'height', 'width', 'num_train', 'num_test')
    shown = {'threads': [], 'device': [], 'torch': []}
    for path in paths:
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
            file_setup, file_runs = data['setup'], data['runs']
            file_total, command = float(data['total_s']), data['command']
            for r in file_runs:
                lacking = [k for k in ('variant', 'seed', 'metrics') if k not in r]
                if lacking:
                    raise KeyError(f'a run record lacks {lacking}')
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f'{path}: not a --save-runs file of this script '
                             f'({type(e).__name__}: {e})') from e
        if setup is None:
            setup = dict(file_setup)
        diff = [k for k in keys if file_setup.get(k) != setup.get(k)]
        if diff:
            raise ValueError(f'{path}: setup differs from {paths[0]} in {diff}; runs of '
                             'different sizes cannot be merged')
        for key, seen in shown.items():
            if file_setup.get(key) not in seen:
                seen.append(file_setup.get(key))
        unknown = sorted({r['variant'] for r in file_runs} - set(VARIANTS)
                         - set(LEGACY_NAMES))
        if unknown:
            raise ValueError(f'{path}: unknown variant(s) {unknown}; this script knows '
                             f'{list(VARIANTS)}')
        # each record keeps the command and provenance it was trained with (a merged
        # file's records already carry theirs)
        for r in file_runs:
            prov = r.get('provenance', data.get('provenance'))
            if first_prov is None:
                first_prov = (path, r, prov)
            diffs = record_differences(first_prov[2], prov)
            if diffs:
                raise ValueError(
                    f'{path}: {r["variant"]} seed {r["seed"]} was made with other code, '
                    f'data or libraries than {first_prov[1]["variant"]} seed '
                    f'{first_prov[1]["seed"]} in {first_prov[0]}: ' + '; '.join(diffs))
            name = _variant_name(path, r, prov)
            renamed = {} if name == r['variant'] else dict(saved_as=r['variant'])
            runs.append(dict(r, **renamed, variant=name, _file=path,
                             command=r.get('command', command), provenance=prov))
        total += file_total
        sources += int(data.get('merged_from', 1))
    # differing threads/devices/torch builds are listed, not hidden behind the first file's
    for key, seen in shown.items():
        setup[key] = seen[0] if len(seen) == 1 else ' / '.join(str(v) for v in seen)
    seeds = sorted({r['seed'] for r in runs})
    names = [n for n in VARIANTS if any(r['variant'] == n for r in runs)]
    results: Dict[str, List[Dict[str, float]]] = {}
    for name in names:
        by_seed = {}
        for r in runs:
            if r['variant'] != name:
                continue
            if r['seed'] in by_seed:
                raise ValueError(f'{r["_file"]}: {name} seed {r["seed"]} is also in '
                                 f'{by_seed[r["seed"]]["_file"]}')
            by_seed[r['seed']] = r
        missing = sorted(set(seeds) - set(by_seed))
        if missing:
            raise ValueError(f'no run of {name} for seed(s) {missing} in {list(paths)}')
        results[name] = [by_seed[s]['metrics'] for s in seeds]
    runs = [{k: v for k, v in r.items() if k != '_file'} for r in runs]
    return setup, seeds, results, total, runs, sources


def _variant_name(path: str, run: Dict, provenance: Optional[Dict]) -> str:
    """The variant a saved run belongs to, under this script's names.

    Raises:
        ValueError: a legacy name on a run with a run record (its placement cannot be
            told), or a run whose stored ``config`` is not the variant's config here.
    """
    name, where = run['variant'], f'{path}: {run["variant"]} seed {run["seed"]}'
    if name in LEGACY_NAMES:
        if provenance:
            raise ValueError(
                f'{where} has a run record but the variant name of the runs made before '
                "DGRBackbone's default became placement='block' (when it meant "
                f'{LEGACY_NAMES[name]!r}); its placement cannot be told from the record. '
                f'Re-run it as one of {[n for n in VARIANTS if n.startswith("+DGR")]}')
        return LEGACY_NAMES[name]
    config = run.get('config')
    if config is not None and config != VARIANTS[name]:
        raise ValueError(f'{where} was trained with {config}, but {name} is '
                         f'{VARIANTS[name]} in this script')
    return name


def renaming_line(runs: Sequence[Dict]) -> str:
    """The report line that says which runs were shown under another name than they
    were saved with (:data:`LEGACY_NAMES`); '' when none was."""
    renamed = dict.fromkeys((r['saved_as'], r['variant']) for r in runs
                            if r.get('saved_as'))
    if not renamed:
        return ''
    pairs = ', '.join(f"'{old}' as '{new}'" for old, new in renamed)
    return ('Variant names: these runs were saved before DGRBackbone\'s default became '
            "placement='block' (a DGR block after every transformer block); their DGR "
            'variants had one DGR block at the end of every stage and are shown under '
            f'the per-stage names: {pairs}.')


BEGIN, END = '<!-- claims:begin -->', '<!-- claims:end -->'


def write_report(path: str, text: str) -> None:
    """Write ``text`` to ``path``; if the file exists with the BEGIN/END markers, replace
    only what lies between them (so docs/claims.md keeps its hand-written discussion)."""
    old = open(path, encoding='utf-8').read() if osp.isfile(path) else ''
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        text = head + BEGIN + '\n' + text + '\n' + END + rest.split(END, 1)[1]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def train_all(args, command: Optional[str] = None) -> Tuple[List[Dict], float]:
    """Train and evaluate every (seed, variant) of ``args``; returns the run records
    (``variant``, ``seed``, ``metrics``, ``provenance``) in seed-major order and their
    wall time (data generation excluded). ``provenance`` is the run record of the process
    (commit, data fingerprint, library versions, device, ``command``); ``config`` the
    variant's config file."""
    torch.set_num_threads(args.threads or max(1, min(2, os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory(prefix='claims_') as tmp:
        data_root = args.data_root or (osp.join(tmp, 'data') if args.quick
                                       else osp.join(_REPO, 'data', 'synthetic_nyu'))
        generate_dataset(data_root, kind='nyu', num_train=args.num_train,
                         num_test=args.num_test, height=args.height, width=args.width,
                         seed=0, progress=False)
        provenance = make_run_record(command=command, data_root=data_root)
        work_root = args.work_dir or osp.join(tmp, 'work')
        names = args.variants or list(VARIANTS)
        runs = []
        MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
        t0 = time.perf_counter()
        bar = tqdm([(seed, name) for seed in args.seeds for name in names],
                   desc='claims', unit='run')
        for seed, name in bar:
            bar.set_postfix_str(f'{name} seed {seed}')
            slug = re.sub(r'[^0-9A-Za-z]+', '_', name.replace('+', 'p'))
            cfg = run_config(VARIANTS[name], data_root,
                             osp.join(work_root, f'{slug}_s{seed}'), seed, args.iters,
                             args.batch_size, args.tiny_model)
            metrics = train_and_test(cfg)
            runs.append(dict(variant=name, seed=seed, config=VARIANTS[name],
                             metrics=metrics, provenance=provenance))
            tqdm.write(f'[claims] {name} seed {seed}: ' + ', '.join(
                f'{k}={metrics[k]:.4g}' for k in (*METRICS, 'wall_s')))
        total = time.perf_counter() - t0
    return runs, total


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    command = shlex.join(['python', SCRIPT, *(sys.argv[1:] if argv is None else argv)])
    if args.from_runs:
        setup, seeds, results, total, runs, sources = merge_runs(args.from_runs)
        load, note = None, (f' (sum over the {sources} processes that made the merged '
                            'runs)' if sources > 1 else '')
    else:
        runs, total = train_all(args, command)
        sources, seeds, note = 1, args.seeds, ''
        setup = describe_setup(args)
        results = {name: [r['metrics'] for r in runs if r['variant'] == name]
                   for name in dict.fromkeys(r['variant'] for r in runs)}
        load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    if args.save_runs:
        save_runs(args.save_runs, setup, total, command, runs, sources)
    text = report(setup, seeds, results, total, command, load, total_note=note,
                  provenance=[r.get('provenance') for r in runs],
                  renaming=renaming_line(runs))
    print(text)
    if args.out:
        write_report(args.out, text)
    return text


if __name__ == '__main__':
    main()
