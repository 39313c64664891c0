# AdaBins on KITTI Eigen (KB crop, 352x704 training crops, bins over 1e-3..80 m).
_base_ = [
    '../_base_/models/adabins_efficientnet-b5.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
model = dict(decode_head=dict(max_depth=80.0))
