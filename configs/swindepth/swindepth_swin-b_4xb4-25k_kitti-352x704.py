# swindepth on KITTI Eigen (KB crop, 352x704 training crops, 80 m cap), 25k iterations.
_base_ = [
    '../_base_/models/swindepth_swin-b.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
model = dict(decode_head=dict(max_depth=80.0))
