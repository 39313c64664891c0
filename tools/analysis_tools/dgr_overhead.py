"""Measure the overhead of DGR (Depth Gradient Refinement) on a host model, side by side.

For a host (an mmengine config, or a built-in backbone spec) and one or more DGR variants
(in-backbone ``DGRBackbone`` or ``DGRNeck``), built in the same process, it reports:

* params (all parameters, trainable or not);
* FLOPs from mmengine.analysis ``FlopAnalyzer`` (what ``get_model_complexity_info``
  reports; jit-traced;
  it counts convs/linears/matmuls/norms/pooling as multiply-accumulates and, like fvcore,
  skips element-wise ops; the DGR outer/Hadamard products are ``k²``/``M`` muls per pixel,
  small next to the 1×1 conv that follows them);
* CPU latency of ``torch.no_grad`` forwards at a stated input size, after warm-up, with a
  fixed thread count. Host and variants are timed in paired, interleaved rounds: every
  round runs one forward of each model in a freshly shuffled order, so that load drift
  on a shared machine hits all of them alike and no model always runs right after
  another. Δlatency is the median over rounds of the *paired* ratio
  ``t_variant / t_host`` of the same round, printed with the range (min … max) of those
  ratios; every round's numbers are printed too.

Latency on a loaded machine is meaningless, so the tool prints the CPU model, the thread
count and the load average at start and end, and refuses to report latency (exit status
3, a message naming the load and the core count) when the 1-minute load average of other
processes exceeds the number of cores at either point (at the end the tool's own threads
are subtracted: they are part of the 1-minute average after a timing run); ``--force``
reports anyway and marks every latency line as measured under load. ``--no-latency``
(params/FLOPs only) needs no idle machine.

Printed as a markdown table with ratios to the host. Examples::

    # quickstart model (MiT-B0 + regression head) at 240x320, default + sweep variants
    python tools/analysis_tools/dgr_overhead.py \\
        --config configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py \\
        --shape 240 320 --sweep
    # Swin-T backbone at 416x544, DGR after every stage (DGRBackbone placement='stage')
    python tools/analysis_tools/dgr_overhead.py --host swin-t --shape 416 544 \\
        --placement stage
    # one custom variant
    python tools/analysis_tools/dgr_overhead.py --host mit-b0 --shape 240 320 \\
        --dgr reduction_ratio=32 inter_channels=4 --stages 0 1 2
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import platform
import random
import re
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmdepth_dgr  # noqa: E402,F401  (mmcv stand-in + registration, must come first)

# isort: split
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mmengine.analysis import FlopAnalyzer, parameter_count  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

# Built-in host backbones (mmseg definitions).
HOSTS: Dict[str, dict] = {
    'mit-b0': dict(type='MixVisionTransformer', in_channels=3, embed_dims=32, num_stages=4,
                   num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8],
                   patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                   out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True),
    'swin-t': dict(type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2],
                   num_heads=[3, 6, 12, 24], window_size=7, mlp_ratio=4,
                   out_indices=(0, 1, 2, 3)),
    'resnet50': dict(type='ResNetV1c', depth=50, out_indices=(0, 1, 2, 3)),
    'vit-s': dict(type='VisionTransformer', img_size=(512, 512), patch_size=16,
                  embed_dims=384, num_layers=12, num_heads=6, out_indices=(2, 5, 8, 11)),
}

# --sweep variants: (label, form, dgr kwargs, stages, DGRBackbone kwargs). The first
# table rows (the command-line variants, block defaults unless --dgr/--stages) are not
# repeated here. Rows with DGRBackbone kwargs (``blocks``, ``share_se``) exist only for
# ``placement='block'`` and are left out under ``--placement stage``.
SWEEP = [
    ('defaults, literal evaluation (fused=False)', 'backbone', dict(fused=False), None, {}),
    ('outer k=8, r=16', 'backbone', dict(reduction_ratio=16, inter_channels=8), None, {}),
    ('outer k=8, r=64', 'backbone', dict(reduction_ratio=64, inter_channels=8), None, {}),
    ('outer k=4, r=64 (previous default)', 'backbone', dict(reduction_ratio=64), None, {}),
    ('outer k=3, r=64', 'backbone', dict(reduction_ratio=64, inter_channels=3), None, {}),
    ('H=laplacian_grad_sum (M=3C), outer k=4', 'backbone',
     dict(third_order='laplacian_grad_sum'), None, {}),
    ('hadamard full width, r=16 (literal path)', 'backbone',
     dict(interaction='hadamard', inter_channels=None, reduction_ratio=16), None, {}),
    ('hadamard k=16', 'backbone', dict(interaction='hadamard', inter_channels=16), None,
     {}),
    ('lever: stencil_channels=8', 'backbone', dict(stencil_channels=8), None, {}),
    ('lever: spatial_kernel_size=1', 'backbone', dict(spatial_kernel_size=1), None, {}),
    ('lever: stencil_channels=8, spatial_kernel_size=1', 'backbone',
     dict(stencil_channels=8, spatial_kernel_size=1), None, {}),
    ("lever: share_se='stage'", 'backbone', {}, None, dict(share_se='stage')),
    ("lever: share_se='all'", 'backbone', {}, None, dict(share_se='all')),
    ("lever: stencil_channels=8, spatial_kernel_size=1, share_se='all'", 'backbone',
     dict(stencil_channels=8, spatial_kernel_size=1), None, dict(share_se='all')),
    ('lever: blocks=[-1] (last block of each stage)', 'backbone', {}, None,
     dict(blocks=[-1])),
    ('lever: blocks=[0, -1] (first and last block of each stage)', 'backbone', {}, None,
     dict(blocks=[0, -1])),
    ('lever: stages 0-2 (none on the 1/32 map)', 'backbone', {}, [0, 1, 2], {}),
    ('lever: stencil_channels=8, spatial_kernel_size=1, stages 0-2', 'backbone',
     dict(stencil_channels=8, spatial_kernel_size=1), [0, 1, 2], {}),
    ('lever: stencil_channels=8, spatial_kernel_size=1, blocks=[-1]', 'backbone',
     dict(stencil_channels=8, spatial_kernel_size=1), None, dict(blocks=[-1])),
    ("preset='authors' (dense 3x3 3C->C, Hadamard)", 'backbone', dict(preset='authors'),
     None, {}),
    ('defaults, stages 1-3', 'backbone', {}, [1, 2, 3], {}),
    ('defaults, stages 2-3', 'backbone', {}, [2, 3], {}),
    ('neck, defaults', 'neck', {}, None, {}),
]
# DGRBackbone keys that are not host arguments (stripped to recover the host).
_WRAPPER_KEYS = ('type', 'host_type', 'dgr', 'stages', 'placement')
_WHERE = 'tools/analysis_tools/dgr_overhead.py'


class TensorForward(nn.Module):
    """Expose ``x -> tensor(s)`` for a segmentor (``mode='tensor'``) or a backbone."""

    def __init__(self, model: nn.Module, is_segmentor: bool) -> None:
        super().__init__()
        self.model = model
        self.is_segmentor = is_segmentor

    def forward(self, x: torch.Tensor):
        if self.is_segmentor:
            return self.model(x, mode='tensor')
        out = self.model(x)
        return tuple(out) if isinstance(out, list) else out


def _host_model_cfg(args) -> Optional[dict]:
    if args.config:
        cfg = Config.fromfile(args.config)
        model = copy.deepcopy(cfg.model.to_dict())
        bb = model['backbone']
        if bb.get('type') == 'DGRBackbone':  # a -dgr config: strip DGR to get the host
            model['backbone'] = bb['backbone'] if bb.get('backbone') else dict(
                {k: v for k, v in bb.items() if k not in _WRAPPER_KEYS},
                type=bb['host_type'])
        if (model.get('neck') or {}).get('type') == 'DGRNeck':
            model.pop('neck')
        model.pop('pretrained', None)
        return _without_weight_downloads(model)
    return None


def _without_weight_downloads(cfg):
    """Drop ``Pretrained`` init_cfgs and switch off ``pretrained=True`` everywhere:
    params, FLOPs and latency do not depend on the weights, and nothing is downloaded."""
    if isinstance(cfg, dict):
        out = {}
        for k, v in cfg.items():
            if k == 'init_cfg' and isinstance(v, dict) and v.get('type') == 'Pretrained':
                continue
            if k == 'pretrained' and isinstance(v, (bool, str)):
                v = False if isinstance(v, bool) else None
            out[k] = _without_weight_downloads(v)
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_without_weight_downloads(v) for v in cfg)
    return cfg


def _variant_cfg(host_cfg: dict, is_segmentor: bool, form: str, dgr: dict,
                 stages: Optional[List[int]], backbone_out_channels: List[int],
                 placement: Optional[str] = None, wrapper: Optional[dict] = None,
                 inner: Optional[str] = None) -> dict:
    """Model config of one DGR variant: the host wrapped in ``DGRBackbone`` (``form``
    'backbone'; ``placement``, when given, sets ``DGRBackbone(placement=...)``, and
    ``wrapper`` adds more ``DGRBackbone`` arguments such as ``blocks``, ``share_se``) or
    followed by a ``DGRNeck`` ('neck'). ``inner`` wraps the backbone's sub-backbone of
    that key instead (``'vit'``: the ViT of the DPT-Hybrid / TransDepth encoder, as their
    ``-dgr`` configs do)."""
    cfg = copy.deepcopy(host_cfg)
    if form == 'backbone':
        wrap = dict(type='DGRBackbone', dgr=dgr, stages=stages, **(wrapper or {}))
        if placement is not None:
            wrap['placement'] = placement
        if inner is not None:
            outer = cfg['backbone'] if is_segmentor else cfg
            if not isinstance(outer.get(inner), dict):
                raise ValueError(f'{_WHERE}: --inner {inner}: the backbone '
                                 f'{outer.get("type")} has no sub-backbone dict {inner!r}')
            wrap['backbone'] = outer[inner]
            outer[inner] = wrap
            return cfg
        if is_segmentor:
            wrap['backbone'] = cfg['backbone']
            cfg['backbone'] = wrap
            return cfg
        wrap['backbone'] = cfg
        return wrap
    neck = dict(type='DGRNeck', in_channels=backbone_out_channels, dgr=dgr, levels=stages)
    if is_segmentor:
        if cfg.get('neck'):
            raise ValueError(f'{_WHERE}: the host already has a neck; use --form backbone')
        cfg['neck'] = neck
        return cfg
    return dict(type='_Seq', host=cfg, neck=neck)


class _Seq(nn.Module):
    """backbone -> neck, for backbone-only hosts with the neck placement."""

    def __init__(self, host: dict, neck: dict) -> None:
        super().__init__()
        self.backbone = MODELS.build(host)
        self.neck = MODELS.build(neck)

    def forward(self, x):
        return self.neck(self.backbone(x))


def _build(cfg: dict) -> nn.Module:
    if cfg.get('type') == '_Seq':
        model = _Seq(cfg['host'], cfg['neck'])
    else:
        model = MODELS.build(cfg)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    model.eval()  # (some mmseg backbones' train() returns None)
    return model


def _complexity(model: nn.Module, x: torch.Tensor):
    """Params and FLOPs (multiply-accumulates) of ``model`` at input ``x``.

    mmengine's FlopAnalyzer counts convolutions and matrix products but, like fvcore,
    skips element-wise ops, which is how DGR's fixed stencils are evaluated (shifted-slice
    sums). Their multiply-accumulates (non-zero taps x channels x pixels, see
    ``FixedDerivatives.macs_per_pixel``) are added here so the count does not depend on
    the evaluation.
    """
    from mmdepth_dgr.models.layers import DGRBlock
    stencil = {}  # per block (the analysis may run the model more than once)

    def hook(block, args):
        b, _, h, w = (int(v) for v in args[0].shape)
        stencil[id(block)] = b * h * w * block.derivatives.macs_per_pixel()

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if isinstance(m, DGRBlock)]
    try:
        # The FLOP half of get_model_complexity_info (its activation count would trace
        # the model a second time), without autograd: the trace then keeps no
        # activations alive, which matters for Swin-L / ViT-L hosts at 416x544.
        with torch.no_grad():
            flops = FlopAnalyzer(model, (x, )).total()
    finally:
        for h in handles:
            h.remove()
    return parameter_count(model)[''], flops + sum(stencil.values())


@torch.no_grad()
def _latencies(models: List[nn.Module], x: torch.Tensor, warmup: int,
               repeats: int, seed: int = 0) -> List[List[float]]:
    """Per-model lists of ``repeats`` forward times (s), interleaved in shuffled rounds."""
    for _ in range(warmup):
        for m in models:
            m(x)
    rng = random.Random(seed)
    times: List[List[float]] = [[] for _ in models]
    order = list(range(len(models)))
    for _ in range(repeats):
        rng.shuffle(order)
        for i in order:
            t0 = time.perf_counter()
            models[i](x)
            times[i].append(time.perf_counter() - t0)
    return times


def _range(values: List[float]):
    return min(values), statistics.median(values), max(values)


def _fmt(n: float) -> str:
    for unit, div in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(n) >= div:
            return f'{n / div:.3f} {unit}'
    return f'{n:.0f}'


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform`` elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown CPU'


def load_check(cores: int, force: bool, when: str, own_threads: int = 0) -> Optional[str]:
    """The 1-minute load average line; raise SystemExit(3) when the load of *other*
    processes exceeds ``cores`` (unless ``force``: then the returned line says so).

    At the end of a timing run the 1-minute load average includes this tool's own
    ``own_threads`` busy threads, so the check is ``load - own_threads > cores`` there
    (at the start, before any timing, ``own_threads`` is 0).
    """
    load = os.getloadavg()
    own = (f'; this tool\'s {own_threads} threads included' if own_threads else '')
    line = (f'load average at {when}: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} '
            f'({cores} cores{own})')
    if load[0] - own_threads <= cores:
        return line
    if not force:
        print(f'{_WHERE}: refusing to report latency: the 1-minute load average at '
              f'{when} is {load[0]:.2f}' + (f' ({own_threads} of it this tool\'s threads)'
                                             if own_threads else '')
              + f', the other processes\' share is above the {cores} cores of this '
              'machine, so timings would measure the other processes. Re-run on an idle '
              'machine, use --no-latency for params/FLOPs only, or --force to report '
              'anyway (marked as measured under load).', file=sys.stderr)
        raise SystemExit(3)
    return line + ' — FORCED: above the core count, latency measured under load'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument('--config', help='mmengine config of the host (or of a -dgr variant, '
                     'whose DGR is stripped to get the host)')
    src.add_argument('--host', choices=sorted(HOSTS), default=None,
                     help='built-in host backbone (default: mit-b0 when no --config)')
    src.add_argument('--from-record', nargs='+', default=None, metavar='JSON',
                     help='measure nothing: print the markdown table of each run record '
                     '(and, with several, the per-host table of their first rows)')
    src.add_argument('--update-doc', nargs='+', default=None, metavar='MARKDOWN',
                     help='measure nothing: rewrite every table between '
                     '"<!-- dgr_overhead:KIND records=... -->" and "<!-- dgr_overhead:end -->"'
                     ' in these files from the records the marker names')
    p.add_argument('--shape', type=int, nargs=2, default=[240, 320], metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--form', choices=['backbone', 'neck'], default='backbone',
                   help='DGR inside the encoder (DGRBackbone) or on its outputs (DGRNeck)')
    p.add_argument('--placement', choices=['block', 'stage'], nargs='+', default=None,
                   help='DGRBackbone placement(s): after every transformer/residual block '
                   'and/or after every stage, one table row each (default: DGRBackbone\'s '
                   'own default); --sweep rows use the first')
    p.add_argument('--inner', default=None, metavar='KEY',
                   help='wrap the backbone\'s sub-backbone of this key (e.g. vit for the '
                   'CNN-ViT hybrids of DPT-Hybrid and TransDepth) instead of the backbone')
    p.add_argument('--dgr', nargs='+', action=DictAction, default={},
                   help='DGRBlock kwargs, e.g. reduction_ratio=32 preset=authors')
    p.add_argument('--stages', type=int, nargs='*', default=None,
                   help='stages (backbone) or levels (neck) to refine; default all')
    p.add_argument('--sweep', action='store_true', help='also run the built-in variants')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=15,
                   help='interleaved timing rounds (the median is over these)')
    p.add_argument('--force', action='store_true',
                   help='report latency even when the load average exceeds the cores')
    p.add_argument('--no-latency', action='store_true')
    p.add_argument('--no-complexity', action='store_true',
                   help='skip params/FLOPs (e.g. when only re-timing on another machine)')
    p.add_argument('--only', default=None,
                   help='regex: keep only the --sweep rows whose label matches')
    p.add_argument('--record', default=None, metavar='JSON',
                   help='write a run record (mmdepth_dgr.utils.run_record) with every '
                   'measured row to this file')
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error('--repeats must be >= 1')
    if args.placement is not None and args.form == 'neck':
        p.error('--placement is a DGRBackbone option; it has no meaning with --form neck')
    return args


def _count_dgr_blocks(model: nn.Module) -> int:
    from mmdepth_dgr.models.layers import DGRBlock
    return sum(isinstance(m, DGRBlock) for m in model.modules())


def _resolved_placement(model: nn.Module) -> Optional[str]:
    """The ``placement`` of the model's ``DGRBackbone`` (None for a neck variant)."""
    from mmdepth_dgr.models.backbones import DGRBackbone
    for m in model.modules():
        if isinstance(m, DGRBackbone):
            return m.placement
    return None


