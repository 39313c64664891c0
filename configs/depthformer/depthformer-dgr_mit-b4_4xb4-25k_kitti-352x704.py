# DepthFormer + DGR after every MiT block (Yao et al., BMVC 2024, Sec. 3.2; identity at
# initialisation).
_base_ = ['./depthformer_mit-b4_4xb4-25k_kitti-352x704.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='SegFormerMiT'))
