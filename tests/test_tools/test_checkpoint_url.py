"""Checkpoints by URL (served on 127.0.0.1 only) with the ``-<sha256 prefix>`` check, and
Runner-style checkpoints under torch's ``weights_only`` loading.

The verified http(s) scheme and the allow-list are active only inside
``checkpoint_loading()`` (importing the package changes nothing); mmengine's own
``load_checkpoint`` / ``_load_checkpoint`` are called inside that block here, as a
script driving a plain Runner would."""
import functools
import hashlib
import http.server
import os
import os.path as osp
import shutil
import threading

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

from mmdepth_dgr.apis import init_model
from mmdepth_dgr.utils import (CheckpointHashError, CheckpointLoadError, checkpoint_loading,
                               hash_prefix_from_filename, read_checkpoint, sha256_file)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


@pytest.fixture
def served_dir(tmp_path, monkeypatch):
    """(folder, base URL) of a loopback HTTP server; an isolated torch hub cache."""
    root = tmp_path / 'www'
    root.mkdir()
    hub = tmp_path / 'hub'
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope='module')
def runner_style_ckpt(tmp_path_factory):
    """A checkpoint shaped like a Runner's: weights + meta + message hub buffers."""
    torch.manual_seed(1)
    model = init_model(osp.join(REPO, CONFIG))
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(
        meta=dict(iter=600, seed=np.int64(0), dataset_meta=dict(dataset_name='nyu')),
        state_dict=model.state_dict(),
        message_hub=dict(log_scalars={'train/loss': buf},
                         runtime_info={'eta': np.float64(0.0)}))
    path = tmp_path_factory.mktemp('ckpt') / 'raw.pth'
    torch.save(ckpt, path)
    return str(path), {k: v.clone() for k, v in model.state_dict().items()}


def _publish(root, src, stem, hash_prefix):
    name = f'{stem}_20250101-{hash_prefix}.pth'
    shutil.copy(src, root / name)
    return name


def test_hash_prefix_follows_the_torch_hub_naming_convention():
    assert hash_prefix_from_filename('m_20250101-0123abcd.pth') == '0123abcd'
    assert hash_prefix_from_filename('https://x.org/a/m_20250101-0123abcd.pth') == \
        '0123abcd'
    assert hash_prefix_from_filename('mit-b0_regression_1xb4-600iter.pth') is None
    assert hash_prefix_from_filename('model-1.5.pth') is None  # too short for a hash
    assert hash_prefix_from_filename('model.pth') is None


def test_init_model_downloads_a_url_checks_its_hash_and_caches_it(
        served_dir, runner_style_ckpt, repo_root, tmp_path):
    root, base = served_dir
    src, state = runner_style_ckpt
    digest = hashlib.sha256(open(src, 'rb').read()).hexdigest()
    name = _publish(root, src, 'quick', digest[:8])
    model = init_model(osp.join(repo_root, CONFIG), f'{base}/{name}')
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert model.dataset_meta == dict(dataset_name='nyu')
    cached = tmp_path / 'hub' / 'checkpoints' / name
    assert cached.is_file() and sha256_file(str(cached)) == digest
    # second call is served from the cache (the server no longer has the file)
    os.remove(root / name)
    init_model(osp.join(repo_root, CONFIG), f'{base}/{name}')


def test_wrong_hash_raises_naming_the_file_and_both_hashes_and_is_not_cached(
        served_dir, runner_style_ckpt, tmp_path):
    root, base = served_dir
    src, _ = runner_style_ckpt
    digest = sha256_file(src)
    wrong = format(int(digest[:8], 16) ^ 0xFFFFFFFF, '08x')
    name = _publish(root, src, 'quick', wrong)
    with pytest.raises(CheckpointHashError) as err, checkpoint_loading():
        _load_checkpoint(f'{base}/{name}', map_location='cpu')
    msg = str(err.value)
    assert name in msg and wrong in msg and digest in msg
    cache = tmp_path / 'hub' / 'checkpoints'
    assert not (cache / name).exists()
    assert not [f for f in os.listdir(cache) if f.endswith('.partial')]


