# TransDepth (official network) on KITTI Eigen (KB crop, 352x704 training crops, 80 m cap),
# 25k iterations. Loss on GT > 1 m and the Garg crop on the full-size frame, as the official
# bts_main.py (its online evaluation puts the KB-cropped prediction back into the frame).
_base_ = [
    '../_base_/models/transdepth_r50-vit-b16.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
model = dict(decode_head=dict(max_depth=80.0, gt_valid_min=1.0))
val_evaluator = dict(crop_convention='full_size')
test_evaluator = val_evaluator
