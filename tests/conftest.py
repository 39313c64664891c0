"""Shared pytest setup: offline hub, seeded RNGs, the real samples in ../shared/samples.

The real NYU/KITTI sample files live beside the checkout (``../shared/samples``, never in
the repository). Locally, tests that need them skip when the folder is absent. With
``CI=true`` (``.ci/run`` exports it) a missing folder fails the whole run at start-up with
a message naming the folder, so CI cannot pass without them. Whenever the folder is
there, its ``SHA256SUMS`` is verified once per session; a mismatch fails every test that
uses the samples (and, under CI, the run), naming the files.
"""
import functools
import hashlib
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


def in_ci() -> bool:
    """Whether the run is CI (``CI`` set to true/1/yes, as CI services and .ci/run do)."""
    return os.environ.get('CI', '').strip().lower() in ('true', '1', 'yes')


def samples_problem(folder: str = SAMPLES):
    """What is wrong with the samples folder, or None.

    Returns:
        str | None: the folder is missing, its ``SHA256SUMS`` is missing or unreadable,
        or files are missing / differ from their listed SHA-256 (named, up to 10).
    """
    if not osp.isdir(folder):
        return f'the real samples folder {folder} is missing'
    sums = osp.join(folder, 'SHA256SUMS')
    if not osp.isfile(sums):
        return f'{sums} is missing'
    bad, listed = [], 0
    with open(sums, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split(None, 1)
            if len(parts) != 2 or len(parts[0]) != 64:
                return f'{sums}:{lineno}: not a "<sha256>  <path>" line: {line.strip()!r}'
            digest, rel = parts[0].lower(), parts[1].strip().lstrip('*')
            listed += 1
            path = osp.join(folder, rel)
            if not osp.isfile(path):
                bad.append(f'{rel} (missing)')
                continue
            h = hashlib.sha256()
            with open(path, 'rb') as data:
                for block in iter(lambda: data.read(1 << 20), b''):
                    h.update(block)
            if h.hexdigest() != digest:
                bad.append(f'{rel} (sha256 {h.hexdigest()[:12]}, listed {digest[:12]})')
    if not listed:
        return f'{sums} lists no files'
    if bad:
        shown = ', '.join(bad[:10]) + (f' and {len(bad) - 10} more' if len(bad) > 10 else '')
        return f'{len(bad)} of the {listed} files in {sums} do not match: {shown}'
    return None


@functools.lru_cache(maxsize=None)
def _samples_problem_once():
    return samples_problem(SAMPLES)


def pytest_configure(config):
    # mmengine imports and reloads pkg_resources (config scope resolution); setuptools 81
    # warns about the API each time. Exactly that warning is not ours (tools/_launch.py
    # filters it the same way for the command-line tools).
    config.addinivalue_line('filterwarnings',
                            'ignore:pkg_resources is deprecated as an API:UserWarning')
    if in_ci():
        problem = _samples_problem_once()
        if problem:
            raise pytest.UsageError(
                f'CI=true: {problem}. CI runs with ../shared beside the checkout, and the '
                'real-sample tests must run there, not skip.')


@pytest.fixture
def samples_dir():
    """Path to ``../shared/samples`` (verified against its SHA256SUMS).

    Skips the test when the folder is absent, unless ``CI=true``: then it fails.
    """
    if not osp.isdir(SAMPLES) and not in_ci():
        pytest.skip(f'{SAMPLES} is absent (with CI=true this fails)')
    problem = _samples_problem_once()
    if problem:
        pytest.fail(problem)
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
