# PixelFormer + DGR with the DGR paper's Sec. 4 settings: a DGR block after every Swin
# block (DGRBackbone around the same window-7 encoder, identity at initialisation).
# Nothing else differs from the base.
_base_ = './pixelformer_swin-l-w7_4xb4-25k_kitti-352x704.py'
model = dict(backbone=dict(type='DGRBackbone', host_type='PretrainedSwinTransformer'))
