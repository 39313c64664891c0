"""Measure the overhead of DGR (Depth Gradient Refinement) on a host model, side by side.

For a host (an mmengine config, or a built-in backbone spec) and one or more DGR variants
(in-backbone ``DGRBackbone`` or ``DGRNeck``), built in the same process, it reports:

* params (all parameters, trainable or not);
* FLOPs from mmengine.analysis ``get_model_complexity_info`` (FlopAnalyzer, jit-traced;
  it counts convs/linears/matmuls/norms/pooling as multiply-accumulates and, like fvcore,
  skips element-wise ops; the DGR outer/Hadamard products are ``k²``/``M`` muls per pixel,
  small next to the 1×1 conv that follows them);
* CPU latency of ``torch.no_grad`` forwards at a stated input size, after warm-up, with a
  fixed thread count. Host and variants are timed interleaved: every round runs one
  forward of each model in a freshly shuffled order, so that load drift on a shared
  machine hits all of them alike and no model always runs right after another. Δlatency
  is the median over rounds of the *paired* ratio ``t_variant / t_host`` of the same
  round, reported with the interquartile range (IQR) of those ratios as the noise
  measure; the latency column is the median per-model time.

Printed as a markdown table with ratios to the host. Examples::

    # quickstart model (MiT-B0 + regression head) at 240x320, default + sweep variants
    python tools/analysis_tools/dgr_overhead.py \\
        --config configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py \\
        --shape 240 320 --sweep
    # Swin-T backbone at 416x544
    python tools/analysis_tools/dgr_overhead.py --host swin-t --shape 416 544 --sweep
    # one custom variant
    python tools/analysis_tools/dgr_overhead.py --host mit-b0 --shape 240 320 \\
        --dgr reduction_ratio=32 inter_channels=4 --stages 0 1 2
"""
import argparse
import copy
import logging
import os
import random
import re
import statistics
import time
from typing import Dict, List, Optional

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import mmdepth_dgr  # noqa: E402,F401  (mmcv stand-in + registration, must come first)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mmengine.analysis import get_model_complexity_info  # noqa: E402
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

# --sweep variants: (label, placement, dgr kwargs, stages). The first table row (the
# command-line variant, block defaults unless --dgr/--stages) is not repeated here.
SWEEP = [
    ('defaults, literal evaluation (fused=False, pre-optimisation forward)', 'backbone',
     dict(fused=False), None),
    ('outer k=8, r=16', 'backbone', dict(reduction_ratio=16, inter_channels=8), None),
    ('outer k=8, r=64', 'backbone', dict(reduction_ratio=64, inter_channels=8), None),
    ('outer k=4, r=64 (previous default)', 'backbone', dict(reduction_ratio=64), None),
    ('outer k=3, r=64', 'backbone', dict(reduction_ratio=64, inter_channels=3), None),
    ('H=laplacian_grad_sum (M=3C), outer k=4', 'backbone',
     dict(third_order='laplacian_grad_sum'), None),
    ('hadamard full width, r=16 (literal path)', 'backbone',
     dict(interaction='hadamard', inter_channels=None, reduction_ratio=16), None),
    ('hadamard k=16', 'backbone', dict(interaction='hadamard', inter_channels=16), None),
    ('defaults, stages 1-3', 'backbone', {}, [1, 2, 3]),
    ('defaults, stages 2-3', 'backbone', {}, [2, 3]),
    ('neck, defaults', 'neck', {}, None),
]


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
                {k: v for k, v in bb.items()
                 if k not in ('type', 'host_type', 'dgr', 'stages')},
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


def _variant_cfg(host_cfg: dict, is_segmentor: bool, placement: str, dgr: dict,
                 stages: Optional[List[int]], backbone_out_channels: List[int]) -> dict:
    cfg = copy.deepcopy(host_cfg)
    if placement == 'backbone':
        wrap = dict(type='DGRBackbone', dgr=dgr, stages=stages)
        if is_segmentor:
            wrap['backbone'] = cfg['backbone']
            cfg['backbone'] = wrap
            return cfg
        wrap['backbone'] = cfg
        return wrap
    neck = dict(type='DGRNeck', in_channels=backbone_out_channels, dgr=dgr, levels=stages)
    if is_segmentor:
        if cfg.get('neck'):
            raise ValueError('tools/analysis_tools/dgr_overhead.py: the host already has a '
                             'neck; use --placement backbone')
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
    info = get_model_complexity_info(model, inputs=(x,), show_table=False, show_arch=False)
    return info['params'], info['flops']


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