def _pct(value: float, base: float) -> float:
    return 100.0 * (value / base - 1.0)


def measure(args) -> dict:
    """Build host and variants, measure them, print the table; return the results
    (the ``dgr_overhead`` field of the run record)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmseg')
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # silence init_weights logs
    cores = os.cpu_count() or 1
    load_start = None if args.no_latency else load_check(cores, args.force, 'start')

    host_cfg = _host_model_cfg(args)
    is_segmentor = host_cfg is not None
    if host_cfg is None:
        host_name = args.host or 'mit-b0'
        host_cfg = copy.deepcopy(HOSTS[host_name])
        title = f'host: built-in {host_name} backbone'
        host_info = dict(source='builtin', name=host_name, model=None,
                         backbone=host_cfg['type'])
    else:
        title = f'host: {args.config}'
        backbone_type = host_cfg['backbone'].get('type')
        host_info = dict(source='config', name=args.config, model=host_cfg.get('type'),
                         backbone=backbone_type if isinstance(backbone_type, str)
                         else getattr(backbone_type, '__name__', str(backbone_type)))
    x = torch.randn(args.batch, 3, *args.shape)

    host = _build(host_cfg)
    backbone = host.backbone if is_segmentor else host
    with torch.no_grad():
        # ViT with output_cls_token returns [feature map, class token] per level.
        bb_out_channels = [(t[0] if isinstance(t, (list, tuple)) else t).shape[1]
                           for t in backbone(x)]

    label = ' '.join(f'{k}={v}' for k, v in args.dgr.items()) or 'defaults'
    if args.stages is not None:
        label += f' stages={args.stages}'
    placements = args.placement or [None]
    variants = []  # (label, form, dgr, stages, placement, wrapper)
    for placement in placements:
        where = args.form + (f', placement={placement}'
                             if placement and args.form == 'backbone' else '')
        variants.append((f'DGR {label} [{where}]', args.form, dict(args.dgr), args.stages,
                         placement, {}))
    skipped = []
    if args.sweep:
        for name, form, dgr, stages, wrapper in SWEEP:
            if args.only is not None and not re.search(args.only, name):
                continue
            if wrapper and placements[0] == 'stage':
                skipped.append(name)
                continue
            variants.append((name, form, dgr, stages,
                             placements[0] if form == 'backbone' else None, wrapper))
    nan = float('nan')
    host_fwd = TensorForward(host, is_segmentor)
    stats = [(nan, nan) if args.no_complexity else _complexity(host_fwd, x)]
    models = [host_fwd]  # kept only when timed: large hosts are built one at a time
    info = []  # (resolved placement, number of DGR blocks) per variant
    for _, form, dgr, stages, placement, wrapper in variants:
        model = TensorForward(_build(_variant_cfg(
            host_cfg, is_segmentor, form, dgr, stages, bb_out_channels, placement,
            wrapper, args.inner)), is_segmentor)
        stats.append((nan, nan) if args.no_complexity else _complexity(model, x))
        info.append((_resolved_placement(model) if form == 'backbone' else None,
                     _count_dgr_blocks(model)))
        if not args.no_latency:
            models.append(model)
        del model
    times = (None if args.no_latency else
             _latencies(models, x, args.warmup, args.repeats))
    load_end = (None if args.no_latency else
                load_check(cores, args.force, 'end', own_threads=torch.get_num_threads()))

    print(f'\n### DGR overhead — {title}; input {args.batch}x3x{args.shape[0]}x'
          f'{args.shape[1]}; {cpu_model()}, {torch.get_num_threads()} threads; '
          f'torch {torch.__version__}\n')
    if times:
        print(f'{load_start}\n{load_end}\n{args.repeats} paired interleaved rounds after '
              f'{args.warmup} warm-up; Δlatency = median of the per-round ratio '
              't_variant / t_host, range = min … max over the rounds\n')
    print('| model | params | Δparams | FLOPs | ΔFLOPs | latency (ms) | Δlatency '
          '(median paired ratio) | range |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    p0, f0 = stats[0]
    lat0, host_noise = nan, '—'
    if times:
        lo, lat0, hi = _range([t * 1e3 for t in times[0]])
        host_noise = f'{lo:.1f} … {hi:.1f} ms'
    print(f'| host | {_fmt(p0)} | — | {_fmt(f0)} | — | {lat0:.1f} | — | {host_noise} |')
    rows = [dict(label='host', params=None if args.no_complexity else int(p0),
                 flops=None if args.no_complexity else int(f0), dgr_blocks=0)]
    if times:
        rows[0]['latency_ms'] = [t * 1e3 for t in times[0]]
    for i, ((label, form, dgr, stages, placement, wrapper), (p, f)) in enumerate(
            zip(variants, stats[1:]), start=1):
        lat, dlat, spread = 'nan', '—', '—'
        if times:
            lo, med, hi = _range([t / h for t, h in zip(times[i], times[0])])
            lat = f'{statistics.median(times[i]) * 1e3:.1f}'
            dlat = f'{100 * (med - 1):+.1f} %'
            spread = f'{100 * (lo - 1):+.1f} … {100 * (hi - 1):+.1f} %'
        print(f'| {label} | {_fmt(p)} | {100 * (p / p0 - 1):+.2f} % | {_fmt(f)} | '
              f'{100 * (f / f0 - 1):+.2f} % | {lat} | {dlat} | {spread} |')
        row = dict(label=label, form=form, dgr=dgr, stages=stages,
                   placement=info[i - 1][0], wrapper=wrapper, dgr_blocks=info[i - 1][1],
                   params=None if args.no_complexity else int(p),
                   flops=None if args.no_complexity else int(f),
                   params_pct=None if args.no_complexity else _pct(p, p0),
                   flops_pct=None if args.no_complexity else _pct(f, f0))
        if times:
            row['latency_ms'] = [t * 1e3 for t in times[i]]
            row['latency_ratio'] = [t / h for t, h in zip(times[i], times[0])]
        rows.append(row)
    if skipped:
        print('\nleft out under placement=stage (DGRBackbone blocks/share_se need '
              'placement=block): ' + '; '.join(skipped))
    if times:
        print('\nRounds (host: ms; variants: t_variant / t_host of the same round):')
        print('host: ' + ' '.join(f'{t * 1e3:.1f}' for t in times[0]))
        for i, (label, *_) in enumerate(variants, start=1):
            print(f'{label}: ' + ' '.join(f'{t / h:.3f}'
                                          for t, h in zip(times[i], times[0])))
        if args.force and 'FORCED' in f'{load_start}{load_end}':
            print('\nFORCED: latency above was measured with the load average above the '
                  'core count; do not publish it.')
    latency = None if not times else dict(
        threads=torch.get_num_threads(), warmup=args.warmup, repeats=args.repeats,
        load_start=load_start, load_end=load_end,
        forced='FORCED' in f'{load_start}{load_end}')
    host_info['inner'] = args.inner
    return dict(host=host_info, shape=list(args.shape), batch=args.batch, form=args.form,
                placement=args.placement, sweep=args.sweep, only=args.only,
                flop_counter='mmengine.analysis.FlopAnalyzer (the FLOPs of '
                'get_model_complexity_info) + the DGR stencil taps', cpu=cpu_model(),
                rows=rows, latency=latency, skipped=skipped)


# ------------------------------------------------------------------- docs from records
RECORD_FIELD = 'dgr_overhead'
#: Fields every record must carry (checked by :func:`load_record`).
RECORD_KEYS = ('host', 'shape', 'batch', 'form', 'placement', 'rows')
ROW_KEYS = ('label', 'form', 'dgr', 'stages', 'placement', 'wrapper', 'dgr_blocks',
            'params', 'flops', 'params_pct', 'flops_pct')
#: The budgets the README checks per-block DGR against (issue #16).
BUDGET_PARAMS_PCT = 3.0
BUDGET_FLOPS_PCT = 5.0
#: The latency targets (median paired Δlatency, %) per placement (issue #18).
LATENCY_TARGET_PCT = {'stage': 5.0, 'block': 10.0}
_MARKER = re.compile(r'<!-- dgr_overhead:(?P<kind>table|hosts|latency) records=(?P<paths>[^>]*?) '
                     r'-->\n(?P<body>.*?)<!-- dgr_overhead:end -->', re.S)


def load_record(path: str, complexity: bool = True) -> dict:
    """A ``--record`` file, checked: the run-record provenance fields and every
    :data:`RECORD_KEYS` / :data:`ROW_KEYS` field must be there.

    Args:
        path (str): The record.
        complexity (bool): Require params/FLOPs in every row (False for a latency-only
            record, ``--no-complexity``). Defaults to True.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a field is missing (the message names the file and the field).
    """
    with open(path, encoding='utf-8') as f:
        record = json.load(f)
    for key in ('schema', 'command', 'git', 'versions', 'device', RECORD_FIELD):
        if key not in record:
            raise ValueError(f'{path}: run record field {key!r} is missing; expected a '
                             f'file written by {_WHERE} --record')
    body = record[RECORD_FIELD]
    for key in RECORD_KEYS:
        if key not in body:
            raise ValueError(f'{path}: {RECORD_FIELD}.{key} is missing')
    if not body['rows'] or body['rows'][0].get('label') != 'host':
        raise ValueError(f'{path}: {RECORD_FIELD}.rows must start with the host row')
    for i, row in enumerate(body['rows'][1:], start=1):
        for key in ROW_KEYS:
            if key not in row:
                raise ValueError(f'{path}: {RECORD_FIELD}.rows[{i}].{key} is missing')
        if complexity and (row['params'] is None or row['flops'] is None):
            raise ValueError(f'{path}: {RECORD_FIELD}.rows[{i}] has no params/FLOPs '
                             '(recorded with --no-complexity); docs need them')
    return record


def _host_name(body: dict) -> str:
    host = body['host']
    if host['source'] == 'config':
        return f'`{osp.basename(host["name"])}`'
    return f'built-in `{host["name"]}` backbone'


def _within(row: dict) -> str:
    """'yes' when a row meets both budgets (≤ +3 % params and ≤ +5 % FLOPs)."""
    ok = (row['params_pct'] <= BUDGET_PARAMS_PCT and row['flops_pct'] <= BUDGET_FLOPS_PCT)
    return 'yes' if ok else 'no'


def render_table(record: dict) -> str:
    """The params/FLOPs markdown table of one record (host row, then every variant,
    each with whether it meets both budgets).

    Latency is rendered by :func:`render_latency` (its own table, with the CPU, threads
    and load it was measured at).
    """
    body = record[RECORD_FIELD]
    host = body['rows'][0]
    budget = f'≤ +{BUDGET_PARAMS_PCT:g} % params, ≤ +{BUDGET_FLOPS_PCT:g} % FLOPs'
    lines = [f'| model | DGR blocks | params | Δparams | FLOPs | ΔFLOPs | {budget} |',
             '|---|---:|---:|---:|---:|---:|---|',
             f'| host | 0 | {_fmt(host["params"])} | — | {_fmt(host["flops"])} | — | — |']
    for row in body['rows'][1:]:
        lines.append(f'| {row["label"]} | {row["dgr_blocks"]} | {_fmt(row["params"])} | '
                     f'{row["params_pct"]:+.2f} % | {_fmt(row["flops"])} | '
                     f'{row["flops_pct"]:+.2f} % | {_within(row)} |')
    return '\n'.join(lines) + '\n'


def _default_row(body: dict, placement: str) -> Optional[dict]:
    """The record's command-line row for ``placement`` (labelled ``DGR ...``; no
    --sweep label starts so)."""
    for row in body['rows'][1:]:
        if (row['form'] == 'backbone' and row['placement'] == placement
                and row['label'].startswith('DGR ')):
            return row
    return None


def render_hosts(records: List[dict]) -> str:
    """One row per record: the host, its input, and the default DGR's overhead with
    ``placement='block'`` and ``'stage'`` (— where the record has no such row), each with
    whether it meets both budgets (≤ +3 % params, ≤ +5 % FLOPs)."""
    lines = ['| host | input | host params | host FLOPs | per block: DGR blocks | Δparams '
             '| ΔFLOPs | within budget | per stage: DGR blocks | Δparams | ΔFLOPs '
             '| within budget |',
             '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|']
    for record in records:
        body = record[RECORD_FIELD]
        host = body['rows'][0]
        cells = [_host_name(body), f'{body["batch"]}x3x{body["shape"][0]}x{body["shape"][1]}',
                 _fmt(host['params']), _fmt(host['flops'])]
        for placement in ('block', 'stage'):
            row = _default_row(body, placement)
            cells += (['—'] * 4 if row is None else
                      [str(row['dgr_blocks']), f'{row["params_pct"]:+.2f} %',
                       f'{row["flops_pct"]:+.2f} %', _within(row)])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _load_average(line: Optional[str]) -> str:
    """The three load averages of a recorded ``load average at ...: a b c (N cores)``."""
    m = re.search(r':\s*([\d.]+ [\d.]+ [\d.]+)', line or '')
    return m.group(1) if m else '?'


def render_latency(record: dict, path: str = '') -> str:
    """The latency table of one record measured with latency (not ``--no-latency``): a
    line with the input, CPU model, threads, rounds, the load average at start and end
    and the commit measured, then per model the median forward time, the median paired
    ratio to the host (Δlatency), its range over the rounds, and the target of its
    placement (:data:`LATENCY_TARGET_PCT`) with whether the median meets it.

    Raises:
        ValueError: the record has no latency, or it was forced under load.
    """
    from mmdepth_dgr.utils.run_record import commit_label
    body = record[RECORD_FIELD]
    lat = body.get('latency')
    if not lat:
        raise ValueError(f'{path}: {RECORD_FIELD}.latency is empty (recorded with '
                         '--no-latency); a latency table needs a timed run')
    if lat.get('forced'):
        raise ValueError(f'{path}: latency was measured with the load above the core count '
                         '(--force); docs take no such figure')
    host = body['rows'][0]
    lines = [f'{_host_name(body)}, input {body["batch"]}x3x{body["shape"][0]}x'
             f'{body["shape"][1]}; {body.get("cpu", "?")}, {lat["threads"]} threads; '
             f'{lat["repeats"]} paired interleaved rounds after {lat["warmup"]} warm-up; '
             f'load average {_load_average(lat["load_start"])} at start, '
             f'{_load_average(lat["load_end"])} at end (its own {lat["threads"]} threads '
             f'included); commit {commit_label(record)}; record `{path}`', '',
             '| model | DGR blocks | latency (ms, median) | Δlatency (median paired ratio) '
             '| range over rounds | target | meets |',
             '|---|---:|---:|---:|---:|---:|---|',
             f'| host | 0 | {statistics.median(host["latency_ms"]):.1f} | — | — | — | — |']
    for row in body['rows'][1:]:
        lo, med, hi = _range(row['latency_ratio'])
        target = LATENCY_TARGET_PCT.get(row['placement'])
        pct = 100 * (med - 1)
        lines.append(
            f'| {row["label"]} | {row["dgr_blocks"]} | '
            f'{statistics.median(row["latency_ms"]):.1f} | {pct:+.1f} % | '
            f'{100 * (lo - 1):+.1f} … {100 * (hi - 1):+.1f} % | '
            + ('— | — |' if target is None else
               f'≤ +{target:g} % | {"yes" if pct <= target else "no"} |'))
    return '\n'.join(lines) + '\n'


def _render_block(kind: str, paths: List[str], root: str) -> str:
    records = [load_record(osp.join(root, p), complexity=kind != 'latency') for p in paths]
    if kind == 'table':
        return '\n'.join(render_table(r) for r in records)
    if kind == 'latency':
        return '\n'.join(render_latency(r, p) for r, p in zip(records, paths))
    return render_hosts(records)


def doc_blocks(text: str, root: str = '.') -> List[Tuple[str, List[str], str, str]]:
    """Every ``dgr_overhead`` block of a markdown text: ``(kind, record paths, current
    body, body rendered from the records)``; paths are relative to ``root``.

    A block is ``<!-- dgr_overhead:table records=a.json -->`` (one table per record) or
    ``<!-- dgr_overhead:hosts records=a.json b.json -->`` (one row per record) or
    ``<!-- dgr_overhead:latency records=a.json -->`` (one latency table per record, each
    with its CPU, threads and load), then the table, then ``<!-- dgr_overhead:end -->``.
    """
    return [(m['kind'], m['paths'].split(), m['body'],
             _render_block(m['kind'], m['paths'].split(), root))
            for m in _MARKER.finditer(text)]


def update_doc(path: str, root: str = '.') -> int:
    """Rewrite the ``dgr_overhead`` blocks of ``path`` from their records; returns how
    many blocks changed. Raises ValueError when the file has no block."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if not _MARKER.search(text):
        raise ValueError(f'{path}: no "<!-- dgr_overhead:table|hosts|latency records=... '
                         '-->" ... "<!-- dgr_overhead:end -->" block to update')
    changed = 0

    def sub(m):
        nonlocal changed
        body = _render_block(m['kind'], m['paths'].split(), root)
        changed += body != m['body']
        return m.group(0).replace(m['body'], body, 1) if m['body'] else (
            m.group(0).replace('-->\n', '-->\n' + body, 1))

    new = _MARKER.sub(sub, text)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(new)
    return changed


def main(argv=None):
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.from_record:
        records = [load_record(p, complexity=False) for p in args.from_record]
        timed_only = False
        for path, record in zip(args.from_record, records):
            body = record[RECORD_FIELD]
            print(f'\n### {_host_name(body)}, input {body["batch"]}x3x{body["shape"][0]}x'
                  f'{body["shape"][1]} ({path})\n')
            if all(r.get('params') is not None for r in body['rows']):
                print(render_table(record))
            else:
                timed_only = True
            if body.get('latency'):
                print(render_latency(record, path))
        if len(records) > 1 and not timed_only:
            print(render_hosts(records))
        return records
    if args.update_doc:
        for path in args.update_doc:
            print(f'{path}: {update_doc(path)} table(s) changed')
        return None
    results = measure(args)
    if args.record:
        from mmdepth_dgr.utils.run_record import make_run_record
        record = make_run_record(command=['python', _WHERE, *raw],
                                 extra={'tool': 'dgr_overhead', RECORD_FIELD: results})
        os.makedirs(osp.dirname(osp.abspath(args.record)), exist_ok=True)
        with open(args.record, 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1)
            f.write('\n')
        print(f'\nrun record: {args.record}')
    return results


if __name__ == '__main__':
    main()
