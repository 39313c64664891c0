# Claims benchmark: per-block DGR inside the encoder, trained with the masked MSE only (the
# DGR ablation of Table 2's MSE row; pairs with configs/otdl/mit-b0_regression-mse_*).
_base_ = ['../dgr/mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[dict(type='MaskedMSELoss', loss_weight=1.0)]))
