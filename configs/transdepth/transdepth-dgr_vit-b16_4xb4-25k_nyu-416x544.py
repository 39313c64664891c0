# transdepth + DGR after every encoder stage (Yao et al., BMVC 2024, Sec. 3.2), NYU.
_base_ = ['./transdepth_vit-b16_4xb4-25k_nyu-416x544.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='VisionTransformer'))
