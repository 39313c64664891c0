# AdaBins on KITTI Eigen: args_train_kitti_eigen.txt of the official repository
# (--epochs 25, --bs 16; no --validate_every, so train.py's default 100) with train.py's
# optimiser and schedule (schedule_adabins.py). One epoch of the 23,158-line train list
# at total batch 16 is ceil(23,158 / 16) = 1,448 iterations (DistributedSampler pads,
# the DataLoader keeps the last partial batch): 25 x 1,448 = 36,200 iterations.
_base_ = ['./schedule_adabins.py']
param_scheduler = [
    dict(type='OneCycleOptimLR', total_steps=36200, pct_start=0.3,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=100.0,
         begin=0, end=36200, by_epoch=False),
    dict(type='OneCycleMomentum', base_momentum=0.85, max_momentum=0.95,
         total_steps=36200, pct_start=0.3, anneal_strategy='cos', begin=0,
         end=36200, by_epoch=False),
]
train_cfg = dict(max_iters=36200, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=100))
