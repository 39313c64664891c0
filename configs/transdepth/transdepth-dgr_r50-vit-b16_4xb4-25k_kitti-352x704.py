# TransDepth + DGR after every ViT layer of the hybrid encoder (Yao et al.,
# BMVC 2024, Sec. 3.2; identity at initialisation). DGR wraps the ViT part; the ResNet
# stages are not refined (configs/transdepth/README.md).
_base_ = ['./transdepth_r50-vit-b16_4xb4-25k_kitti-352x704.py']
model = dict(backbone=dict(vit=dict(type='DGRBackbone', host_type='VisionTransformerNoPos')))
