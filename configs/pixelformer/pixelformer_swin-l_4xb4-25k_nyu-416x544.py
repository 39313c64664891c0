# PixelFormer + Swin-L on NYU-Depth-V2: 416x544 random crops, 10 m cap, the DGR paper's recipe
# (AdamW 1e-4, poly to 1e-5, 25k iterations at 4 GPUs x 4 images = 400k samples, about
# 16.5 epochs of the 24,231-frame BTS train list; the host repo trains 20 epochs at
# batch 8, about 60k iterations), flip test.
_base_ = [
    '../_base_/models/pixelformer_swin-l.py',
    '../_base_/datasets/nyu.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_paper_25k.py',
]