def _quartiles(values: List[float]):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def _fmt(n: float) -> str:
    for unit, div in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(n) >= div:
            return f'{n / div:.3f} {unit}'
    return f'{n:.0f}'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument('--config', help='mmengine config of the host (or of a -dgr variant, '
                     'whose DGR is stripped to get the host)')
    src.add_argument('--host', choices=sorted(HOSTS), default=None,
                     help='built-in host backbone (default: mit-b0 when no --config)')
    p.add_argument('--shape', type=int, nargs=2, default=[240, 320], metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--placement', choices=['backbone', 'neck'], default='backbone')
    p.add_argument('--dgr', nargs='+', action=DictAction, default={},
                   help='DGRBlock kwargs, e.g. reduction_ratio=32 interaction=hadamard')
    p.add_argument('--stages', type=int, nargs='*', default=None,
                   help='stages (backbone) or levels (neck) to refine; default all')
    p.add_argument('--sweep', action='store_true', help='also run the built-in variants')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--no-latency', action='store_true')
    p.add_argument('--no-complexity', action='store_true',
                   help='skip params/FLOPs (e.g. when only re-timing on another machine)')
    p.add_argument('--only', default=None,
                   help='regex: keep only the --sweep rows whose label matches')
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmseg')
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # silence init_weights logs

    host_cfg = _host_model_cfg(args)
    is_segmentor = host_cfg is not None
    if host_cfg is None:
        host_name = args.host or 'mit-b0'
        host_cfg = copy.deepcopy(HOSTS[host_name])
        title = f'host: built-in {host_name} backbone'
    else:
        title = f'host: {args.config}'
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
    variants = [(f'DGR {label} [{args.placement}]', args.placement, dict(args.dgr),
                 args.stages)]
    if args.sweep:
        variants += [v for v in SWEEP if args.only is None or re.search(args.only, v[0])]
    models = [TensorForward(host, is_segmentor)]
    for _, placement, dgr, stages in variants:
        models.append(TensorForward(_build(_variant_cfg(
            host_cfg, is_segmentor, placement, dgr, stages, bb_out_channels)),
            is_segmentor))

    nan = float('nan')
    stats = ([(nan, nan)] * len(models) if args.no_complexity else
             [_complexity(m, x) for m in models])
    times = (None if args.no_latency else
             _latencies(models, x, args.warmup, args.repeats))

    print(f'\n### DGR overhead — {title}; input {args.batch}x3x{args.shape[0]}x'
          f'{args.shape[1]}; CPU, {args.threads} threads; {args.repeats} interleaved '
          f'rounds after {args.warmup} warm-up; torch {torch.__version__}\n')
    print('| model | params | Δparams | FLOPs | ΔFLOPs | latency (ms) | Δlatency '
          '(median paired ratio) | ratio IQR |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    p0, f0 = stats[0]
    lat0 = statistics.median(times[0]) * 1e3 if times else nan
    if times:
        q1, _, q3 = _quartiles([t * 1e3 for t in times[0]])
        host_noise = f'host IQR {q1:.1f}-{q3:.1f} ms'
    else:
        host_noise = '—'
    print(f'| host | {_fmt(p0)} | — | {_fmt(f0)} | — | {lat0:.1f} | — | {host_noise} |')
    for i, ((label, *_), (p, f)) in enumerate(zip(variants, stats[1:]), start=1):
        if times:
            ratios = [t / h for t, h in zip(times[i], times[0])]
            q1, med, q3 = _quartiles(ratios)
            lat = f'{statistics.median(times[i]) * 1e3:.1f}'
            dlat = f'{100 * (med - 1):+.1f} %'
            iqr = f'{100 * (q1 - 1):+.1f} … {100 * (q3 - 1):+.1f} %'
        else:
            lat, dlat, iqr = 'nan', '—', '—'
        print(f'| {label} | {_fmt(p)} | {100 * (p / p0 - 1):+.2f} % | {_fmt(f)} | '
              f'{100 * (f / f0 - 1):+.2f} % | {lat} | {dlat} | {iqr} |')


if __name__ == '__main__':
    main()
