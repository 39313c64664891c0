# Quickstart + DGR as a neck (refines the 4 backbone outputs the head reads).
_base_ = '../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
model = dict(neck=dict(type='DGRNeck', in_channels={{_base_.model.decode_head.in_channels}}))
