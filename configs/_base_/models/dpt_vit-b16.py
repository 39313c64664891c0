# DPT (Ranftl, Bochkovskiy, Koltun, ICCV 2021) for metric depth: mmseg's ViT-B/16 and
# mmseg's DPT reassemble/fusion blocks (inherited from mmseg's own DPT config), with the
# DPT depth head (conv -> x2 upsample -> conv -> ReLU -> conv) and SILog.
# Depth output: min + sigmoid * (max - min) (see DPTDepthHead for the 'inverse' option,
# DPT's own metric fine-tuning form). The published DPT-Hybrid uses a ResNet-50 + ViT-B
# hybrid that mmseg does not provide; this is the DPT-Base layout.
_base_ = ['mmseg::_base_/models/dpt_vit-b16.py']
vit_checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_base_p16_384_20220308-96dfe169.pth'  # noqa
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # The ViT-384 checkpoints (mmseg's Segmenter ones) and DPT normalise to [-1, 1].
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
    pretrained=None,
    backbone=dict(
        img_size=(384, 384),
        patch_size=16,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        out_indices=(2, 5, 8, 11),
        final_norm=False,
        with_cls_token=True,
        output_cls_token=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        interpolate_mode='bicubic',
        init_cfg=dict(type='Pretrained', checkpoint=vit_checkpoint)),
    decode_head=dict(
        _delete_=True,
        type='DPTDepthHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        embed_dims=768,
        post_process_channels=[96, 192, 384, 768],
        readout_type='project',
        patch_size=16,
        head_channels=32,
        fusion_norm_cfg=None,
        depth_activation='sigmoid',
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=[dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0,
                          form='bts', loss_weight=1.0)]),
    auxiliary_head=None,
    train_cfg=dict(),
    test_cfg=dict(_delete_=True, mode='whole', flip=True))
