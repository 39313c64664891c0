# NYU-Depth-V2 as the NeWCRFs / PixelFormer training loaders read it
# (dataloaders/dataloader.py with --input_height 480 --input_width 640): the full
# 480x640 frame (no random crop), GT zeroed outside rows 45:472, cols 43:608 (the
# image is kept), rotation U(-2.5, 2.5) deg on every sample, horizontal flip p 0.5,
# gamma/brightness/colour p 0.5 (brightness 0.75..1.25). Train list: their dense
# 36,253-line nyudepthv2_train_files_with_gt_dense.txt (rgb depth dense_depth; the
# third column is never read, focal = 518.8579). Test as nyu.py (654 frames, Eigen crop).
_base_ = ['./nyu.py']
crop_size = (480, 640)
train_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='NYUBorderCrop', mode='mask'),
    dict(type='RandomRotateDepth', degree=2.5, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGammaBrightnessColor', prob=0.5,
         brightness_range=(0.75, 1.25)),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(
    dataset=dict(
        split_file='nyudepthv2_train_files_with_gt_dense.txt',
        pipeline=train_pipeline))
