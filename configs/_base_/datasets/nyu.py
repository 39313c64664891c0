# NYU-Depth-V2 in the BTS "sync" layout with the standard split lists:
#   data/nyu/sync/<scene>/rgb_XXXXX.jpg, sync_depth_XXXXX.png      (train, 24k frames)
#   data/nyu/official_splits/test/<scene>/rgb_XXXXX.jpg, sync_depth_XXXXX.png (654 test)
#   data/nyu/nyu_train.txt, data/nyu/nyu_test.txt                   (BTS lists)
# Training crops 416x544 (the paper's NYU setting); evaluation on the full 480x640 frame
# with the Eigen crop and 1e-3..10 m caps.
dataset_type = 'NYUDepthDataset'
data_root = 'data/nyu'
crop_size = (416, 544)

train_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='NYUBorderCrop'),
    dict(type='RandomRotateDepth', degree=2.5, prob=1.0),
    dict(type='RandomCropDepth', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGammaBrightnessColor', prob=0.5,
         brightness_range=(0.75, 1.25)),
    dict(type='PackDepthInputs'),
]
test_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='nyu_train.txt',
        data_prefix=dict(img_path='sync', depth_map_path='sync'),
        depth_scale=1000.0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='nyu_test.txt',
        data_prefix=dict(img_path='official_splits/test',
                         depth_map_path='official_splits/test'),
        depth_scale=1000.0,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='DepthEvalMetric', crop='nyu_eigen', min_depth=1e-3, max_depth=10.0)
test_evaluator = val_evaluator
