# Procedurally generated indoor scenes in the NYU/BTS layout (240x320), written by
# `python tools/dataset_converters/generate_synthetic.py --kind nyu --out data/synthetic_nyu`
# or by tools/quickstart.py (which also regenerates a folder written by another generator
# version). tools/train.py and tools/test.py do not generate data: with the folder
# missing they stop with an error naming the split file.
dataset_type = 'NYUDepthDataset'
data_root = 'data/synthetic_nyu'

train_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGammaBrightnessColor', prob=0.5),
    dict(type='PackDepthInputs'),
]
test_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='nyu_train.txt',
        data_prefix=dict(img_path='train', depth_map_path='train'),
        depth_scale=1000.0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_file='nyu_test.txt',
        data_prefix=dict(img_path='test', depth_map_path='test'),
        depth_scale=1000.0,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Generated frames have no white border: no Eigen crop; NYU caps.
val_evaluator = dict(
    type='DepthEvalMetric', crop='none', min_depth=1e-3, max_depth=10.0)
test_evaluator = val_evaluator
