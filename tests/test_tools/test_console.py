"""What tools/train.py prints: a short header, progress with ETA, the metrics; the full
log in the work dir; --verbose for mmengine's own console output."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

from tests.conftest import REPO_ROOT

QUICKSTART = osp.join('configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
TINY = ['model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
        'model.decode_head.in_channels=[16,32,80,128]']
#: header (6) + progress (2 train + 2 val) + metrics (4) + mmengine's one remaining
#: warning, with room for a few more warnings; the untamed output was ~380 lines.
MAX_LINES = 30


def _train(data_root, work, *extra):
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.dataset.data_root={data_root}', f'{key}.num_workers=0',
                 f'{key}.persistent_workers=False']
    opts += TINY + ['train_dataloader.batch_size=2', 'train_cfg.max_iters=2',
                    'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, 'tools/train.py', QUICKSTART, '--work-dir', work,
                           *extra, '--cfg-options', *opts], cwd=REPO_ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def test_train_console_is_a_header_progress_and_metrics_with_the_full_log_on_disk(
        synthetic_nyu_root, tmp_path):
    work = str(tmp_path / 'work')
    out = _train(synthetic_nyu_root, work)
    lines = out.splitlines()
    assert len(lines) <= MAX_LINES, f'{len(lines)} lines:\n{out}'
    assert lines[0] == f'[train] {QUICKSTART}'
    header = '\n'.join(lines[:7])
    for label in ('work dir', 'device', 'data', 'schedule', 'commit'):
        assert f'  {label} ' in header, header
    assert 'generated nyu, generator v' in header and 'content sha256 ' in header
    assert '2 iterations, batch 2' in header
    assert any(ln.startswith('train: 2/2 (100%) [') and '<' in ln for ln in lines), out
    assert any(ln.startswith('val: 2/2 (100%) [') for ln in lines), out
    assert '[val, iteration 2] metrics:' in lines
    assert 'pkg_resources' not in out
    for noise in ('System environment', 'Config:', 'Hooks will be executed'):
        assert noise not in out
    # ... all of which is in the log file, with the run record beside it
    log_file = glob.glob(osp.join(work, '*', '*.log'))[0]
    log = open(log_file, encoding='utf-8').read()
    for text in ('System environment', 'Config:', 'Hooks will be executed', 'Iter(val)'):
        assert text in log, text
    assert osp.relpath(log_file, REPO_ROOT) in header or log_file in header
    record = json.load(open(osp.join(osp.dirname(log_file), 'run_record.json')))
    assert record['mode'] == 'train' and record['config'] == QUICKSTART
    assert record['command'].startswith(f'python tools/train.py {QUICKSTART} --work-dir ')
    assert record['data']['content_sha256'][:12] in header


def test_verbose_shows_mmengines_log_live(synthetic_nyu_root, tmp_path):
    out = _train(synthetic_nyu_root, str(tmp_path / 'work'), '--verbose')
    assert 'Hooks will be executed' in out and 'Config:' in out
    assert 'train: 2/2' not in out  # mmengine's log lines instead of the bars
    assert 'pkg_resources' not in out
