# AdaBins + DGR, NYU. The paper's placement: one DGR block after every EfficientNet-B5
# block inside the encoder (DGRBackbone around TIMMEncoder; refined maps feed the next
# block and conv_head). The one-line change: every TIMMEncoder key of the base stays.
_base_ = ['./adabins_efficientnet-b5_4xb4-25k_nyu-416x544.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='TIMMEncoder'))
