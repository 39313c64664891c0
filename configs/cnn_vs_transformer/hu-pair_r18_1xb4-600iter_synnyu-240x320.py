# Quickstart CNN side of the pair: ResNet-18 (random init) + narrow Hu decoder, generated
# NYU-layout scenes, 600 iterations on CPU (what the sparse-pixel study trains and probes).
_base_ = [
    '../_base_/models/hu-pair_decoder-narrow.py', '../_base_/datasets/synthetic_nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_600iter.py'
]
# ---- the only lines that differ between the two encoders of the pair ----
model = dict(
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 256, 512]))
