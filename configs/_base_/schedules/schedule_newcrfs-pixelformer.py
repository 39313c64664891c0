# What NeWCRFs' and PixelFormer's train.py do (identical in both; line numbers of
# pixelformer/train.py at ashutosh1807/PixelFormer@bb0ae9f, newcrfs/train.py is the same
# code): torch.optim.Adam(params, lr) with no other argument (l.217: betas (0.9, 0.999),
# eps 1e-8, weight decay 0 -- --weight_decay and --adam_eps are parsed, never passed);
# lr = (lr0 - end) * (1 - step / total) ** 0.9 + end with end = 0.1 * lr0 (l.264, 297),
# set before every step, no warm-up; total batch 8 (--batch_size 8 split over the GPUs
# of the node, l.197; BN not synchronised); online eval on the test list every 1,000 steps
# with flip post-processing, keeping the best checkpoint of each of the 9 metrics
# (l.334-363). The lr and the length are set per recipe
# (schedule_{pixelformer,newcrfs}_*.py): lr0 and end = max_iters + 1 (mmengine's PolyLR
# reaches its floor at step end - 1; the hosts' formula would at step `total`).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.0),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyRatioLR', eta_min_ratio=0.1, power=0.9, begin=0, end=1001,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The official total batch is 8 (the leaves: 8 GPUs x 1 image); another total
# (GPUs x train_dataloader.batch_size) rescales the lr linearly (mmengine auto_scale_lr).
auto_scale_lr = dict(enable=True, base_batch_size=8)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Best checkpoint per metric (the hosts' model-{step}-best_{metric} files); the
    # periodic one is only for --resume (the hosts save none).
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=1,
        save_best=['silog', 'abs_rel', 'log10', 'rmse', 'sq_rel', 'rmse_log', 'd1',
                   'd2', 'd3'],
        rule=['less', 'less', 'less', 'less', 'less', 'less', 'greater', 'greater',
              'greater']),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
