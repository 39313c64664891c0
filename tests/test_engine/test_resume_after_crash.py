"""Resume after a crash: SIGKILL tools/train.py mid-run, ``--resume``, same final state.

What mmengine 0.10.7 guarantees (read in ``mmengine/runner``), and what this test relies on:

* ``Runner.resume`` restores the model, optimizer (AdamW moments), parameter schedulers,
  the iteration counter and the message hub from the checkpoint named in
  ``<work_dir>/last_checkpoint`` (``--resume`` without a value). That file is written
  after the ``.pth``, so a kill during a save leaves the previous checkpoint in charge.
* The data order: ``IterBasedTrainLoop.run`` advances the train dataloader by the resumed
  number of iterations (``next(iterator)`` ``iter`` times, "Advance dataloader N steps")
  before training on. ``InfiniteSampler`` draws its permutation from its own generator
  seeded by ``randomness.seed``, so the skipped batches are the ones the first run used,
  and -- with ``num_workers=0`` -- the skipped pipeline calls replay the same NumPy draws of
  the random augmentations (flip, gamma/brightness/colour), so the global NumPy state after
  the skip equals the uninterrupted run's.
* The global torch RNG (MiT's stochastic depth, ``drop_path_rate=0.1`` in the quickstart,
  draws from it) is not resumed by mmengine; ``RNGStateHook`` (default runtime) stores it in
  every checkpoint and restores it on load. Without that hook this test fails at the first
  weight (``backbone.layers.0.0.projection.weight``); with it, and with
  ``randomness=dict(seed=0, deterministic=True)`` on CPU, the resumed run is bitwise equal
  to the uninterrupted one (``torch.equal`` on every weight and optimizer tensor), and so are
  the validation metrics.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import torch

from tests.conftest import REPO_ROOT

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
PY = sys.executable
MAX_ITERS = 16


def _env():
    return dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
                PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))


def _args(data_root, work):
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.dataset.data_root={data_root}', f'{key}.num_workers=0',
                 f'{key}.persistent_workers=False']
    opts += [
        'train_dataloader.batch_size=2', f'train_cfg.max_iters={MAX_ITERS}',
        f'train_cfg.val_interval={MAX_ITERS}', 'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1', 'default_hooks.logger.interval=1',
        'randomness.seed=0', 'randomness.deterministic=True',
        # the schedule must span the run so that a wrongly restored scheduler shows
        'param_scheduler.0.end=4', 'param_scheduler.1.begin=4',
        f'param_scheduler.1.end={MAX_ITERS}',
        'model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
        'model.decode_head.in_channels=[16,32,80,128]',
    ]
    return [PY, 'tools/train.py', QUICKSTART, '--work-dir', work, '--cfg-options'] + opts


def _val_metrics(work):
    rows = []
    for run in sorted(os.listdir(work)):
        path = osp.join(work, run, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            rows += [json.loads(line) for line in open(path) if '"abs_rel"' in line]
    assert rows, f'no validation row in {work}'
    return rows[-1]


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_sigkilled_training_resumes_to_the_uninterrupted_final_weights(
        synthetic_nyu_root, tmp_path):
    ref_work, crash_work = str(tmp_path / 'ref'), str(tmp_path / 'crash')

    # the crashing run, started first; killed as soon as a checkpoint is recorded
    crash_log = open(tmp_path / 'crash.log', 'w')  # a file: a full pipe would block it
    proc = subprocess.Popen(_args(synthetic_nyu_root, crash_work), cwd=REPO_ROOT,
                            env=_env(), stdout=crash_log, stderr=subprocess.STDOUT)
    marker = osp.join(crash_work, 'last_checkpoint')
    deadline = time.time() + 120
    while not osp.isfile(marker) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, 'training ended before a checkpoint appeared:\n' + \
        (tmp_path / 'crash.log').read_text()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    crash_log.close()
    assert proc.returncode == -signal.SIGKILL
    killed_at = open(marker).read().strip()
    assert not osp.isfile(osp.join(crash_work, f'iter_{MAX_ITERS}.pth')), \
        'the run finished before the kill; the test would prove nothing'

    # the uninterrupted reference
    ref = subprocess.run(_args(synthetic_nyu_root, ref_work), cwd=REPO_ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]

    # resume from <work>/last_checkpoint
    res = subprocess.run(_args(synthetic_nyu_root, crash_work) + ['--resume', '--verbose'],
                         cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert 'resumed' in log.lower(), log[-2000:]
    assert 'Advance dataloader' in log, 'mmengine no longer skips the trained batches'

    a = _load(osp.join(ref_work, f'iter_{MAX_ITERS}.pth'))
    b = _load(osp.join(crash_work, f'iter_{MAX_ITERS}.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == MAX_ITERS
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), \
            f'{key} differs after resuming from {killed_at}'
    for pid, st in a['optimizer']['state'].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                assert torch.equal(value, b['optimizer']['state'][pid][name]), (pid, name)
    ma, mb = _val_metrics(ref_work), _val_metrics(crash_work)
    for key in ('d1', 'abs_rel', 'rmse', 'silog', 'grad_err'):
        assert ma[key] == mb[key], (key, ma[key], mb[key])
