# AdaBins (Bhat, Alhashim, Wonka, CVPR 2021): EfficientNet-B5 (AdvProp weights, as the
# official code's gen-efficientnet 'tf_efficientnet_b5_ap') through timm, UNet decoder,
# mini-ViT adaptive bins (256 bins), SILog (AdaBins form) + 0.1 x bin chamfer loss.
# TIMMEncoder (not mmseg's TIMMBackbone): AdaBins' bottleneck is the output of
# EfficientNet's conv_head, which timm's features_only wrapper drops.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # The official AdaBins loaders normalise with the ImageNet statistics.
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
    pretrained=None,
    backbone=dict(
        type='TIMMEncoder',
        model_name='tf_efficientnet_b5.ap_in1k',
        # timm downloads the ImageNet (AdvProp) weights from the HF hub; tests set False.
        pretrained=True,
        out_indices=(0, 1, 2, 3),
        with_head_conv=True),
    decode_head=dict(
        type='AdaBinsHead',
        in_channels=[24, 40, 64, 176, 2048],
        in_index=[0, 1, 2, 3, 4],
        channels=2048,
        n_bins=256,
        n_query=128,
        decoder_channels=128,
        embed_dims=128,
        patch_size=16,
        num_heads=4,
        num_layers=4,
        ffn_dims=1024,
        max_patches=500,
        bin_norm='linear',
        width_eps=0.1,
        bottleneck_padding=1,
        align_corners=True,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[
            dict(type='SILogDepthLoss', form='adabins', variance_focus=0.85, scale=10.0,
                 loss_weight=1.0, loss_name='loss_silog'),
        ],
        loss_bins=dict(type='BinsChamferLoss', loss_weight=0.1, loss_name='loss_chamfer')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
