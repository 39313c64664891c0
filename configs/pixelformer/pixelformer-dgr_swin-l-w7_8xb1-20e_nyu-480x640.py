# The official recipe + DGR: a DGR block after every Swin block (DGRBackbone
# around the same window-7 encoder, identity at initialisation, so a converted
# official checkpoint initialises it). Nothing else differs from the base.
_base_ = './pixelformer_swin-l-w7_8xb1-20e_nyu-480x640.py'
model = dict(backbone=dict(type='DGRBackbone', host_type='PretrainedSwinTransformer'))
