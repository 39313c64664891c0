# TransDepth (Yang et al., ICCV 2021) as the official code defines it (ygjwd12345/TransDepth,
# pytorch/bts.py BtsModel): TransUNet's R50+ViT-B/16 hybrid encoder (ResNet-50 stages 1-3,
# ViT-B/16 without position embedding or class token on the 1/16 map, final LayerNorm),
# TransUNet's two token convs (768 -> 1024 at 1/16, -> 2048 at 1/32), the attention-gated
# decoder (AGD, width 512, dilations 1/4/8, random structured attention of rank 3 as the
# official forward) and the BTS decoder (bts_size 512) with depth = max_depth * sigmoid.
# Loss: SILog (BTS form, 0.85, x10) on GT > 0.1 m (NYU; KITTI leaves: > 1 m), as bts_main.py.
# Initial weights of the official run: Google's ImageNet-21k R50+ViT-B_16.npz (TransUNet's
# load_from); no converter for that file exists here, so the encoder starts from random
# weights unless init_cfg/load_from point to converted weights (configs/transdepth/README.md).
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
        type='CNNViTHybrid',
        cnn=dict(type='TransUNetResNetV2', block_units=(3, 4, 9), width_factor=1),
        vit=dict(
            type='VisionTransformerNoPos',
            img_size=(26, 34),
            patch_size=1,
            in_channels=1024,
            embed_dims=768,
            num_layers=12,
            num_heads=12,
            mlp_ratio=4,
            out_indices=(11, ),
            qkv_bias=True,
            # TransUNet: dropout 0.1 after the patch embedding and in the MLPs (mmseg's
            # layer also applies it after the attention projection), none in attention.
            drop_rate=0.1,
            attn_drop_rate=0.0,
            drop_path_rate=0.0,
            final_norm=True,
            patch_bias=True,
            norm_cfg=dict(type='LN', eps=1e-6),
            act_cfg=dict(type='GELU')),
        cnn_out_indices=(0, 1, 2)),
    decode_head=dict(
        type='TransDepthHead',
        in_channels=[64, 256, 512, 768],
        in_index=[0, 1, 2, 3],
        channels=512,
        token_channels=(1024, 2048),
        agd=dict(width=512, dilations=(1, 4, 8), gate='structured', att_rank=3),
        min_depth=0.0,
        max_depth=10.0,
        gt_valid_min=0.1,
        loss_decode=[dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0,
                          form='bts', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
