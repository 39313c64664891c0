# swindepth on NYU-Depth-V2 (416x544 crops), the paper's 25k-iteration recipe.
_base_ = [
    '../_base_/models/swindepth_swin-b.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
