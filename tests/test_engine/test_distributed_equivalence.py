"""2 gloo processes x batch b == 1 process x batch 2b, step by step.

How the comparison is made meaningful (each point was checked, not assumed):

* **Samples per step.** mmengine's ``InfiniteSampler`` gives rank ``r`` of ``w`` the indices
  ``r, r + w, r + 2w, ...`` of one index stream (``itertools.islice``). With
  ``shuffle=False`` and ``w = 2``, step ``k`` of the 2-process run trains on
  ``{4k, 4k+2} ∪ {4k+1, 4k+3}`` (b = 2), exactly the batch ``4k..4k+3`` of the single
  process (2b = 4). The hook below gathers the image paths of every rank per step and the
  test compares the sets.
* **Augmentations off** (flip / gamma ``prob=0``): every rank seeds NumPy with the same seed,
  so random augmentations would draw differently per sample in the two layouts.
* **Normalisation.** The quickstart head uses BN, whose batch statistics differ between
  b and 2b samples. ``SyncBN`` would fix that but torch's ``SyncBatchNorm`` refuses CPU
  modules ("SyncBatchNorm layers only work with GPU modules", torch 2.14, gloo), so the
  head uses GroupNorm (per-sample, layout independent). MiT uses LayerNorm.
* **Loss.** The masked MSE pools over the valid pixels of the batch; it equals the mean of
  the per-rank losses (and DDP's gradient average equals the 2b gradient) only when every
  image has the same number of valid pixels, which the generated scenes do (dense GT;
  checked below). SILog (the quickstart loss) is not decomposable -- it takes a square root
  of batch moments -- so the MSE config is used.
* **Logging.** mmengine 0.10.7's ``BaseModel.parse_losses`` does not all-reduce the logged
  losses: a multi-process run's ``scalars.json`` holds rank 0's loss on its own b samples,
  not the global loss. The test hook all-reduces (mean) every loss term per iteration and
  rank 0 writes them to ``global_loss.jsonl``; both layouts write that file.

Tolerance: float32 sums differ in order (a batch-4 conv vs two batch-2 convs, the gloo
all-reduce of gradients), and AdamW's normalised steps carry the differences forward:
losses agree to ``rtol=1e-3`` per step and final weights to ``atol=1e-3``. Measured on
the development machine (2 CPU cores, torch 2.14.1, 6 steps): max relative loss difference
9.7e-5, max absolute weight difference 4.0e-5 (printed with ``pytest -s``).
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import cv2
import numpy as np
import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from tests.conftest import REPO_ROOT

MSE_CONFIG = osp.join(REPO_ROOT, 'configs', 'otdl',
                      'mit-b0_regression-mse_1xb4-600iter_synnyu-240x320.py')
PY = sys.executable
ITERS = 6


@HOOKS.register_module(name='_TestGlobalLossHook', force=True)
class GlobalLossHook(Hook):
    """Write the all-reduced (mean over ranks) loss terms and the union of the image
    paths of every iteration to ``<work_dir>/global_loss.jsonl`` (rank 0)."""

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        world = dist.get_world_size() if dist.is_initialized() else 1
        row = {'step': runner.iter + 1, 'world_size': world}
        for key, value in sorted((outputs or {}).items()):
            t = torch.tensor(float(value), dtype=torch.float64)
            if world > 1:
                dist.all_reduce(t)
            row[key] = float(t) / world
        paths = [s.img_path for s in data_batch['data_samples']]
        if world > 1:
            gathered = [None] * world
            dist.all_gather_object(gathered, paths)
            paths = [p for part in gathered for p in part]
        row['samples'] = sorted(osp.basename(p) for p in paths)
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'global_loss.jsonl'), 'a') as f:
                f.write(json.dumps(row) + '\n')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _config(tmp_path, data_root, batch_size):
    path = tmp_path / f'dist_eq_b{batch_size}.py'
    path.write_text(f"""
