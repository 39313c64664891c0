# Claims benchmark: per-block DGR with a 1x1 Eq. 9 convolution instead of 3x3
# (DGRBlock spatial_kernel_size=1).
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(dgr=dict(spatial_kernel_size=1)))
