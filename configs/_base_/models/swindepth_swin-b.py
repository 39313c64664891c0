# Swin-Depth (Cheng, Zhang, Tang, IEEE Sensors J. 2021): Swin encoder + multi-scale fusion
# attention decoder. The paper's Swin size is not restated here (not verified); Swin-B
# (window 12, ImageNet-22k, 384) is this implementation's default, with mmseg's checkpoint.
checkpoint_file = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth'  # noqa
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
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        patch_size=4,
        window_size=12,
        mlp_ratio=4,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.3,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(
        type='SwinDepthHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        channels=256,
        top_down=True,
        fusion=dict(reduction=4, scale_attention=True, channel_attention=True),
        num_upsample=2,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0,
                          form='bts', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
