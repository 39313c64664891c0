"""Cost and accuracy of the OTDL (spatial mode), printed as markdown tables.

(a) OTDL forward+backward vs one full training step (loss + backward + AdamW step) of the
    quickstart model at the same input size;
(b) the separable log-domain Sinkhorn vs POT's dense ``ot.sinkhorn2`` (same eps, same
    stopping threshold), and the size at which dense no longer fits;
(c) agreement with ``ot.sinkhorn2`` (same eps, same marginals) and with ``ot.emd2`` (eps ->0).

Usage::

    python tools/analysis_tools/otdl_cost.py \
        [--config configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py] \
        [--repeats 5] [--threads 2] [--clock wall|cpu] [--record run.json]
    python tools/analysis_tools/otdl_cost.py --from-record run.json   # tables of a record
    python tools/analysis_tools/otdl_cost.py --update-doc configs/otdl/README.md

``--update-doc`` rewrites every block ``<!-- otdl_cost records=PATH -->`` ... ``<!--
otdl_cost:end -->`` of a markdown file with the tables of the record at ``PATH``
(relative to the repository root); ``tests/test_tools/test_otdl_cost_doc.py`` checks that
the committed doc equals what its record renders.

All ratios come from one run on one machine; timings on a shared CPU are noisy (repeat).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import numpy as np  # noqa: E402
import ot  # noqa: E402
import torch  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401  (must come before mmseg)
from mmdepth_dgr.models.losses import otdl_loss  # noqa: E402
from mmdepth_dgr.ot import (entropic_ot_grid, grid_axis_coords, grid_transport_cost,  # noqa: E402
                            sinkhorn_grid_potentials)
from mmdepth_dgr.utils.run_record import (commit_label, load_tool_record,  # noqa: E402
                                          record_doc_blocks, update_record_doc)

DEFAULT_CONFIG = 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'


CLOCK = {'wall': time.perf_counter, 'cpu': time.process_time}
_clock = time.perf_counter


def _timeit(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = _clock()
        fn()
        times.append(_clock() - t0)
    return float(np.median(times))


def _scene(batch, h, w, dtype=torch.float32):
    """A smooth indoor-like depth map (floor ramp + a box) and a prediction with errors."""
    y = torch.linspace(0, 1, h, dtype=dtype)[:, None]
    x = torch.linspace(0, 1, w, dtype=dtype)[None]
    gt = (2.0 + 4.0 * y + 1.5 * ((x > 0.6) & (y < 0.5)).to(dtype)).expand(batch, 1, h, w)
    pred = torch.roll(gt, shifts=max(1, w // 40), dims=-1) * 1.05
    pred = pred + 0.1 * torch.randn(batch, 1, h, w, dtype=dtype)
    return pred.contiguous(), gt.contiguous()


def _random_hist(h, w, dtype):
    g = torch.Generator().manual_seed(h * w)
    x = torch.rand(1, h, w, generator=g, dtype=dtype) ** 3 + 1e-3
    return x / x.sum()


def _dense_cost(h, w, dtype):
    size = max(h, w)
    cy = grid_axis_coords(h, 1, size, dtype=dtype, device='cpu')
    cx = grid_axis_coords(w, 1, size, dtype=dtype, device='cpu')
    yy, xx = torch.meshgrid(cy, cx, indexing='ij')
    pts = torch.stack([yy.flatten(), xx.flatten()], 1)
    return cy, cx, torch.cdist(pts, pts) ** 2


# --------------------------------------------------------------------------- (a)
def bench_training_step(config, repeats, otdl_kwargs):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.train()
    opt_cfg = cfg.optim_wrapper.optimizer
    optim = torch.optim.AdamW(model.parameters(), lr=opt_cfg.lr, betas=opt_cfg.betas,
                              weight_decay=opt_cfg.weight_decay)
    batch = cfg.train_dataloader.batch_size
    h, w = 240, 320
    inputs = torch.randn(batch, 3, h, w)
    _, gt = _scene(batch, h, w)
    samples = []
    for k in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        s.gt_depth_map = PixelData(data=gt[k])
        samples.append(s)

    def train_step():
        optim.zero_grad()
        losses = model.loss(inputs, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        optim.step()

    t_step = _timeit(train_step, repeats)
    rows = []
    pred_err, _ = _scene(batch, h, w)
    cases = [('shifted+scaled+noisy prediction', pred_err)]
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        out = model.decode_head.forward(feats)
        out = model.decode_head.resize_to(out, (h, w))
    cases.append(('untrained model output', out.detach()))
    for reg in otdl_kwargs.pop('regs'):
        for name, pred0 in cases:
            def loss_step(p0=pred0, r=reg):
                p = p0.clone().requires_grad_(True)
                otdl_loss(p, gt, reg=r, **otdl_kwargs).backward()
            rows.append((f'{name}, eps={reg}', _timeit(loss_step, repeats)))
    return batch, h, w, t_step, rows


# --------------------------------------------------------------------------- (b)
def bench_vs_dense(sizes, reg, repeats):
    rows = []
    for h, w in sizes:
        a, b = _random_hist(h, w, torch.float32), _random_hist(w, h, torch.float32)
        b = b.reshape(1, h, w)
        cy, cx, cost = _dense_cost(h, w, torch.float32)

        def ours(debias):
            aa = a.clone().requires_grad_(True)
            entropic_ot_grid(aa, b, reg, cy, cx, debias=debias, tol=1e-5).sum().backward()

        def dense():
            aa = a.flatten().clone().requires_grad_(True)
            ot.sinkhorn2(aa, b.flatten(), cost, reg, stopThr=1e-5).backward()

        t_dense = _timeit(dense, max(1, repeats // 2))
        t_ours = _timeit(lambda: ours(False), repeats)
        t_ours_d = _timeit(lambda: ours(True), repeats)
        rows.append((f'{h}x{w}', t_dense, t_ours, t_ours_d))
    return rows


def bench_large(h, w, reg, repeats):
    a, b = _random_hist(h, w, torch.float32), _random_hist(h, w, torch.float32).flip(-1)
    cy = grid_axis_coords(h, 1, max(h, w), dtype=torch.float32, device='cpu')
    cx = grid_axis_coords(w, 1, max(h, w), dtype=torch.float32, device='cpu')

    def ours():
        aa = a.clone().requires_grad_(True)
        entropic_ot_grid(aa, b, reg, cy, cx, debias=True, tol=1e-5).sum().backward()

    dense_gb = (h * w) ** 2 * 4 / 1e9
    return _timeit(ours, repeats), dense_gb


# --------------------------------------------------------------------------- (c)
def agreement():
    rows = []
    for (h, w), reg in [((32, 32), 0.05), ((32, 32), 0.01), ((24, 40), 0.01)]:
        a, b = _random_hist(h, w, torch.float64), _random_hist(h, w, torch.float64).flip(-2)
        cy, cx, cost = _dense_cost(h, w, torch.float64)
        f, g, _, _ = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=20000, tol=1e-10)
        ours = float(grid_transport_cost(a, b, f, g, reg, cy, cx)[0])
        ref = float(ot.sinkhorn2(a.flatten().numpy(), b.flatten().numpy(), cost.numpy(), reg,
                                 method='sinkhorn_log', stopThr=1e-10, numItermax=100000))
        rows.append((f'{h}x{w}', f'ot.sinkhorn2, eps={reg}', ours, ref))
    for (h, w), reg in [((8, 8), 1e-3), ((12, 12), 1e-3)]:
        a, b = _random_hist(h, w, torch.float64), _random_hist(h, w, torch.float64).flip(-1)
        cy, cx, cost = _dense_cost(h, w, torch.float64)
        f, g, _, _ = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=50000, tol=1e-10)
        ours = float(grid_transport_cost(a, b, f, g, reg, cy, cx)[0])
        ref = float(ot.emd2(a.flatten().numpy(), b.flatten().numpy(), cost.numpy()))
        rows.append((f'{h}x{w}', f'ot.emd2 (ours at eps={reg})', ours, ref))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--reg', type=float, default=0.05,
                        help='eps of the OTDL in (a) (0.01 is always added)')
    parser.add_argument('--dense-reg', type=float, default=0.05, help='eps in (b)')
    parser.add_argument('--clock', choices=list(CLOCK), default='wall',
                        help='wall time, or process CPU time (use with --threads 1 on a '
                        'shared, loaded machine: it is not inflated by other processes)')
    parser.add_argument('--sizes', type=int, nargs='+', default=[32, 64], metavar='N',
                        help='square grids of (b) on which POT dense also runs')
    parser.add_argument('--large', type=int, nargs=2, default=[104, 136], metavar=('H', 'W'),
                        help='the grid of (b) too large for the dense cost matrix')
    parser.add_argument('--skip', nargs='+', choices=['a', 'b', 'c'], default=[],
                        help='leave out these parts')
    parser.add_argument('--record', default=None, metavar='JSON',
                        help='write a run record (mmdepth_dgr.utils.run_record) with every '
                        'measurement to this file')
    parser.add_argument('--from-record', default=None, metavar='JSON',
                        help='measure nothing: print the tables of a --record file')
    parser.add_argument('--update-doc', default=None, metavar='MARKDOWN',
                        help='measure nothing: rewrite the tables between "<!-- otdl_cost '
                        'records=PATH -->" and "<!-- otdl_cost:end -->" from the record')
    return parser.parse_args(argv)


def measure(args) -> dict:
    """Run the parts not in ``args.skip``; return the results (the ``otdl_cost`` field
    of the run record)."""
    global _clock
    _clock = CLOCK[args.clock]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    regs = sorted({args.reg, 0.01}, reverse=True)
    otdl_kwargs = dict(mode='spatial', downsample=4)
    res = dict(torch=torch.__version__, pot=ot.__version__, threads=args.threads,
               clock=args.clock, repeats=args.repeats, otdl=dict(otdl_kwargs),
               load_average_start=list(os.getloadavg()), training_step=None,
               vs_dense=None, agreement=None)
    if 'a' not in args.skip:
        if osp.isfile(args.config):
            batch, h, w, t_step, rows = bench_training_step(
                args.config, args.repeats, dict(otdl_kwargs, regs=regs))
            res['training_step'] = dict(config=args.config, batch=batch, shape=[h, w],
                                        step_s=t_step, rows=[dict(input=name, otdl_s=t)
                                                             for name, t in rows])
        else:
            res['training_step'] = dict(config=args.config, missing=True)
    if 'b' not in args.skip:
        rows = bench_vs_dense([(n, n) for n in args.sizes], args.dense_reg, args.repeats)
        t_large, dense_gb = bench_large(*args.large, args.dense_reg, args.repeats)
        res['vs_dense'] = dict(
            reg=args.dense_reg, rows=[dict(grid=g, pot_dense_s=d, ours_s=o, ours_debiased_s=od)
                                      for g, d, o, od in rows],
            large=dict(grid=f'{args.large[0]}x{args.large[1]}', ours_debiased_s=t_large,
                       dense_cost_gb=dense_gb))
    if 'c' not in args.skip:
        res['agreement'] = [dict(grid=g, reference=r, ours=o, reference_value=v)
                            for g, r, o, v in agreement()]
    res['load_average_end'] = list(os.getloadavg())
    return res


def render(res: dict) -> str:
    """The markdown tables of one measurement (``measure``'s result)."""
    out = [f'torch {res["torch"]}, POT {res["pot"]}, {res["threads"]} CPU threads, '
           f'{res["clock"]} clock, median of {res["repeats"]}, load average '
           f'{res["load_average_start"][0]:.2f}\n']
    step = res.get('training_step')
    if step is not None:
        otdl = {k: v for k, v in res['otdl'].items()}
        out.append(f'### (a) OTDL vs one quickstart training step (OTDL {otdl}, '
                   'default tol, float64 Sinkhorn)\n')
        if step.get('missing'):
            out.append(f'config {step["config"]} not found: (a) skipped\n')
        else:
            out.append(f'config `{step["config"]}`, batch {step["batch"]}, '
                       f'{step["shape"][0]}x{step["shape"][1]}\n')
            out.append('| OTDL input | train step (s) | OTDL fwd+bwd (s) | OTDL / step |')
            out.append('|---|---|---|---|')
            for row in step['rows']:
                out.append(f'| {row["input"]} | {step["step_s"]:.3f} | {row["otdl_s"]:.4f} | '
                           f'{100 * row["otdl_s"] / step["step_s"]:.1f} % |')
        out.append('')
    dense = res.get('vs_dense')
    if dense is not None:
        out.append(f'### (b) separable Sinkhorn vs POT dense `ot.sinkhorn2` (float32, eps='
                   f'{dense["reg"]}, stopThr/tol=1e-5, one pair, fwd+bwd)\n')
        out.append('| grid | POT dense (s) | ours, OT_eps (s) | ours, debiased (s) | '
                   'speed-up (OT_eps) |')
        out.append('|---|---|---|---|---|')
        for row in dense['rows']:
            out.append(f'| {row["grid"]} | {row["pot_dense_s"]:.3f} | {row["ours_s"]:.4f} | '
                       f'{row["ours_debiased_s"]:.4f} | '
                       f'{row["pot_dense_s"] / row["ours_s"]:.0f}x |')
        large = dense['large']
        out.append(f'| {large["grid"]} | not run: the dense cost matrix alone is '
                   f'{large["dense_cost_gb"]:.2f} GB (float32) | - | '
                   f'{large["ours_debiased_s"]:.4f} | - |')
        out.append('')
    agree = res.get('agreement')
    if agree is not None:
        out.append('### (c) agreement (float64, transport cost <T, M> of our plan)\n')
        out.append('| grid | reference | ours | reference value | relative difference |')
        out.append('|---|---|---|---|---|')
        for row in agree:
            rel = abs(row['ours'] - row['reference_value']) / abs(row['reference_value'])
            out.append(f'| {row["grid"]} | {row["reference"]} | {row["ours"]:.8f} | '
                       f'{row["reference_value"]:.8f} | {rel:.1e} |')
    return '\n'.join(out) + '\n'


_WHERE = 'tools/analysis_tools/otdl_cost.py'


def load_record(path: str) -> dict:
    """A ``--record`` file, checked for the run-record and ``otdl_cost`` fields
    (:func:`~mmdepth_dgr.utils.run_record.load_tool_record`)."""
    return load_tool_record(path, 'otdl_cost', _WHERE)


def render_record(record: dict, path: str) -> str:
    """The doc block of one record: the exact command, commit, CPU and load, then
    :func:`render`'s tables."""
    res = record['otdl_cost']
    cpu = record['device'].get('cpu_model') or record['device'].get('name') or '?'
    end = res.get('load_average_end') or ['?']
    head = (f'Record `{path}`: `{record["command"]}` at commit {commit_label(record)}; '
            f'{cpu}; load average {res["load_average_start"][0]:.2f} at start, '
            f'{end[0] if isinstance(end[0], str) else format(end[0], ".2f")} at end.\n')
    return head + '\n' + render(res)


def _renderer(root: str):
    return lambda path: render_record(load_record(osp.join(root, path)), path)


def doc_blocks(text: str, root: str = '.'):
    """Every ``otdl_cost`` block of a markdown text: ``(record path, current body, body
    rendered from the record)``."""
    return record_doc_blocks(text, 'otdl_cost', _renderer(root))


def update_doc(path: str, root: str = '.') -> int:
    """Rewrite the ``otdl_cost`` blocks of ``path``; returns how many changed.

    Raises:
        ValueError: the file has no block.
    """
    return update_record_doc(path, 'otdl_cost', _renderer(root))


def main(argv=None):
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.from_record:
        record = load_record(args.from_record)
        print(render_record(record, args.from_record))
        return record['otdl_cost']
    if args.update_doc:
        print(f'{args.update_doc}: {update_doc(args.update_doc)} block(s) changed')
        return None
    res = measure(args)
    print(render(res))
    if args.record:
        from mmdepth_dgr.utils.run_record import make_run_record
        record = make_run_record(
            command=['python', _WHERE, *raw],
            extra=dict(tool='otdl_cost', otdl_cost=res))
        os.makedirs(osp.dirname(osp.abspath(args.record)), exist_ok=True)
        with open(args.record, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1)
            f.write('\n')
        print(f'run record: {args.record}')
    return res


if __name__ == '__main__':
    main()
