# NeWCRFs (Yuan et al., CVPR 2022) as its official training script builds it
# (aliyun/NeWCRFs newcrfs/train.py, --encoder large07, --pretrain
# swin_large_patch4_window7_224_22k.pth): Swin-L window 7 with Microsoft's ImageNet-22k
# 224x224 weights, converted on load by PretrainedSwinTransformer (mmseg's Swin + a
# checked layout conversion), drop_path 0.3; the neural-window FC-CRF decoder; SILog
# (variance focus 0.85, x10); depth = sigmoid * max_depth exactly
# (networks/NewCRFDepth.py: min_depth=0); flip test with post_process_depth
# (flip_fusion='edge_ramp'). NYU defaults (10 m); KITTI leaves override max_depth.
checkpoint_file = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    # Padded GT must read as invalid depth (0), not as 255 m of valid depth.
    seg_pad_val=0,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='MonoDepthEstimator',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='PretrainedSwinTransformer',
        pretrain_img_size=224,
        embed_dims=192,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,  # as the host repo
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(
        type='NeWCRFsHead',
        in_channels=[192, 384, 768, 1536],
        in_index=[0, 1, 2, 3],
        channels=512,
        crf_dims=(128, 256, 512, 1024),
        crf_num_heads=(4, 8, 16, 32),
        crf_window_size=7,
        crf_depth=2,
        pool_scales=(1, 2, 3, 6),
        norm_cfg=dict(type='BN', requires_grad=True),
        ppm_norm_cfg=dict(type='GN', num_groups=256, requires_grad=True),
        min_depth=0.0,
        max_depth=10.0,
        loss_decode=[
            dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0, form='bts')
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True, flip_fusion='edge_ramp'))
