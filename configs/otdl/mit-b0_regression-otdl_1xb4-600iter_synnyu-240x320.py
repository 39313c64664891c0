# Table 2 trio, 2/3: OTDL only (spatial reading, Sinkhorn divergence, eps=0.05, masses
# pooled 4x4). Spatial OTDL normalises the maps (Eq. 11-12) and is therefore blind to a global
# depth scale: alone it learns the layout, not metric depth (see README.md).
_base_ = ['../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='OTDLoss', mode='spatial', reg=0.05, downsample=4, loss_weight=100.0)]))
