# Swin-Depth + DGR after every Swin block (Yao et al., BMVC 2024, Sec. 3.2), KITTI.
_base_ = ['./swindepth_swin-b_4xb4-25k_kitti-352x704.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='SwinTransformer'))
