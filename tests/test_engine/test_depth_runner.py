"""DepthRunner: strict loading for evaluation and resume, non-strict load_from for
fine-tuning, errors naming the checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.engine import DepthRunner, build_runner, runner_class
from mmdepth_dgr.utils import CheckpointMismatchError
from tests.conftest import REPO_ROOT, tiny_runner_cfg

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
TINY = {'model.backbone.num_layers': [1, 1, 1, 1], 'model.backbone.embed_dims': 16,
        'model.decode_head.in_channels': [16, 32, 80, 128]}


def _other_checkpoint(path):
    """Weights of the tiny quickstart model with a 16-channel head: another model."""
    cfg = Config.fromfile(QUICKSTART)
    cfg.merge_from_dict(dict(TINY, **{'model.decode_head.channels': 16}))
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta=dict(iter=0)),
               path)
    return str(path)


def _cfg(tmp_path, data_root, **overrides):
    cfg = tiny_runner_cfg(QUICKSTART, str(tmp_path / 'work'), data_root, max_iters=1,
                          **dict(TINY, **overrides))
    cfg.train_cfg.val_interval = 100
    return cfg


def test_build_runner_gives_a_depth_runner(tmp_path, synthetic_nyu_root):
    assert type(build_runner(_cfg(tmp_path, synthetic_nyu_root))) is DepthRunner


def test_runner_class_is_the_one_choice_of_build_runner_and_the_tools():
    from mmengine.runner import Runner
    assert runner_class(Config(dict())) is DepthRunner
    assert runner_class(Config(dict(runner_type='Runner'))) is Runner
    assert runner_class(Config(dict(runner_type=DepthRunner))) is DepthRunner
    with pytest.raises(KeyError, match="runner_type='NoSuchRunner'"):
        runner_class(Config(dict(runner_type='NoSuchRunner')))
    # tools/_launch.py has no second copy of the choice
    with open(osp.join(REPO_ROOT, 'tools', '_launch.py'), encoding='utf-8') as f:
        assert 'runner_class(cfg)' in f.read()


def test_load_from_another_model_is_an_error_when_testing(tmp_path, synthetic_nyu_root):
    ckpt = _other_checkpoint(tmp_path / 'other.pth')
    runner = DepthRunner.from_cfg(_cfg(tmp_path, synthetic_nyu_root, load_from=ckpt))
    with pytest.raises(CheckpointMismatchError, match='other.pth.*\n.*shape mismatches'):
        runner.test()


def test_load_from_another_model_loads_what_matches_and_trains(tmp_path,
                                                              synthetic_nyu_root):
    ckpt = _other_checkpoint(tmp_path / 'other.pth')
    saved = torch.load(ckpt, weights_only=True)['state_dict']
    # lr 0: the one training step leaves the weights as loaded
    runner = DepthRunner.from_cfg(_cfg(tmp_path, synthetic_nyu_root, load_from=ckpt,
                                       **{'optim_wrapper.optimizer.lr': 0.0}))
    runner.train()
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')
    trained = runner.model.state_dict()
    encoder = [k for k in saved if k.startswith('backbone.')]
    assert encoder and all(torch.equal(trained[k], saved[k]) for k in encoder)
