# Claims benchmark: per-stage DGR + Eq. 17, L = L_MSE + 100 * L_OTDL (spatial reading;
# the placement of the earlier '+DGR, MSE+OTDL' runs).
_base_ = ['./mit-b0-dgr-stage_regression_1xb4-600iter_synnyu-240x320.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='MaskedMSELoss', loss_weight=1.0),
    dict(type='OTDLoss', mode='spatial', reg=0.05, downsample=4, loss_weight=100.0)]))
