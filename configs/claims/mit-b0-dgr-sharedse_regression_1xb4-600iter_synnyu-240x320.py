# Claims benchmark: per-block DGR whose blocks share one channel attention (SE, Eq. 8)
# per stage (DGRBackbone share_se='stage').
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(backbone=dict(share_se='stage'))
