# CNN side of the pair (Sec. 3.1): ResNet-50 (mmseg ResNetV1c) + Hu et al.'s decoder, KITTI.
_base_ = [
    '../_base_/models/hu-pair_decoder.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
# ---- the only lines that differ between the two encoders of the pair ----
model = dict(
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    decode_head=dict(in_channels=[256, 512, 1024, 2048], max_depth=80.0))
