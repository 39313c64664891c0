# DPT-Large layout (Ranftl et al., ICCV 2021): ViT-L/16 (384), hooks after layers
# 6, 12, 18, 24 (out_indices 5, 11, 17, 23), reassemble widths 256, 512, 1024, 1024.
_base_ = ['./dpt_vit-b16.py']
vit_checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_large_p16_384_20220308-d4efb41d.pth'  # noqa
model = dict(
    backbone=dict(
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        out_indices=(5, 11, 17, 23),
        init_cfg=dict(type='Pretrained', checkpoint=vit_checkpoint)),
    decode_head=dict(
        in_channels=[1024, 1024, 1024, 1024],
        embed_dims=1024,
        post_process_channels=[256, 512, 1024, 1024]))
