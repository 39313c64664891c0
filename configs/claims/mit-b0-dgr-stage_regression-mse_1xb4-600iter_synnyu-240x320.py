# Claims benchmark: per-stage DGR trained with the masked MSE only (pairs with
# configs/otdl/mit-b0_regression-mse_*; the placement of the earlier '+DGR, MSE' runs).
_base_ = ['./mit-b0-dgr-stage_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[dict(type='MaskedMSELoss', loss_weight=1.0)]))
