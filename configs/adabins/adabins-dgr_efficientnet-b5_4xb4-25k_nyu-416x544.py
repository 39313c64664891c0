# AdaBins + DGR, NYU. NECK placement: one DGR block on each of the five encoder outputs
# before the decoder (DGRNeck). The paper places DGR inside the encoder, after every stage
# (DGRBackbone), which does not support TIMMEncoder yet; see configs/adabins/README.md.
_base_ = ['./adabins_efficientnet-b5_4xb4-25k_nyu-416x544.py']
model = dict(neck=dict(type='DGRNeck', in_channels=[24, 40, 64, 176, 2048]))
