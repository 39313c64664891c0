# PixelFormer on NYU-Depth-V2, official
# configs/arguments_train_nyu.txt: --learning_rate 4e-5,
# --num_epochs 20, --batch_size 8, with train.py's optimiser and schedule
# (schedule_newcrfs-pixelformer.py). One epoch of the 36,253-line train list at total
# batch 8 is ceil(36,253 / 8) = 4,532 iterations (the DataLoader keeps the last partial
# batch): 20 x 4,532 = 90,640 iterations.
_base_ = ['./schedule_newcrfs-pixelformer.py']
optim_wrapper = dict(optimizer=dict(lr=4e-5))
param_scheduler = [
    dict(type='PolyRatioLR', eta_min_ratio=0.1, power=0.9, begin=0, end=90641,
         by_epoch=False)
]
train_cfg = dict(max_iters=90640)
