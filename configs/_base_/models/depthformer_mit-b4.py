# DepthFormer (Agarwal & Arora, ICIP 2022) as the official code defines it
# (ashutosh1807/Depthformer, models/unet_adaptive_bins.py UnetAdaptiveBins with mit_b4):
# SegFormer's MiT-B4 (SegFormerMiT: mmseg's MiT with SegFormer's LayerNorm epsilons), a
# U-Net decoder of transposed-conv up-blocks ending at 128 channels at 1/2 resolution, and
# Transbins (AdaBins' mini-ViT: 4-layer transformer over 16x16 patches, 256 bins,
# 'linear' width norm) with per-pixel bin probabilities from a 1x1 conv.
# Loss as the released training arguments: SILog (AdaBins form) + 0.1 x bin chamfer
# (--w_chamfer 0.1, --n_bins 256). Encoder weights: SegFormer's ImageNet MiT-B4 (mmseg's
# conversion of the same file the official code loads).
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth'  # noqa
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=0,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='MonoDepthEstimator',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='SegFormerMiT',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 8, 27, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        norm_cfg=dict(type='LN', eps=1e-6),
        patch_norm_eps=1e-5,
        sr_norm_eps=1e-5,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(
        type='DepthFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=128,
        transbins=dict(n_bins=256, embed_dims=128, patch_size=16, num_layers=4,
                       num_heads=4, feedforward_channels=1024, bin_norm='linear'),
        min_depth=1e-3,
        max_depth=10.0,
        align_corners=True,
        loss_decode=[
            dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0, form='adabins',
                 loss_weight=1.0),
            dict(type='BinsChamferLoss', loss_weight=0.1)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
