# DPT-Large (official network; DPT-Hybrid's NYU inverse-depth constants) on NYU-Depth-V2,
# 416x544 crops, the DGR paper's 25k-iteration recipe; starts from the converted official
# DPT-Large MiDaS checkpoint (configs/dpt/README.md).
_base_ = [
    '../_base_/models/dpt_vit-l16.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
load_from = 'pretrain/dpt_large-midas-2f21e586_mmdepth.pth'
