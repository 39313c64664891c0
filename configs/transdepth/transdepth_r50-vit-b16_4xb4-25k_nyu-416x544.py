# TransDepth (official network) on NYU-Depth-V2, 416x544 crops (as the official arguments),
# the DGR paper's 25k-iteration recipe.
_base_ = [
    '../_base_/models/transdepth_r50-vit-b16.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
