# transdepth on KITTI Eigen (KB crop, 352x704 training crops, 80 m cap), 25k iterations.
_base_ = [
    '../_base_/models/transdepth_vit-b16.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
model = dict(backbone=dict(img_size=(352, 704)), decode_head=dict(max_depth=80.0))
