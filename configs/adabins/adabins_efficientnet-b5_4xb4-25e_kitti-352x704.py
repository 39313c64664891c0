# AdaBins on KITTI Eigen, the official training recipe (shariqfarooq123/AdaBins:
# args_train_kitti_eigen.txt, train.py, dataloader.py): EfficientNet-B5 AdvProp
# encoder, AdamW wd 0.1, one-cycle lr (peak 3.57e-4) and beta1, gradient clipping 0.1,
# SyncBN, 25 epochs at total batch 16 (36,200 iterations), KB crop then random 352x704
# crops, bins over 1e-3..80 m, loss on GT > 1e-3 m, test-list eval (Garg crop) without
# flip every 100 iterations keeping the best abs_rel.
_base_ = [
    '../_base_/models/adabins_efficientnet-b5.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adabins_25e-kitti.py'
]
model = dict(
    backbone=dict(sync_bn=True),
    decode_head=dict(norm_cfg=dict(type='SyncBN', requires_grad=True),
                     max_depth=80.0, gt_valid_min=1e-3),
    test_cfg=dict(mode='whole', flip=False))
train_dataloader = dict(batch_size=4)
