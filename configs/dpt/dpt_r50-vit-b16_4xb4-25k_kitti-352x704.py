# DPT-Hybrid (official network, KITTI inverse-depth constants) on KITTI Eigen (KB crop,
# 352x704 training crops, 80 m cap), 25k iterations. Evaluated as DPT's published number:
# BTS eval_with_pngs.py --garg_crop --do_kb_crop, i.e. the Garg crop on the full-size frame.
_base_ = [
    '../_base_/models/dpt_r50-vit-b16.py', '../_base_/datasets/kitti.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
model = dict(
    decode_head=dict(inverse_scale=0.00006016, inverse_shift=0.00579, max_depth=80.0))
val_evaluator = dict(crop_convention='full_size')
test_evaluator = val_evaluator
load_from = 'pretrain/dpt_hybrid-midas-501f0c75_mmdepth.pth'
