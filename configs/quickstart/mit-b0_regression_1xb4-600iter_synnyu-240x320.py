# Quickstart: SegFormer MiT-B0 (mmseg's definition, random init) + regression head +
# SILog, trained 600 iterations on generated indoor scenes. ~4 min on 2 CPU cores.
_base_ = [
    '../_base_/models/mit-b0_regression.py',
    '../_base_/datasets/synthetic_nyu.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_600iter.py',
]
