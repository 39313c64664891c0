# OTDL only, depth-value reading of Eq. 13 (exact 1-D W2^2 in m^2, weights P', Q').
_base_ = ['../quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='OTDLoss', mode='depth', depth_weights='mass', loss_weight=1.0)]))
