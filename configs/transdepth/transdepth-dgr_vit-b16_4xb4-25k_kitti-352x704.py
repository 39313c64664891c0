# transdepth + DGR after every encoder stage (Yao et al., BMVC 2024, Sec. 3.2), KITTI.
_base_ = ['./transdepth_vit-b16_4xb4-25k_kitti-352x704.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='VisionTransformer'))
