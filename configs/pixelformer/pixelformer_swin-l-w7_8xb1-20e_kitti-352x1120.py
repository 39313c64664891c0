# PixelFormer on KITTI Eigen, the official training recipe (ashutosh1807/PixelFormer:
# configs/arguments_train_kittieigen.txt, pixelformer/train.py,
# dataloaders/dataloader.py): Swin-L w7 22k encoder, Adam lr 4e-5 poly to 4e-6,
# 20 epochs at total batch 8 (57,900 iterations), KB crop then random 352x1120 crops,
# loss on GT > 1 m, bins up to 80 m, flip post-processing, test-list eval (Garg crop)
# every 1,000 iterations keeping the best checkpoint per metric.
_base_ = [
    '../_base_/models/pixelformer_swin-l-w7.py', '../_base_/datasets/kitti_352x1120.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_pixelformer_20e-kitti.py'
]
model = dict(decode_head=dict(max_depth=80.0, gt_valid_min=1.0))
train_dataloader = dict(batch_size=1)
