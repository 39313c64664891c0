"""mmdepth_dgr.utils.checkpoint: named read errors, strict loading through
``model.load_state_dict`` (hooks run), and the scoped loader setup (no import-time
global change)."""
import json
import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.runner.checkpoint import CheckpointLoader

from mmdepth_dgr.utils import (CheckpointLoadError, CheckpointMismatchError, checkpoint_loading,
                               extract_state_dict, load_checkpoint, load_state_dict_checked,
                               read_checkpoint)
from mmdepth_dgr.utils.checkpoint import load_from_http_verified, mmengine_checkpoint_safe_globals
from tests.conftest import REPO_ROOT


class Net(nn.Module):

    def __init__(self, width=4):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 1)
        self.head = nn.Linear(width, 2)
        self.register_buffer('scale', torch.ones(()))


@pytest.fixture
def good(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'good.pth'
    torch.save(dict(state_dict=Net().state_dict(), meta=dict(iter=3)), path)
    return path


def _corrupt(path, data):
    path.write_bytes(data)
    return str(path)


def test_read_errors_name_the_file_and_say_what_is_wrong(tmp_path, good):
    raw = good.read_bytes()
    torch.save(dict(state_dict=Net().state_dict()), tmp_path / 'legacy.pth',
               _use_new_zipfile_serialization=False)
    legacy = (tmp_path / 'legacy.pth').read_bytes()
    np.save(tmp_path / 'arr.npy', np.zeros(3))
    cases = {
        _corrupt(tmp_path / 'empty.pth', b''): 'empty (0 bytes)',
        _corrupt(tmp_path / 'half.pth', raw[:len(raw) // 2]): 'truncated',
        _corrupt(tmp_path / 'half_legacy.pth', legacy[:len(legacy) // 2]): 'truncated',
        _corrupt(tmp_path / 'notes.pth', b'learning rate was 1e-4\n'): 'not a PyTorch',
        _corrupt(tmp_path / 'page.pth', b'<html>404 Not Found</html>'): 'HTML',
        str(tmp_path / 'arr.npy'): 'NumPy',
    }
    for path, what in cases.items():
        with pytest.raises(CheckpointLoadError) as err:
            read_checkpoint(path)
        assert path in str(err.value) and what in str(err.value), str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        read_checkpoint('no/such/ckpt.pth')
    assert os.path.abspath('no/such/ckpt.pth') in str(err.value)
    assert os.getcwd() in str(err.value)


def test_a_file_without_weights_is_not_a_model_checkpoint(tmp_path):
    path = tmp_path / 'meta_only.pth'
    torch.save(dict(meta=dict(iter=1), optimizer=dict(lr=1.0)), path)
    with pytest.raises(CheckpointLoadError, match='holds no model weights.*meta, optimizer'):
        extract_state_dict(read_checkpoint(str(path)), str(path))
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointLoadError, match='holds a Tensor'):
        extract_state_dict(read_checkpoint(str(path)), str(path))


def test_strict_mismatch_counts_and_names_missing_unexpected_and_shapes(tmp_path):
    state = Net(width=4).state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['head.bias']
    model = Net(width=5)  # conv / head shapes differ
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_checked(model, state, 'ckpt_x.pth')
    msg = str(err.value)
    assert 'ckpt_x.pth' in msg and 'Net' in msg
    assert '1 missing keys' in msg and 'head.bias' in msg
    assert '1 unexpected keys' in msg and 'extra.weight' in msg
    # conv.weight, conv.bias, head.weight differ in shape; listed with both shapes
    assert '3 shape mismatches' in msg and '(4, 3, 1, 1) vs model (5, 3, 1, 1)' in msg


def test_non_strict_loads_what_matches_and_warns(caplog):
    src = Net(width=4)
    state = src.state_dict()
    state['extra.weight'] = torch.zeros(1)
    model = Net(width=4)
    model.head = nn.Linear(4, 3)  # head shape differs, conv matches
    before = model.head.weight.clone()
    report = load_state_dict_checked(model, state, 'ft.pth', strict=False)
    assert torch.equal(model.conv.weight, src.conv.weight)
    assert torch.equal(model.head.weight, before)  # not loaded, kept
    assert report.unexpected == ['extra.weight']
    assert [k for k, _, _ in report.shape_mismatch] == ['head.weight', 'head.bias']
    assert report.missing == []


def test_many_keys_are_listed_up_to_five_then_counted():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(4)])
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_checked(model, {}, 'empty_sd.pth')
    assert '8 missing keys' in str(err.value) and '(3 more)' in str(err.value)


def test_state_dict_pre_hooks_run_so_a_renaming_hook_allows_strict_loading():
    """A module that accepts an older key layout through a load_state_dict pre-hook
    (as the DGR backbone does for a baseline checkpoint) loads strictly."""

    class Wrapped(nn.Module):

        def __init__(self):
            super().__init__()
            self.inner = Net()
            self.register_load_state_dict_pre_hook(self._old_layout)

        @staticmethod
        def _old_layout(module, sd, prefix, *args):
            for k in [k for k in sd if k.startswith(prefix + 'conv.')]:
                sd[prefix + 'inner.' + k[len(prefix):]] = sd.pop(k)
            for k in [k for k in sd if k.startswith(prefix + 'head.') or
                      k == prefix + 'scale']:
                sd[prefix + 'inner.' + k[len(prefix):]] = sd.pop(k)

    old = Net()
    model = nn.ModuleDict(dict(backbone=Wrapped()))
    state = OrderedDict(('backbone.' + k, v) for k, v in old.state_dict().items())
    report = load_state_dict_checked(model, state, 'baseline.pth', strict=True)
    assert report.ok
    assert torch.equal(model['backbone'].inner.conv.weight, old.conv.weight)


def test_load_checkpoint_strips_ddp_prefix_and_returns_the_checkpoint(tmp_path):
    src = Net()
    path = tmp_path / 'ddp.pth'
    torch.save(dict(state_dict={'module.' + k: v for k, v in src.state_dict().items()},
                    meta=dict(iter=7)), path)
    model = Net()
    ckpt = load_checkpoint(model, str(path))
    assert ckpt['meta']['iter'] == 7
    assert torch.equal(model.head.weight, src.head.weight)


def test_checkpoint_loading_is_scoped_nestable_and_restores_everything():
    get = torch.serialization.get_safe_globals
    before_globals, before_http = set(get()), CheckpointLoader._schemes['http://']
    needed = set(mmengine_checkpoint_safe_globals())
    with checkpoint_loading():
        assert needed <= set(get())
        assert CheckpointLoader._schemes['https://'] is load_from_http_verified
        with checkpoint_loading():
            pass
        assert needed <= set(get())  # the inner exit keeps the outer scope
    assert set(get()) == before_globals
    assert CheckpointLoader._schemes['http://'] is before_http


def test_importing_the_package_and_building_a_dataset_change_no_global_state(tmp_path):
    """Fresh interpreter: mmengine's http loader and the default scope are the same
    before and after ``import mmdepth_dgr`` and a dataset build, and none of the
    package's checkpoint globals is allowed (torch itself allow-lists its DTensor types
    when torch.distributed.tensor is first imported, which is not ours to check)."""
    split = tmp_path / 'list.txt'
    split.write_text('a.jpg a.png 500\n')
    code = f'''
import json, torch
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader
def state():
    scope = DefaultScope.get_current_instance()
    return dict(http=CheckpointLoader._schemes['https://'].__module__,
                scope=scope.scope_name if scope else None)
before = state()
import mmdepth_dgr
from mmdepth_dgr.utils.checkpoint import mmengine_checkpoint_safe_globals
from mmseg.registry import DATASETS
ds = DATASETS.build(dict(type='NYUDepthDataset', split_file={str(split)!r},
                         pipeline=[dict(type='RandomFlip', prob=1.0)]))
flip = type(ds.pipeline.transforms[0]).__module__
ours = set(mmengine_checkpoint_safe_globals()) & set(torch.serialization.get_safe_globals())
print(json.dumps(dict(before=before, after=state(), flip=flip, ours=len(ours))))
'''
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['before'] == out['after'], out
    assert out['after']['scope'] is None and out['ours'] == 0
    assert out['flip'].startswith('mmseg.')  # mmseg's RandomFlip (flips the GT too)
