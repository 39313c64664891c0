"""Shared pytest setup: offline hub, seeded RNGs, the optional ../shared samples."""
import os
import os.path as osp
import random

# timm retries a hub download for ~50 s whenever anything asks for pretrained weights.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import mmdepth_dgr  # noqa: E402,F401  (registers everything)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLES = osp.join(osp.dirname(REPO_ROOT), 'shared', 'samples')

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


@pytest.fixture(autouse=True)
def _forget_visualizers():
    """Drop mmengine's global visualizer instances after each test.

    A Runner reuses the visualizer instance of the same name that an earlier in-process
    Runner created, including its save_dir; when that earlier run's temporary folder is
    gone (tools/analysis_tools/reproduce_claims.py cleans up after itself), the next
    Runner fails writing its config there. Tests must not depend on their order.
    """
    yield
    from mmengine.visualization import Visualizer
    for cls in (Visualizer, *_all_subclasses(Visualizer)):
        cls._instance_dict.clear()


@pytest.fixture
def samples_dir():
    """Path to ``../shared/samples``; skips the test when it is absent."""
    if not osp.isdir(SAMPLES):
        pytest.skip('../shared/samples is absent')
    return SAMPLES


@pytest.fixture
def repo_root():
    return REPO_ROOT


from mmengine.registry import init_default_scope  # noqa: E402

init_default_scope('mmseg')


TINY_HW = (64, 96)


@pytest.fixture(scope='session')
def synthetic_nyu_root(tmp_path_factory):
    """A tiny generated NYU-layout dataset (8 train / 2 test frames of 64x96).

    Layout: ``<root>/nyu_train.txt``, ``<root>/nyu_test.txt``, images and depth
    under ``<root>/train`` and ``<root>/test`` (see configs/_base_/datasets/synthetic_nyu.py).
    """
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('synthetic_nyu'))
    generate_dataset(root, kind='nyu', num_train=8, num_test=2, height=TINY_HW[0],
                     width=TINY_HW[1], seed=0, progress=False, num_workers=0)
    return root


def tiny_runner_cfg(config_path: str, work_dir: str, data_root: str,
                    max_iters: int = 2, **overrides):
    """Load ``config_path`` and shrink it to a few CPU iterations on ``data_root``.

    Sets batch size 2, no worker processes, ``max_iters`` iterations with one
    validation at the end, no checkpoint/visualisation side effects, no pretrained
    weights, and applies ``overrides`` with ``Config.merge_from_dict`` (dotted keys).

    Returns:
        mmengine.Config: ready for ``Runner.from_cfg``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config_path)
    cfg.work_dir = work_dir
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[key]
        dl.dataset.data_root = data_root
        dl.num_workers = 0
        dl.persistent_workers = False
        if key == 'train_dataloader':
            dl.batch_size = 2
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.log_level = 'WARNING'
    backbone = cfg.model.backbone
    backbone.pop('init_cfg', None)
    if 'backbone' in backbone:
        backbone.backbone.pop('init_cfg', None)
    cfg.model.pop('pretrained', None)
    if overrides:
        cfg.merge_from_dict(overrides)
    return cfg


@pytest.fixture
def tiny_cfg():
    """The :func:`tiny_runner_cfg` helper, as a fixture."""
    return tiny_runner_cfg
