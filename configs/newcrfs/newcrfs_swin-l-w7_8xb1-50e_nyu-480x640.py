# NeWCRFs on NYU-Depth-V2, the official training recipe (aliyun/NeWCRFs:
# configs/arguments_train_nyu.txt, newcrfs/train.py, dataloaders/dataloader.py):
# Swin-L w7 22k encoder, Adam lr 2e-5 poly to 2e-6, 50 epochs at total batch 8
# (226,600 iterations), full 480x640 frames (no CutDepth), loss on GT > 0.1 m, depth
# = sigmoid * 10 m, flip post-processing, test-list eval every 1,000 iterations keeping
# the best checkpoint per metric. configs/newcrfs/README.md compares every value.
_base_ = [
    '../_base_/models/newcrfs_swin-l-w7.py', '../_base_/datasets/nyu_480x640.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_newcrfs_50e-nyu.py'
]
model = dict(decode_head=dict(max_depth=10.0, gt_valid_min=0.1))
train_dataloader = dict(batch_size=1)
