# PixelFormer (Agarwal & Arora, WACV 2023) as its official training script builds it
# (ashutosh1807/PixelFormer pixelformer/train.py, --encoder large07): the NeWCRFs base's
# Swin-L w7 encoder (Microsoft 22k weights, converted on load; drop_path 0.3) + PQI
# (pyramid pooling) + skip-attention modules + bin-centre predictor (256 bins over
# [min_depth, max_depth]) + SILog (0.85, x10); flip test with post_process_depth.
# NYU defaults.
_base_ = ['./newcrfs_swin-l-w7.py']
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
