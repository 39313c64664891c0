# PixelFormer with the host repo's own encoder: Swin-L window 7, ImageNet-22k 224x224
# ("large07"). The official pixelformer checkpoints, converted with
# tools/model_converters/pixelformer2mmdepth.py, load into this config.
_base_ = './pixelformer_swin-l_4xb4-25k_nyu-416x544.py'
checkpoint_file = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth'  # noqa
model = dict(
    backbone=dict(
        pretrain_img_size=224,
        window_size=7,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
