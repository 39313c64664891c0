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
