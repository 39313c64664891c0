# PixelFormer on NYU-Depth-V2, the official training recipe (ashutosh1807/PixelFormer:
# configs/arguments_train_nyu.txt, pixelformer/train.py, dataloaders/dataloader.py):
# Swin-L w7 22k encoder, Adam lr 4e-5 poly to 4e-6, 20 epochs at total batch 8 (90,640
# iterations), full 480x640 frames with CutDepth as their loader applies it, loss on
# GT > 0.1 m, flip post-processing, test-list eval every 1,000 iterations keeping the
# best checkpoint per metric. configs/pixelformer/README.md compares every value.
_base_ = [
    '../_base_/models/pixelformer_swin-l-w7.py', '../_base_/datasets/nyu_480x640.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_pixelformer_20e-nyu.py'
]
model = dict(decode_head=dict(max_depth=10.0, gt_valid_min=0.1))
train_pipeline = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='NYUBorderCrop', mode='mask'),
    dict(type='RandomRotateDepth', degree=2.5, prob=1.0),
    # dataloader.py pastes a depth patch into every NYU sample; its swapped row/column
    # indices leave the patch empty for 25 % of 480x640 samples. index_order='paper'
    # is the CutDepth paper's geometry.
    dict(type='CutDepth', prob=1.0, size_ratio=0.75, index_order='pixelformer'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomGammaBrightnessColor', prob=0.5,
         brightness_range=(0.75, 1.25)),
    dict(type='PackDepthInputs'),
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
