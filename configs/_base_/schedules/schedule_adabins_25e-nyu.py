# AdaBins on NYU-Depth-V2: args_train_nyu.txt of the official repository (--epochs 25,
# --bs 16, --validate_every 500) with train.py's optimiser and schedule
# (schedule_adabins.py). One epoch of the 24,231-line train list at total batch 16 is
# ceil(24,231 / 16) = 1,515 iterations (DistributedSampler pads, the DataLoader keeps
# the last partial batch): 25 x 1,515 = 37,875 iterations.
_base_ = ['./schedule_adabins.py']
param_scheduler = [
    dict(type='OneCycleOptimLR', total_steps=37875, pct_start=0.3,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=100.0,
         begin=0, end=37875, by_epoch=False),
    dict(type='OneCycleMomentum', base_momentum=0.85, max_momentum=0.95,
         total_steps=37875, pct_start=0.3, anneal_strategy='cos', begin=0,
         end=37875, by_epoch=False),
]
train_cfg = dict(max_iters=37875, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=500))
