# PixelFormer on KITTI Eigen, official
# configs/arguments_train_kittieigen.txt: --learning_rate 4e-5,
# --num_epochs 20, --batch_size 8, with train.py's optimiser and schedule
# (schedule_newcrfs-pixelformer.py). One epoch of the 23,158-line train list at total
# batch 8 is ceil(23,158 / 8) = 2,895 iterations (the DataLoader keeps the last partial
# batch): 20 x 2,895 = 57,900 iterations.
_base_ = ['./schedule_newcrfs-pixelformer.py']
optim_wrapper = dict(optimizer=dict(lr=4e-5))
param_scheduler = [
    dict(type='PolyRatioLR', eta_min_ratio=0.1, power=0.9, begin=0, end=57901,
         by_epoch=False)
]
train_cfg = dict(max_iters=57900)