def test_corrupted_cached_checkpoint_is_rechecked_and_removed(
        served_dir, runner_style_ckpt, tmp_path):
    root, base = served_dir
    src, _ = runner_style_ckpt
    name = _publish(root, src, 'quick', sha256_file(src)[:8])
    url = f'{base}/{name}'
    read_checkpoint(url)
    cached = tmp_path / 'hub' / 'checkpoints' / name
    with open(cached, 'r+b') as f:  # flip one byte of the cached copy
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CheckpointHashError, match='cached'):
        read_checkpoint(url)
    assert not cached.exists()
    read_checkpoint(url)  # downloaded again, verified


def test_runner_load_from_url_goes_through_the_verified_loader(
        served_dir, runner_style_ckpt, repo_root):
    """mmengine's ``load_checkpoint`` (what ``init_cfg=dict(type='Pretrained',
    checkpoint=URL)`` and a plain Runner's ``load_from`` call) reaches the hash-checked
    scheme inside ``checkpoint_loading()`` -- the block ``DepthRunner.train/test`` and
    the tools run in."""
    root, base = served_dir
    src, state = runner_style_ckpt
    name = _publish(root, src, 'quick', sha256_file(src)[:8])
    model = init_model(osp.join(repo_root, CONFIG))  # random weights
    with checkpoint_loading():
        load_checkpoint(model, f'{base}/{name}', map_location='cpu')
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    bad = _publish(root, src, 'other', '00000000' if not sha256_file(src).startswith(
        '00000000') else '11111111')
    with pytest.raises(CheckpointHashError), checkpoint_loading():
        load_checkpoint(model, f'{base}/{bad}', map_location='cpu')


def test_url_without_hash_suffix_loads_unverified(served_dir, runner_style_ckpt):
    root, base = served_dir
    src, _ = runner_style_ckpt
    shutil.copy(src, root / 'plain.pth')
    ckpt = read_checkpoint(f'{base}/plain.pth')
    assert 'state_dict' in ckpt


def test_local_runner_checkpoint_loads_but_foreign_globals_are_refused(
        runner_style_ckpt, tmp_path):
    src, _ = runner_style_ckpt
    ckpt = read_checkpoint(src)  # weights_only with allow-list
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    with checkpoint_loading():  # mmengine's own local loader inside the block
        ckpt = _load_checkpoint(src, map_location='cpu')
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, payload=functools.partial(print, 'x')), evil)
    with pytest.raises(CheckpointLoadError, match='(?i)functools.partial') as err:
        read_checkpoint(str(evil))
    assert str(evil) in str(err.value)


def test_url_404_names_the_url_and_the_status(served_dir):
    _, base = served_dir
    url = f'{base}/missing_20250101-0123abcd.pth'
    with pytest.raises(CheckpointLoadError) as err:
        read_checkpoint(url)
    assert url in str(err.value) and '404' in str(err.value)


def test_depth_runner_load_from_url_is_hash_checked(served_dir, runner_style_ckpt,
                                                     synthetic_nyu_root, tmp_path):
    """``load_from=URL`` in a DepthRunner run (what tools/train.py builds) downloads
    through the verified scheme: the right file loads, a wrong hash stops the run."""
    from mmdepth_dgr.engine import DepthRunner
    from tests.conftest import tiny_runner_cfg
    root, base = served_dir
    src, _ = runner_style_ckpt
    good = _publish(root, src, 'quick', sha256_file(src)[:8])
    bad = _publish(root, src, 'bad', '00000000' if not sha256_file(src).startswith(
        '00000000') else '11111111')
    cfg = tiny_runner_cfg(osp.join(REPO, CONFIG), str(tmp_path / 'w1'), synthetic_nyu_root,
                          max_iters=1, load_from=f'{base}/{good}')
    cfg.train_cfg.val_interval = 100  # no validation
    DepthRunner.from_cfg(cfg).train()
    assert (tmp_path / 'hub' / 'checkpoints' / good).is_file()
    cfg = tiny_runner_cfg(osp.join(REPO, CONFIG), str(tmp_path / 'w2'), synthetic_nyu_root,
                          max_iters=1, load_from=f'{base}/{bad}')
    with pytest.raises(CheckpointHashError, match=bad):
        DepthRunner.from_cfg(cfg).train()
