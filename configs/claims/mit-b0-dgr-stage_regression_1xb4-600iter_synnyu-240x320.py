# Claims benchmark: DGR once at the end of every MiT stage (placement='stage', 4 blocks;
# this project's earlier reading, and what '+DGR' meant in the runs committed before
# per-block placement became the default) instead of after every transformer block.
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(placement='stage'))
