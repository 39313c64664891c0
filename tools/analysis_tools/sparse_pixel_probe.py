"""Sparse-pixel study, command line: trains a mask network G for a frozen CNN and a frozen
Transformer depth network, swaps the binarised masks and writes tables and figures.

    python tools/analysis_tools/sparse_pixel_probe.py CNN_CONFIG CNN_CKPT \
        TRANSFORMER_CONFIG TRANSFORMER_CKPT --work-dir work_dirs/probe \
        [--lam 1.0] [--iters 100] [--threshold 0.5 | --density 0.1] [--resume]

Everything it does is :mod:`mmdepth_dgr.probe.study` (``--help`` lists the options).
"""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import mmdepth_dgr  # noqa: E402,F401  (registrations first)
from mmdepth_dgr.probe.study import main  # noqa: E402

if __name__ == '__main__':
    main()
