# The CNN-vs-Transformer pair of the study (Yao et al., BMVC 2024, Sec. 3.1): everything but
# the encoder. Leaves add `model.backbone` and the head's `in_channels` (the encoder's level
# widths) and nothing else. Decoder: Hu et al. (WACV 2019) D + MFF + R; loss: Hu et al.'s
# L_depth + L_grad + L_normal (Eq. 18-19).
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
    decode_head=dict(
        type='HuDecoderHead',
        in_index=[0, 1, 2, 3],
        channels=1024,
        mff_channels=16,
        refine_channels=128,
        refine_kernel=5,
        num_up=4,
        depth_activation='sigmoid',
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='HuDepthLoss', alpha=0.5, grad_weight=1.0,
                          normal_weight=1.0, loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=True))
