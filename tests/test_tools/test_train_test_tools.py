"""The foundation's end-to-end path: tools/train.py, resume, tools/test.py, 2-process gloo."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import torch
from mmengine.runner import Runner

from tests.conftest import REPO_ROOT, tiny_runner_cfg

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
PY = sys.executable


def _run(args, timeout=600, env_extra=None):
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    env.update(env_extra or {})
    proc = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _cli_overrides(data_root, iters):
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.dataset.data_root={data_root}', f'{key}.num_workers=0',
                 f'{key}.persistent_workers=False']
    return opts + [
        'train_dataloader.batch_size=2', f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        # tiny MiT so that the subprocess runs take seconds
        'model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
        'model.decode_head.in_channels=[16,32,80,128]',
    ]


def test_runner_trains_and_validates_the_quickstart_config(synthetic_nyu_root, tmp_path):
    cfg = tiny_runner_cfg(QUICKSTART, str(tmp_path), synthetic_nyu_root, max_iters=3)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    for key in ('d1', 'abs_rel', 'rmse', 'silog', 'num_images'):
        assert key in metrics
    assert metrics['num_images'] == 2
    assert 0.0 <= metrics['d1'] <= 1.0 and metrics['rmse'] > 0


def test_train_py_resume_continues_from_the_last_checkpoint(synthetic_nyu_root, tmp_path):
    work = str(tmp_path / 'work')
    base = [PY, 'tools/train.py', QUICKSTART, '--work-dir', work, '--cfg-options']
    _run(base + _cli_overrides(synthetic_nyu_root, 2))
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    proc = _run([PY, 'tools/train.py', QUICKSTART, '--work-dir', work, '--resume',
                 '--cfg-options'] + _cli_overrides(synthetic_nyu_root, 4))
    log = proc.stdout + proc.stderr
    assert 'resumed' in log.lower(), log[-2000:]
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 4
    # the resumed run did iterations 3-4 only
    scalars = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
    steps = [json.loads(line).get('step') for line in open(scalars[-1])
             if '"loss"' in line]
    assert steps == [3, 4], steps


def test_test_py_evaluates_saves_predictions_and_draws_panels(synthetic_nyu_root, tmp_path):
    work = str(tmp_path / 'work')
    _run([PY, 'tools/train.py', QUICKSTART, '--work-dir', work, '--cfg-options']
         + _cli_overrides(synthetic_nyu_root, 2))
    out, show = tmp_path / 'pred', tmp_path / 'show'
    proc = _run([PY, 'tools/test.py', QUICKSTART, osp.join(work, 'iter_2.pth'),
                 '--work-dir', str(tmp_path / 'test'), '--out', str(out),
                 '--show-dir', str(show), '--cfg-options']
                + _cli_overrides(synthetic_nyu_root, 2))
    assert 'abs_rel' in proc.stdout + proc.stderr
    import cv2

    # saved at the split's relative paths (<scene>/rgb_XXXXX.png)
    with open(osp.join(synthetic_nyu_root, 'nyu_test.txt')) as f:
        rels = [osp.splitext(ln.split()[0])[0] + '.png' for ln in f if ln.strip()]
    saved = sorted(osp.relpath(p, out) for p in
                   glob.glob(str(out / '**' / '*.png'), recursive=True))
    assert saved == sorted(rels) and len(saved) == 2, saved
    assert osp.isfile(out / 'per_image_metrics.csv')
    png = cv2.imread(str(out / rels[0]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == 'uint16' and png.shape == (64, 96) and png.max() > 0
    pngs = sorted(osp.relpath(p, show) for p in
                  glob.glob(str(show / '**' / '*.png'), recursive=True))
    assert pngs == sorted(rels), pngs


def test_test_py_names_a_missing_checkpoint(tmp_path):
    proc = subprocess.run([PY, 'tools/test.py', QUICKSTART, str(tmp_path / 'nope.pth')],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'nope.pth' in proc.stderr


def test_dist_train_sh_runs_two_gloo_processes(synthetic_nyu_root, tmp_path):
    work = str(tmp_path / 'work')
    proc = _run(['bash', 'tools/dist_train.sh', QUICKSTART, '2', '--work-dir', work,
                 '--cfg-options'] + _cli_overrides(synthetic_nyu_root, 2),
                env_extra=dict(PYTHON=PY, PORT='29612'))
    log = proc.stdout + proc.stderr
    # the run header, printed by rank 0 only
    assert log.count('  work dir ') == 1 and '2 processes' in log, log[-2000:]
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
