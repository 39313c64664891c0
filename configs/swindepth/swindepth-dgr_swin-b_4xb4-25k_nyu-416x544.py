# Swin-Depth + DGR after every Swin block (Yao et al., BMVC 2024, Sec. 3.2), NYU.
_base_ = ['./swindepth_swin-b_4xb4-25k_nyu-416x544.py']
model = dict(backbone=dict(type='DGRBackbone', host_type='SwinTransformer'))
