# AdaBins on NYU-Depth-V2 with the DGR paper's Sec. 4 training settings as this project
# reads them (schedule_paper_25k.py: AdamW lr 1e-4, eps 1e-6, weight decay 0.01 encoder
# / 0 decoder, poly to 1e-5, 25k iterations at 4x4; 416x544 crops). Not
# the host's recipe, which is adabins_efficientnet-b5_4xb4-25e_*.py; the README lists
# the differences.
_base_ = [
    '../_base_/models/adabins_efficientnet-b5.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
