"""ProgressBarHook: one progress report per phase with ETA, metrics table, rank 0 only."""
import io
import os.path as osp

from mmengine.runner import Runner

from mmdepth_dgr.engine.hooks import (LineProgress, ProgressBarHook, format_metrics_table,
                                      progress_bar_hook)
from tests.conftest import REPO_ROOT, tiny_runner_cfg

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
TINY = {'model.backbone.num_layers': [1, 1, 1, 1], 'model.backbone.embed_dims': 16,
        'model.decode_head.in_channels': [16, 32, 80, 128]}


def test_line_progress_prints_a_complete_line_per_tenth_with_eta():
    out = io.StringIO()
    bar = LineProgress(total=100, desc='train', file=out, reports=10)
    for _ in range(100):
        bar.set_postfix_str('loss=1')
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # no carriage-return redraws, and the end only once
    assert lines[0].startswith('train: 10/100 ( 10%) [')
    assert lines[-1].startswith('train: 100/100 (100%) [')
    assert all('<' in ln and ('it/s' in ln or 's/it' in ln) for ln in lines)  # ETA, rate
    assert lines[-1].endswith(', loss=1]')


def test_line_progress_of_a_resumed_run_counts_from_the_resumed_step():
    out = io.StringIO()
    bar = LineProgress(total=10, desc='train', initial=6, file=out, reports=2)
    for _ in range(4):
        bar.update(1)
    bar.close()
    assert [ln.split(' (')[0] for ln in out.getvalue().splitlines()] == [
        'train: 8/10', 'train: 10/10']


def test_metrics_table_prints_counts_as_integers():
    text = format_metrics_table({'d1': 0.5, 'abs_rel': 0.123456, 'num_images': 2})
    assert text.splitlines() == ['| d1 | abs_rel | num_images |', '|---|---|---|',
                                 '| 0.5000 | 0.1235 | 2 |']


def _train_with_hook(tmp_path, data_root, **hook_kw):
    cfg = tiny_runner_cfg(QUICKSTART, str(tmp_path), data_root, max_iters=2, **TINY)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='ProgressBarHook', **hook_kw)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_hook_reports_train_and_validation_with_the_metrics(synthetic_nyu_root, tmp_path,
                                                            capsys):
    _train_with_hook(tmp_path, synthetic_nyu_root)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(ln.startswith('train: 2/2 (100%)') and 'loss=' in ln for ln in lines), out
    assert any(ln.startswith('val: 2/2 (100%)') for ln in lines), out
    at = lines.index('[val, iteration 2] metrics:')
    cols = [c.strip() for c in lines[at + 1].split('|')]
    row = [c.strip() for c in lines[at + 3].split('|')]
    assert row[cols.index('num_images')] == '2' and 0 <= float(row[cols.index('d1')]) <= 1


class _FakeRunner:
    """What the hook reads from a Runner."""
    iter, max_iters = 0, 3
    val_dataloader = [0, 1]


def _drive(hook):
    runner = _FakeRunner()
    hook.before_run(runner)
    hook.before_train(runner)
    for i in range(3):
        hook.after_train_iter(runner, i, outputs=dict(loss=0.5))
    hook.before_val_epoch(runner)
    for i in range(2):
        hook.after_val_iter(runner, i)
    hook.after_val_epoch(runner, dict(d1=0.5, num_images=2))
    hook.after_train(runner)


def test_hook_is_silent_on_other_ranks(capsys, monkeypatch):
    _drive(ProgressBarHook())
    assert 'train: 3/3' in capsys.readouterr().out  # rank 0 reports
    monkeypatch.setattr(progress_bar_hook, 'is_main_process', lambda: False)
    _drive(ProgressBarHook())
    assert capsys.readouterr().out == ''


def test_hook_can_leave_the_metrics_to_the_caller(capsys):
    _drive(ProgressBarHook(show_metrics=False))
    out = capsys.readouterr().out
    assert 'val: 2/2' in out and 'metrics:' not in out
    assert ProgressBarHook().show_metrics is True
