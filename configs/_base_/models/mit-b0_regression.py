# SegFormer's MiT-B0 encoder (inherited from mmseg's own definition) with the simple
# bounded regression head, trained with SILog.
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']

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
    decode_head=dict(
        _delete_=True,
        type='DepthRegressionHead',
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=64,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='SILogDepthLoss', loss_weight=1.0)]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', flip=False))
