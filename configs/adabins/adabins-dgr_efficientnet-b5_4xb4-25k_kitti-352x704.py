# AdaBins + DGR, KITTI. NECK placement (DGRNeck on the five encoder outputs); the paper's
# in-encoder placement waits for DGRBackbone support of TIMMEncoder (see README.md).
_base_ = ['./adabins_efficientnet-b5_4xb4-25k_kitti-352x704.py']
model = dict(neck=dict(type='DGRNeck', in_channels=[24, 40, 64, 176, 2048]))
