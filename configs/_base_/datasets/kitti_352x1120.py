# KITTI Eigen as the NeWCRFs / PixelFormer training loaders read it
# (dataloaders/dataloader.py with --do_kb_crop --input_height 352 --input_width 1120):
# KB crop to 352x1216, rotation U(-1, 1) deg on every sample, random 352x1120 crop,
# horizontal flip p 0.5, gamma/brightness/colour p 0.5 (brightness 0.9..1.1). The
# 23,158-line Eigen train list (= their eigen_train_files_with_gt.txt). Test as kitti.py.
_base_ = ['./kitti.py']
crop_size = (352, 1120)
train_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='KBCrop'),
    dict(type='RandomRotateDepth', degree=1.0, prob=1.0),
    dict(type='RandomCropDepth', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGammaBrightnessColor', prob=0.5,
         brightness_range=(0.9, 1.1)),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
