# Claims benchmark: DGR after the last transformer block of every stage only
# (DGRBackbone blocks=[-1]; before the stage's norm, unlike placement='stage').
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(blocks=[-1]))