_base_ = [{MSE_CONFIG!r}]
custom_imports = dict(imports=['mmdepth_dgr', 'tests.test_engine.test_distributed_equivalence'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='_TestGlobalLossHook')]
randomness = dict(seed=0, deterministic=True)
model = dict(
    backbone=dict(num_layers=[1, 1, 1, 1], embed_dims=16, drop_path_rate=0.0),
    decode_head=dict(in_channels=[16, 32, 80, 128],
                     norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)))
_pipe = [dict(type='LoadRGBFromFile'), dict(type='LoadDepthFromFile'),
         dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomGammaBrightnessColor', prob=0.0),
         dict(type='PackDepthInputs')]
train_dataloader = dict(batch_size={batch_size}, num_workers=0, persistent_workers=False,
                        sampler=dict(type='InfiniteSampler', shuffle=False),
                        dataset=dict(data_root={data_root!r}, pipeline=_pipe))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={data_root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={ITERS}, val_interval={ITERS})
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ITERS}, max_keep_ckpts=1))
""")
    return str(path)


def _run(cmd, env_extra=None):
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.update(env_extra or {})
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _rows(work):
    with open(osp.join(work, 'global_loss.jsonl')) as f:
        return [json.loads(line) for line in f]


def test_two_gloo_processes_match_one_process_with_the_doubled_batch(
        synthetic_nyu_root, tmp_path):
    # precondition of the decomposable MSE: every training GT pixel is valid
    for png in glob.glob(osp.join(synthetic_nyu_root, 'train', '**', 'sync_depth_*.png'),
                         recursive=True):
        assert (cv2.imread(png, cv2.IMREAD_UNCHANGED) > 0).all(), png

    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    # both layouts at once: 3 processes on the 2 cores, each single-threaded
    p1 = _run([PY, 'tools/train.py', _config(tmp_path, synthetic_nyu_root, 4),
               '--work-dir', one])
    p2 = _run(['bash', 'tools/dist_train.sh', _config(tmp_path, synthetic_nyu_root, 2), '2',
               '--work-dir', two], env_extra=dict(PYTHON=PY, PORT=str(_free_port())))
    out1, _ = p1.communicate(timeout=300)
    out2, _ = p2.communicate(timeout=300)
    assert p1.returncode == 0, out1[-3000:]
    assert p2.returncode == 0, out2[-3000:]

    r1, r2 = _rows(one), _rows(two)
    assert [r['world_size'] for r in r1] == [1] * ITERS
    assert [r['world_size'] for r in r2] == [2] * ITERS
    assert [r['step'] for r in r1] == [r['step'] for r in r2] == list(range(1, ITERS + 1))
    for a, b in zip(r1, r2):
        assert a['samples'] == b['samples'], (a['step'], a['samples'], b['samples'])
    # the single-process run sees 4 distinct images per step, 2 steps per pass over 8
    assert len(set(r1[0]['samples'])) == 4 and r1[0]['samples'] != r1[1]['samples']

    l1 = np.array([r['loss'] for r in r1])
    l2 = np.array([r['loss'] for r in r2])
    assert np.all(np.isfinite(l1)) and l1[-1] != l1[0]  # it trained
    rel = np.abs(l1 - l2) / np.abs(l1)
    print(f'max relative loss difference {rel.max():.2e}')
    assert rel.max() < 1e-3, f'loss curves differ: max rel {rel.max():.2e}\n{l1}\n{l2}'

    w1 = torch.load(osp.join(one, f'iter_{ITERS}.pth'), map_location='cpu',
                    weights_only=False)['state_dict']
    w2 = torch.load(osp.join(two, f'iter_{ITERS}.pth'), map_location='cpu',
                    weights_only=False)['state_dict']
    assert w1.keys() == w2.keys()
    worst = max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1)
    print(f'max absolute weight difference {worst:.2e}')
    assert worst < 1e-3, f'final weights differ by up to {worst:.2e}'
