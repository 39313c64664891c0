# DPT-Large (Ranftl, Bochkovskiy, Koltun, ICCV 2021) as the official code defines it
# (isl-org/DPT: DPTDepthModel(backbone='vitl16_384', non_negative=True)): timm's
# ViT-L/16 at 384 (here mmseg's VisionTransformer, same weights after conversion), hooks
# after layers 6, 12, 18, 24 (out_indices 5, 11, 17, 23), 'project' readout, reassemble
# widths 256, 512, 1024, 1024 at strides 4, 8, 16, 32, 256-wide fusion. The official
# repository publishes DPT-Large only as the MiDaS relative-depth model; no metric NYU/KITTI
# DPT-Large exists, so the inverse-depth output uses the DPT-Hybrid constants of each
# dataset (NYU here; the KITTI leaves set KITTI's).
# Initial weights: dpt_large-midas-2f21e586.pt converted with
# tools/model_converters/dpt2mmdepth.py to the leaves' load_from path.
_base_ = ['./dpt_r50-vit-b16.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        img_size=(384, 384),
        patch_size=16,
        in_channels=3,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        mlp_ratio=4,
        out_indices=(5, 11, 17, 23),
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
    decode_head=dict(
        in_channels=[1024, 1024, 1024, 1024],
        post_process_channels=[256, 512, 1024, 1024],
        reassemble_scales=[4, 2, 1, 0.5]))
