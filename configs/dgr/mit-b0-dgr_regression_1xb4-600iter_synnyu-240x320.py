# Quickstart + DGR inside the encoder (after every MiT stage, before the next one).
# The whole change is the `model` line: the base backbone keys (embed_dims, num_layers,
# ...) are merged in and reach DGRBackbone as the host's arguments (flat form).
_base_ = '../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
model = dict(backbone=dict(type='DGRBackbone', host_type={{_base_.model.backbone.type}}))
