# Table 2 trio, 1/3: the quickstart model trained with the masked MSE only.
_base_ = ['../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[dict(type='MaskedMSELoss', loss_weight=1.0)]))
