# Sparse-pixel probe at the study's scale (NYU-Depth-V2, 416x544 training crops) for the
# hu-pair_{r50,mit-b2}_4xb4-25k_nyu-416x544 networks (Sec. 3.1, Eq. 4). Not run in this
# repository: the schedule (2k iterations, batch 8, Adam 1e-3) and G's widths are our
# choice, the study gives neither. Same model settings as the quickstart probe config.
_base_ = ['../_base_/datasets/nyu.py', '../_base_/default_runtime.py']

model = dict(
    type='SparseMaskProbe',
    depth_net=dict(
        config='{{ fileDirname }}/../cnn_vs_transformer/hu-pair_mit-b2_4xb4-25k_nyu-416x544.py',
        checkpoint=None),
    mask_net=dict(type='MaskNet', widths=(32, 64, 128), init_bias=2.0),
    lam=5.0,
    mask_space='pixel',
    dif_loss=dict(type='HuDepthLoss'),
    binarize_threshold=0.5)
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=1000000)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
