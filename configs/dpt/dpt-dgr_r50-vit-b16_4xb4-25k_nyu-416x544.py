# DPT-Hybrid + DGR after every ViT layer (Yao et al., BMVC 2024, Sec. 3.2;
# identity at initialisation). DGR wraps the ViT part of the hybrid; the ResNet stages
# are not refined (configs/dpt/README.md).
_base_ = ['./dpt_r50-vit-b16_4xb4-25k_nyu-416x544.py']
model = dict(backbone=dict(vit=dict(type='DGRBackbone', host_type='VisionTransformer')))
