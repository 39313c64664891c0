# DPT-Hybrid (official network, NYU inverse-depth constants) on NYU-Depth-V2, 416x544
# crops, the DGR paper's 25k-iteration recipe; starts from the converted official
# DPT-Hybrid MiDaS checkpoint (configs/dpt/README.md).
_base_ = [
    '../_base_/models/dpt_r50-vit-b16.py', '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_paper_25k.py'
]
load_from = 'pretrain/dpt_hybrid-midas-501f0c75_mmdepth.pth'
