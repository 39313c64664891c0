# PixelFormer + Swin-L on KITTI Eigen: KB crop 352x1216, 352x704 random training crops, 80 m
# cap, the DGR paper's recipe (25k iterations at 4x4, about 17 epochs of the 23,158-frame
# Eigen train list), flip test.
_base_ = [
    '../_base_/models/pixelformer_swin-l.py',
    '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_paper_25k.py',
]
model = dict(decode_head=dict(max_depth=80.0))
