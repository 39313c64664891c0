"""Parameters and FLOPs of a depth model: ``python tools/analysis_tools/get_flops.py CONFIG
--shape H W [--cfg-options ...] [--table] [--arch]``.

Counts ``model._forward`` (backbone [+ neck] + decode head, no data preprocessing or
post-processing) on one random (1, 3, H, W) input with mmengine.analysis
``get_model_complexity_info`` (jit-traced FlopAnalyzer: convs/linears/matmuls/norms as
multiply-accumulates, element-wise ops skipped, as fvcore). H and W are rounded up to the
data preprocessor's ``size_divisor`` as at test time. Prints a markdown table.
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401
from mmdepth_dgr.apis import init_model  # noqa: E402


class _TensorForward(torch.nn.Module):
    """``x -> model._forward(x)``: a tensor-only module for the jit-traced analysis."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model._forward(x)
        return out[0] if isinstance(out, (list, tuple)) else out


def padded_shape(h: int, w: int, size_divisor) -> tuple:
    """(h, w) rounded up to a multiple of ``size_divisor`` (unchanged when None)."""
    if not size_divisor or size_divisor <= 1:
        return h, w
    return (-(-h // size_divisor) * size_divisor, -(-w // size_divisor) * size_divisor)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count params and FLOPs')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='input size (default 480 640)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--table', action='store_true',
                        help='also print the per-module table')
    parser.add_argument('--arch', action='store_true',
                        help='also print the per-module architecture breakdown')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    from mmengine.analysis import get_model_complexity_info
    args = parse_args(argv)
    model = init_model(args.config, None, device='cpu', cfg_options=args.cfg_options)
    dp = model.data_preprocessor
    divisor = (getattr(dp, 'test_cfg', None) or {}).get('size_divisor') or \
        getattr(dp, 'size_divisor', None)
    h, w = padded_shape(args.shape[0], args.shape[1], divisor)
    with torch.no_grad():
        info = get_model_complexity_info(
            _TensorForward(model), inputs=(torch.randn(1, 3, h, w), ),
            show_table=args.table, show_arch=args.arch)
    name = osp.splitext(osp.basename(args.config))[0]
    shape_note = f'{h}x{w}' + ('' if (h, w) == tuple(args.shape) else
                               f' (padded from {args.shape[0]}x{args.shape[1]})')
    lines = ['| config | input | params | FLOPs | activations |',
             '|---|---|---|---|---|',
             f"| {name} | {shape_note} | {info['params_str']} | {info['flops_str']} | "
             f"{info['activations_str']} |"]
    print('\n'.join(lines))
    if args.table:
        print(info['out_table'])
    if args.arch:
        print(info['out_arch'])
    print('FLOPs count multiply-accumulates of convs/linears/matmuls/norms '
          '(mmengine FlopAnalyzer); element-wise ops are not counted.')
    return dict(params=info['params'], flops=info['flops'], shape=(h, w))


if __name__ == '__main__':
    main()
