# Quickstart + DGR inside the encoder: a DGR block after every MiT transformer block (the
# paper's placement, Sec. 3.2; the refined map feeds the next block). The whole change is
# the `model` line: the base backbone keys (embed_dims, num_layers, ...) are merged in and
# reach DGRBackbone as the host's arguments (flat form).
_base_ = '../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'
model = dict(backbone=dict(type='DGRBackbone', host_type={{_base_.model.backbone.type}}))
