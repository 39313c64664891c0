# Claims benchmark: per-block DGR with both block-side levers, stencils on an 8-channel
# projection of F and a 1x1 Eq. 9 convolution (DGRBlock stencil_channels=8,
# spatial_kernel_size=1).
_base_ = ['./mit-b0-dgr-stencil8_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(dgr=dict(spatial_kernel_size=1)))
