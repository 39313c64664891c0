"""A few Runner iterations of configs/otdl/ (Eq. 17: MSE + lambda * OTDL) on generated data,
and what a non-finite prediction does to an OTDL training run."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
OTDL_CONFIGS = osp.join(REPO, 'configs', 'otdl')
MSE_OTDL = osp.join(OTDL_CONFIGS, 'mit-b0_regression-mse-otdl_1xb4-600iter_synnyu-240x320.py')
OTDL_ONLY = {  # Table 2's OTDL-only configs, one per reading
    'spatial': osp.join(OTDL_CONFIGS, 'mit-b0_regression-otdl_1xb4-600iter_synnyu-240x320.py'),
    'depth': osp.join(OTDL_CONFIGS,
                      'mit-b0_regression-otdl-depth_1xb4-600iter_synnyu-240x320.py')}
NONFINITE = {'nan': float('nan'), '+inf': float('inf'), '-inf': float('-inf')}


@pytest.fixture(scope='module')
def tiny_nyu_root(tmp_path_factory):
    """A tiny generated NYU-layout dataset (4 train / 1 test frames of 64x96)."""
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('syn_nyu_otdl'))
    generate_dataset(root, kind='nyu', num_train=4, num_test=1, height=64, width=96,
                     progress=False, num_workers=1)
    return root


def _runner_cfg(work_dir, data_root, config=MSE_OTDL):
    cfg = Config.fromfile(config)
    syn = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/synthetic_nyu.py'))
    for split in ('train', 'val', 'test'):
        loader = copy.deepcopy(syn[f'{split}_dataloader'])
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        if split == 'train':
            loader.batch_size = 2
        cfg[f'{split}_dataloader'] = loader
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3)
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False,
                                begin=0, end=3)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=1000)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.work_dir = work_dir
    return cfg


def test_mse_plus_otdl_config_trains_a_few_iterations(tiny_nyu_root, tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_runner_cfg(str(tmp_path), tiny_nyu_root))
    names = [loss.loss_name for loss in runner.model.decode_head.loss_decode]
    assert names == ['loss_mse', 'loss_otdl']
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    for key in ('train/decode.loss_mse', 'train/decode.loss_otdl'):
        values = runner.message_hub.get_scalar(key).data[0]
        assert len(values) == 3 and torch.isfinite(torch.as_tensor(values)).all(), key
    otdl = runner.message_hub.get_scalar('train/decode.loss_otdl').data[0]
    assert any(v > 0 for v in otdl)
    after = runner.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if k.startswith('decode_head.'))


def _otdl_only_runner(mode, work_dir, data_root, iters):
    """A Runner of the OTDL-only config without validation (the prediction is broken)."""
    from mmengine.runner import Runner
    cfg = _runner_cfg(work_dir, data_root, OTDL_ONLY[mode])
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.param_scheduler = []
    return Runner.from_cfg(cfg)


def _break_prediction(head, images, value):
    """Make the head predict ``value`` everywhere on the batch entries ``images``."""
    forward = head.forward

    def broken(inputs):
        depth = forward(inputs)
        bad = torch.zeros(depth.shape[0], 1, 1, 1, dtype=torch.bool, device=depth.device)
        bad[list(images)] = True
        return torch.where(bad, torch.full_like(depth, value), depth)

    head.forward = broken


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
def test_training_goes_on_when_one_image_of_the_batch_predicts_nan(mode, tiny_nyu_root,
                                                                     tmp_path):
    runner = _otdl_only_runner(mode, str(tmp_path), tiny_nyu_root, iters=2)
    _break_prediction(runner.model.decode_head, [1], float('nan'))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()   # NonFiniteLossHook (default_runtime) would raise on a NaN loss/weight
    values = runner.message_hub.get_scalar('train/decode.loss_otdl').data[0]
    assert len(values) == 2 and all(v > 0 for v in values), values
    after = runner.model.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in before
               if k.startswith('decode_head.'))


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
@pytest.mark.parametrize('value', list(NONFINITE))
def test_nonfinite_loss_hook_stops_a_run_whose_every_image_is_nonfinite(mode, value,
                                                                        tiny_nyu_root,
                                                                        tmp_path):
    runner = _otdl_only_runner(mode, str(tmp_path), tiny_nyu_root, iters=1)
    assert 'NonFiniteLossHook' in [type(h).__name__ for h in runner.hooks]
    _break_prediction(runner.model.decode_head, [0, 1], NONFINITE[value])
    with pytest.raises(FloatingPointError, match='iteration 1 .*decode.loss_otdl=nan'):
        runner.train()
