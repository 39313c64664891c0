# Sparse-pixel probe (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1, Eq. 4; Hu et al., ICCV 2019):
# train a mask network G against a frozen depth network N. Quickstart scale (generated
# NYU-layout scenes, CPU). N comes from the command line:
#   python tools/train.py configs/probe/sparse-mask-probe_masknet_1xb4-100iter_synnyu-240x320.py \
#       --cfg-options model.depth_net.config=N_CONFIG model.depth_net.checkpoint=N_CKPT
# or, for the whole CNN-vs-Transformer study, tools/analysis_tools/sparse_pixel_probe.py
# (which also replaces the dataloader by the depth networks' own).
_base_ = ['../_base_/datasets/synthetic_nyu.py', '../_base_/default_runtime.py']

model = dict(
    type='SparseMaskProbe',
    # N: the quickstart Transformer of the pair by default; the checkpoint must be set.
    depth_net=dict(
        config='{{ fileDirname }}/../cnn_vs_transformer/'
        'hu-pair_mit-b0_1xb4-600iter_synnyu-240x320.py',
        checkpoint=None),
    # data_preprocessor: None -> N's own (same normalisation, padding and size_divisor).
    mask_net=dict(type='MaskNet', widths=(16, 32, 64), init_bias=2.0),
    lam=5.0,  # Eq. 4 sparsity weight (not tuned; 1.0 kept G dense on the quickstart pair)
    mask_space='pixel',  # removed pixels are black; 'normalized' = mean colour
    dif_loss=dict(type='HuDepthLoss'),  # L_dif = Hu et al.'s Eq. 18, N(I) as the target
    binarize_threshold=0.5)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-2, betas=(0.9, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=100, val_interval=1000000)
# G is evaluated by tools/analysis_tools/sparse_pixel_probe.py, not by a ValLoop.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
