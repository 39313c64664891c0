"""Cost and accuracy of the OTDL (spatial mode), printed as markdown tables.

(a) OTDL forward+backward vs one full training step (loss + backward + AdamW step) of the
    quickstart model at the same input size;
(b) the separable log-domain Sinkhorn vs POT's dense ``ot.sinkhorn2`` (same eps, same
    stopping threshold), and the size at which dense no longer fits;
(c) agreement with ``ot.sinkhorn2`` (same eps, same marginals) and with ``ot.emd2`` (eps ->0).

Usage::

    python tools/analysis_tools/otdl_cost.py \
        [--config configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py] \
        [--repeats 5] [--threads 2] [--clock wall|cpu]

All ratios come from one run on one machine; timings on a shared CPU are noisy (repeat).
"""
import argparse
import os
import os.path as osp
import time

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmdepth_dgr  # noqa: E402,F401  (must come before mmseg)
import numpy as np  # noqa: E402
import ot  # noqa: E402
import torch  # noqa: E402

from mmdepth_dgr.models.losses import otdl_loss  # noqa: E402
from mmdepth_dgr.ot import (entropic_ot_grid, grid_axis_coords,  # noqa: E402
                            grid_transport_cost, sinkhorn_grid_potentials)

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


def main():
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
    args = parser.parse_args()
    global _clock
    _clock = CLOCK[args.clock]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f'torch {torch.__version__}, POT {ot.__version__}, {args.threads} CPU threads, '
          f'{args.clock} clock, median of {args.repeats}, '
          f'load average {os.getloadavg()[0]:.2f}\n')

    regs = sorted({args.reg, 0.01}, reverse=True)
    otdl_kwargs = dict(mode='spatial', downsample=4)
    print(f'### (a) OTDL vs one quickstart training step (OTDL {otdl_kwargs}, '
          'default tol, float64 Sinkhorn)\n')
    otdl_kwargs['regs'] = regs
    if osp.isfile(args.config):
        batch, h, w, t_step, rows = bench_training_step(args.config, args.repeats,
                                                        otdl_kwargs)
        print(f'config `{args.config}`, batch {batch}, {h}x{w}\n')
        print('| OTDL input | train step (s) | OTDL fwd+bwd (s) | OTDL / step |')
        print('|---|---|---|---|')
        for name, t_ot in rows:
            print(f'| {name} | {t_step:.3f} | {t_ot:.4f} | {100 * t_ot / t_step:.1f} % |')
    else:
        print(f'config {args.config} not found: (a) skipped\n')
    print()

    print(f'### (b) separable Sinkhorn vs POT dense `ot.sinkhorn2` (float32, eps='
          f'{args.dense_reg}, stopThr/tol=1e-5, one pair, fwd+bwd)\n')
    print('| grid | POT dense (s) | ours, OT_eps (s) | ours, debiased (s) | speed-up (OT_eps) |')
    print('|---|---|---|---|---|')
    for size, t_dense, t_ours, t_ours_d in bench_vs_dense([(32, 32), (64, 64)],
                                                           args.dense_reg, args.repeats):
        print(f'| {size} | {t_dense:.3f} | {t_ours:.4f} | {t_ours_d:.4f} | '
              f'{t_dense / t_ours:.0f}x |')
    t_large, dense_gb = bench_large(104, 136, args.dense_reg, args.repeats)
    print(f'| 104x136 | not run: the dense cost matrix alone is {dense_gb:.2f} GB '
          f'(float32) | - | {t_large:.4f} | - |')
    print()

    print('### (c) agreement (float64, transport cost <T, M> of our plan)\n')
    print('| grid | reference | ours | reference value | relative difference |')
    print('|---|---|---|---|---|')
    for size, ref_name, ours, ref in agreement():
        print(f'| {size} | {ref_name} | {ours:.8f} | {ref:.8f} | '
              f'{abs(ours - ref) / abs(ref):.1e} |')


if __name__ == '__main__':
    main()
