# AdaBins on NYU-Depth-V2, the official training recipe (shariqfarooq123/AdaBins:
# args_train_nyu.txt, train.py, dataloader.py): EfficientNet-B5 AdvProp encoder,
# AdamW wd 0.1, one-cycle lr (peak 3.57e-4) and beta1, gradient clipping 0.1, SyncBN,
# 25 epochs at total batch 16 (37,875 iterations), 416x544 crops, bins over
# 1e-3..10 m, loss on GT > 1e-3 m, test-list eval without flip every 500 iterations
# keeping the best abs_rel. configs/adabins/README.md compares every value.
_base_ = [
    '../_base_/models/adabins_efficientnet-b5.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adabins_25e-nyu.py'
]
model = dict(
    backbone=dict(sync_bn=True),
    decode_head=dict(norm_cfg=dict(type='SyncBN', requires_grad=True),
                     gt_valid_min=1e-3),
    # train.py's validation runs without flip; evaluate.py (the published numbers)
    # averages a flipped pass: tools/test.py --flip.
    test_cfg=dict(mode='whole', flip=False))
train_dataloader = dict(batch_size=4)
