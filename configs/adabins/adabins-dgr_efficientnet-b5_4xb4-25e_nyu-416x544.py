# The official recipe + DGR: one DGR block after every EfficientNet-B5 block
# (DGRBackbone around TIMMEncoder, identity at initialisation). Nothing else
# differs from adabins_efficientnet-b5_4xb4-25e_nyu-416x544.py.
_base_ = './adabins_efficientnet-b5_4xb4-25e_nyu-416x544.py'
model = dict(backbone=dict(type='DGRBackbone', host_type='TIMMEncoder'))
