# Table 2 trio, 3/3: Eq. 17, L = L_MSE + lambda * L_OTDL (spatial reading), lambda = 100.
_base_ = ['../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='MaskedMSELoss', loss_weight=1.0),
    dict(type='OTDLoss', mode='spatial', reg=0.05, downsample=4, loss_weight=100.0)]))
