# What AdaBins' train.py does (shariqfarooq123/AdaBins@0952d91): AdamW with
# weight_decay 0.1 on every parameter (l.152; the encoder's lr/10 group of l.149 is
# overwritten by OneCycleLR's scalar max_lr, so both groups follow one schedule: one
# group here), torch OneCycleLR(max_lr 3.57e-4, div_factor 25, final_div_factor 100,
# pct_start 0.3 and cosine annealing by default, cycle_momentum with beta1 0.95 -> 0.85
# -> 0.95) stepped after every optimiser step (l.162-166, 206), gradient-norm clipping at
# 0.1 (l.199), total batch 16 (--bs 16 split over the GPUs, l.89) with SyncBN (l.94),
# validation on the test list without flip every --validate_every steps, keeping the
# latest and the best-abs_rel checkpoint (l.210-230). The length and the validation
# interval are set per dataset (schedule_adabins_25e-{nyu,kitti}.py).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3.57e-4, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.1),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    # OneCycleOptimLR peaks at the optimiser's lr (after auto_scale_lr).
    dict(type='OneCycleOptimLR', total_steps=1000, pct_start=0.3,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=100.0,
         begin=0, end=1000, by_epoch=False),
    dict(type='OneCycleMomentum', base_momentum=0.85, max_momentum=0.95,
         total_steps=1000, pct_start=0.3, anneal_strategy='cos', begin=0, end=1000,
         by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The official total batch is 16 (the leaves: 4 GPUs x 4 images, SyncBN); another
# total rescales the lr linearly (mmengine auto_scale_lr).
auto_scale_lr = dict(enable=True, base_batch_size=16)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=1, save_best='abs_rel', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
