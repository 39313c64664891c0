# PixelFormer (Agarwal & Arora, WACV 2023): mmseg's Swin-L encoder (ImageNet-22k,
# 384x384, window 12) + PQI (pyramid pooling) + skip-attention modules + bin-centre
# predictor (256 bins over [min_depth, max_depth]) + SILog (0.85, x10). NYU defaults.
# The host repo itself uses Swin-L window 7 / 224 ("large07"): see the -w7 leaves.
_base_ = ['./newcrfs_swin-l.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='PixelFormerHead',
        in_channels=[192, 384, 768, 1536],
        in_index=[0, 1, 2, 3],
        channels=512,
        sam_dims=(128, 256, 512, 1024),
        sam_num_heads=(4, 8, 16, 32),
        sam_window_size=7,
        num_bins=256,
        bcp_hidden_channels=2048,
        pool_scales=(1, 2, 3, 6),
        norm_cfg=dict(type='BN', requires_grad=True),
        ppm_norm_cfg=dict(type='GN', num_groups=256, requires_grad=True),
        # The host's bin-centre predictor spans [0.1, max_depth] (its default).
        min_depth=0.1,
        max_depth=10.0,
        loss_decode=[
            dict(type='SILogDepthLoss', variance_focus=0.85, scale=10.0, form='bts')
        ]))
