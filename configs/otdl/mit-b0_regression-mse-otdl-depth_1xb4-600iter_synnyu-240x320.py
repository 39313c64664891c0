# Eq. 17 with the depth-value reading of Eq. 13: L = L_MSE + 1.0 * W2^2(depth values).
_base_ = ['../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='MaskedMSELoss', loss_weight=1.0),
    dict(type='OTDLoss', mode='depth', depth_weights='mass', loss_weight=1.0)]))
