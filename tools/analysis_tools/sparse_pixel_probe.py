"""Sparse-pixel study, command line: trains a mask network G for a frozen CNN and a frozen
Transformer depth network, swaps the binarised masks and writes tables, figures and a run
record.

    python tools/analysis_tools/sparse_pixel_probe.py CNN_CONFIG CNN_CKPT \
        TRANSFORMER_CONFIG TRANSFORMER_CKPT --work-dir work_dirs/probe \
        [--lam 1.0] [--iters 100] [--threshold 0.5 | --density 0.1] [--resume] \
        [--record PATH]
    # the whole walkthrough of configs/probe/README.md (data, the pair, the probe):
    python tools/analysis_tools/sparse_pixel_probe.py walkthrough --seed 0 \
        --work-dir work_dirs/probe_walkthrough/seed0 [--record PATH]
    # rewrite (or --check) the README tables from the committed records:
    python tools/analysis_tools/sparse_pixel_probe.py render-doc [--check]

Everything it does is :mod:`mmdepth_dgr.probe.study` (``--help`` lists the options).
"""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import mmdepth_dgr  # noqa: E402,F401  (registrations first)
from mmdepth_dgr.probe.study import cli  # noqa: E402

if __name__ == '__main__':
    cli()
