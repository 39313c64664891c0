# Quickstart Transformer side of the pair: MiT-B0 (random init)
# + narrow Hu decoder, generated NYU-layout scenes, 600 iterations on CPU.
_base_ = [
    '../_base_/models/hu-pair_decoder-narrow.py', '../_base_/datasets/synthetic_nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_600iter.py'
]
# ---- the only lines that differ between the two encoders of the pair ----
model = dict(
    backbone=dict(
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels=[32, 64, 160, 256]))
