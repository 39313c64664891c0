# Claims benchmark: per-block DGR with the stencils on a channel-reduced map (a 1x1
# projection of F to 8 channels before Eq. 5-7; DGRBlock stencil_channels=8).
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(dgr=dict(stencil_channels=8)))
