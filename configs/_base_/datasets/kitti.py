# KITTI Eigen split (BTS layout): raw RGB under data/kitti/raw/<date>/<drive>/image_02/data/,
# annotated GT under data/kitti/gt_depth/<drive>/proj_depth/groundtruth/image_02/,
# lists data/kitti/kitti_eigen_train.txt and kitti_eigen_test.txt (697 lines, 652 with GT).
# KB crop to 352x1216 everywhere, random 352x704 training crops, Garg crop + 80 m cap.
dataset_type = 'KITTIDepthDataset'
data_root = 'data/kitti'
crop_size = (352, 704)

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
test_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='KBCrop'),
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
        split_file='kitti_eigen_train.txt',
        data_prefix=dict(img_path='raw', depth_map_path='gt_depth'),
        depth_scale=256.0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='kitti_eigen_test.txt',
        data_prefix=dict(img_path='raw', depth_map_path='gt_depth'),
        depth_scale=256.0,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='DepthEvalMetric', crop='garg', min_depth=1e-3, max_depth=80.0,
    # KITTI GT is sparse LiDAR: depth-edge and continuity metrics need dense GT.
    edge_metrics=False)
test_evaluator = val_evaluator
