# Claims benchmark: per-block DGR with the authors' released reading of Eq. 5-10
# (DGRBlock preset='authors': 8-neighbour Laplacian, learnable depthwise third-order
# conv, SE r=2, dense 3x3 spatial conv, Hadamard interaction; zero-initialised residual).
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(dgr=dict(preset='authors')))
