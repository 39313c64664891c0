# TransDepth (Yang et al., ICCV 2021): ViT-B/16 encoder + attention-gate decoder (AGD).
# The original encoder is TransUNet's R50+ViT-B/16 hybrid; here mmseg's plain
# VisionTransformer (ImageNet-21k ViT-B/16 weights, converted with mmseg's
# tools/model_converters/vit2mmseg.py to the path below, as mmseg's own ViT configs do) and
# mmseg's MultiLevelNeck, which resamples the four 1/16 token maps to a 1/4..1/32 pyramid.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    # Padded GT must read as invalid depth (0).
    seg_pad_val=0,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='MonoDepthEstimator',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VisionTransformer',
        img_size=(416, 544),
        patch_size=16,
        in_channels=3,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=(2, 5, 8, 11),
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        with_cls_token=True,
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        norm_eval=False,
        interpolate_mode='bicubic',
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/jx_vit_base_p16_224-80ecf9dd.pth')),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[768, 768, 768, 768],
        out_channels=768,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='TransDepthHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        agd_levels=(1, 2, 3),
        dilations=(1, 4, 8),
        gate='sigmoid',
        num_upsample=2,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0,
                          form='bts', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
