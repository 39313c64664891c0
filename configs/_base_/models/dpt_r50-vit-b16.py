# DPT-Hybrid (Ranftl, Bochkovskiy, Koltun, ICCV 2021) as the official code defines it
# (isl-org/DPT: DPTDepthModel(backbone='vitb_rn50_384', non_negative=True, invert=True)):
# timm 0.4.5's R50+ViT-B/16 hybrid (ResNetV2 stages 1-3 + a ViT-B/16 on the 1/16 map),
# DPT levels = ResNet stages 1-2 and ViT layers 9 and 12 (hooks 8, 11), 'project' readout,
# 256-wide fusion, depth = 1 / max(s * ReLU(z) + t, 1e-8). s, t are the official NYU
# constants (run_monodepth.py, dpt_hybrid_nyu); the KITTI leaves set KITTI's.
# Initial weights: the official DPT-Hybrid checkpoint (MiDaS relative-depth pre-training,
# dpt_hybrid-midas-501f0c75.pt) converted with tools/model_converters/dpt2mmdepth.py to
# the leaves' load_from path, as the official NYU/KITTI models were fine-tuned from it.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # DPT normalises RGB in [0, 1] with mean 0.5, std 0.5.
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
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
        cnn=dict(type='TIMMResNetV2', layers=(3, 4, 9), out_indices=(0, 1, 2),
                 stem_type='same', std_conv='legacy', std_conv_eps=1e-5),
        # The ViT tokenises the 1/16 ResNet map with a 1x1 conv (patch_size 1); its
        # position table is that of 384x384 inputs (24x24 tokens), bilinearly resized.
        vit=dict(
            type='VisionTransformer',
            img_size=(24, 24),
            patch_size=1,
            in_channels=1024,
            embed_dims=768,
            num_layers=12,
            num_heads=12,
            mlp_ratio=4,
            out_indices=(8, 11),
            qkv_bias=True,
            drop_rate=0.0,
            attn_drop_rate=0.0,
            drop_path_rate=0.0,
            with_cls_token=True,
            output_cls_token=True,
            final_norm=False,
            patch_bias=True,
            norm_cfg=dict(type='LN', eps=1e-6),
            act_cfg=dict(type='GELU'),
            interpolate_mode='bilinear'),
        cnn_out_indices=(0, 1)),
    decode_head=dict(
        type='DPTDepthHead',
        in_channels=[256, 512, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        post_process_channels=[256, 512, 768, 768],
        reassemble_scales=[None, None, 1, 0.5],
        readout_type='project',
        use_bn=False,
        head_channels=32,
        depth_activation='inverse',
        inverse_scale=0.000305,
        inverse_shift=0.1378,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0,
                          form='bts', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
