# Claims benchmark: the block-side levers (stencils on an 8-channel projection of F, a 1x1
# Eq. 9 convolution) on the last transformer block of every stage only (DGRBackbone
# blocks=[-1]): the one lever combination whose CPU latency meets issue #18's per-block
# target at both 240x320 and 480x640 (configs/dgr/README.md, "Latency on the CPU").
_base_ = ['./mit-b0-dgr-stencil8-k1_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(blocks=[-1]))
