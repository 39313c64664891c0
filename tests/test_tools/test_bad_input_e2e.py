"""Bad input, end to end through tools/train.py and tools/test.py (subprocesses).

Every case must end in a clear error naming the file / key / iteration at fault, or in a
documented, counted skip -- never in a silently wrong metric. The subprocesses of all
cases run concurrently (module fixture, 2-4 at a time) so the file stays fast; each
test then checks its own case.

* missing image (train.py): FileNotFoundError naming the path
* corrupt image (train.py): ValueError "cannot decode image <path>"
* 8-bit depth PNG (train.py): ValueError naming the path and "16-bit"
* all-invalid GT (test.py): image skipped with a warning naming it, num_skipped=1
* all-invalid GT in a train batch (train.py): trains, loss finite (no loss term from it)
* NaN prediction from NaN weights (test.py): ValueError naming the image, "NaN"
* typo'd model argument (train.py): TypeError naming the argument
* checkpoint of another model (test.py): CheckpointMismatchError naming the checkpoint
  and counting/naming the missing keys (tools/test.py loads strictly); with
  --non-strict: runs, warns
* another model's weights as load_from (train.py): a warning naming the file and the
  missing/unexpected keys (load_from stays non-strict, as in mmengine, for fine-tuning)
* truncated checkpoint (test.py), empty checkpoint as load_from (train.py), truncated
  checkpoint for --resume (train.py): CheckpointLoadError naming the file and the fault
* --resume with nothing to resume (train.py): error naming the work dir;
  --resume-or-start in the same situation trains from iteration 0
* --resume from another model's Runner checkpoint: strict, CheckpointMismatchError;
  from a weights-only checkpoint: "no training state", naming the file
* --amp without a GPU (train.py): "needs a GPU", before the Runner is built
* loss becomes NaN, inputs / 0 (train.py): FloatingPointError naming the iteration, no
  checkpoint
* the update makes the weights NaN, lr=inf (train.py): FloatingPointError naming the
  iteration, no checkpoint of it
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
DGR = osp.join(REPO_ROOT, 'configs', 'dgr',
               'mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py')
PY = sys.executable
TINY = ['model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
        'model.decode_head.in_channels=[16,32,80,128]']


def _opts(data_root, iters=2, ckpt_interval=2):
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{key}.dataset.data_root={data_root}', f'{key}.num_workers=0',
                 f'{key}.persistent_workers=False']
    return opts + TINY + [
        'train_dataloader.batch_size=2', f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={ckpt_interval}',
        'default_hooks.logger.interval=1']


def _copy_data(src, dst, keep_train=2):
    """Copy the tiny dataset; keep the first ``keep_train`` train lines so that the
    faulty frame is in the first batch (batch 2)."""
    shutil.copytree(src, dst)
    split = osp.join(dst, 'nyu_train.txt')
    lines = open(split).read().splitlines()[:keep_train]
    with open(split, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dst


def _first(root, split='train'):
    """(rgb path, depth path) of the first frame of a split."""
    name = 'nyu_train.txt' if split == 'train' else 'nyu_test.txt'
    rgb, depth = open(osp.join(root, name)).readline().split()[:2]
    return osp.join(root, split, rgb), osp.join(root, split, depth)


def _checkpoint(config, path, nan_head=False, runner_style=False):
    """Save a (randomly initialised) tiny model of ``config`` as an mmengine checkpoint
    (``runner_style``: with the training state a Runner saves, for --resume)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    cfg.model.backbone.update(num_layers=[1, 1, 1, 1], embed_dims=16)
    cfg.model.decode_head.in_channels = [16, 32, 80, 128]
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    if nan_head:
        state['decode_head.depth_pred.bias'].fill_(float('nan'))
    ckpt = dict(state_dict=state, meta=dict(iter=0))
    if runner_style:
        ckpt['meta'].update(epoch=0, iter=1)
        ckpt['message_hub'] = dict(log_scalars={}, runtime_info={}, resumed_keys={})
    torch.save(ckpt, path)
    return path


def _cut(src, dst, size=None):
    """Copy the first ``size`` bytes of ``src`` (default: half) to ``dst``."""
    data = open(src, 'rb').read()
    with open(dst, 'wb') as f:
        f.write(data[:len(data) // 2 if size is None else size])
    return str(dst)


@pytest.fixture(scope='module')
def runs(synthetic_nyu_root, tmp_path_factory):
    """Prepare every faulty input, run all cases concurrently, return name -> result."""
    tmp = tmp_path_factory.mktemp('bad_input')
    cases = {}

    def train(name, data, *extra):
        cases[name] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                       str(tmp / f'work_{name}'), '--cfg-options', *_opts(data), *extra]

    def test(name, data, ckpt, *extra, config=QUICKSTART):
        cases[name] = [PY, 'tools/test.py', config, ckpt, '--work-dir',
                       str(tmp / f'work_{name}'), *extra, '--cfg-options', *_opts(data)]

    root = synthetic_nyu_root
    # missing image
    data = _copy_data(root, str(tmp / 'missing'))
    os.remove(_first(data)[0])
    train('missing', data)
    # corrupt image: the JPEG truncated to garbage
    data = _copy_data(root, str(tmp / 'corrupt'))
    with open(_first(data)[0], 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 not a jpeg' * 3)
    train('corrupt', data)
    # 8-bit depth PNG
    data = _copy_data(root, str(tmp / 'depth8'))
    depth = _first(data)[1]
    d16 = cv2.imread(depth, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(depth, (d16 // 256).astype(np.uint8))
    train('depth8', data)
    # all-invalid GT: first test frame and first train frame all zeros
    data = _copy_data(root, str(tmp / 'invalid'))
    for split in ('train', 'test'):
        depth = _first(data, split)[1]
        cv2.imwrite(depth, np.zeros_like(cv2.imread(depth, cv2.IMREAD_UNCHANGED)))
    good = _checkpoint(QUICKSTART, str(tmp / 'quickstart_tiny.pth'))
    test('invalid_test', data, good)
    train('invalid_train', data)
    # NaN prediction
    test('nan_pred', root, _checkpoint(QUICKSTART, str(tmp / 'nan.pth'), nan_head=True))
    # typo'd model argument
    train('typo', root, 'model.decode_head.chanels=64')
    # checkpoint of another model (DGR) for the quickstart model
    other = _checkpoint(DGR, str(tmp / 'dgr_tiny.pth'))
    test('other_ckpt', root, other)
    test('other_ckpt_nonstrict', root, other, '--non-strict')
    train('other_load_from', root, f'load_from={other}')
    # unreadable checkpoints, for test.py, load_from and --resume
    truncated = _cut(good, tmp / 'truncated.pth')
    test('truncated_test', root, truncated)
    train('empty_load_from', root, f'load_from={_cut(good, tmp / "empty.pth", 0)}')
    cases['truncated_resume'] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                                 str(tmp / 'work_truncated_resume'), '--resume', truncated,
                                 '--cfg-options', *_opts(root)]
    # --resume with an empty work dir; --resume-or-start there
    for name, flag in (('resume_nothing', '--resume'),
                       ('resume_or_start', '--resume-or-start')):
        cases[name] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                       str(tmp / f'work_{name}'), flag, '--cfg-options', *_opts(root)]
    # --resume from another model's Runner checkpoint / from weights only
    other_state = _checkpoint(DGR, str(tmp / 'dgr_runner.pth'), runner_style=True)
    for name, ckpt in (('resume_other', other_state), ('resume_weights_only', good)):
        cases[name] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                       str(tmp / f'work_{name}'), '--resume', ckpt,
                       '--cfg-options', *_opts(root)]
    # mixed precision without a GPU (CPU machines only)
    if not torch.cuda.is_available():
        cases['amp_cpu'] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                            str(tmp / 'work_amp'), '--amp', '--cfg-options',
                            *_opts(root)]
    # loss becomes NaN: lr=inf turns the weights NaN at the update of iteration 1
    cases['nonfinite'] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                          str(tmp / 'work_nonfinite'), '--cfg-options',
                          *_opts(root, iters=4, ckpt_interval=1),
                          'optim_wrapper.optimizer.lr=inf']

    # loss becomes NaN at iteration 1: std=0 normalisation makes the inputs inf
    cases['nan_loss'] = [PY, 'tools/train.py', QUICKSTART, '--work-dir',
                         str(tmp / 'work_nan_loss'), '--cfg-options',
                         *_opts(root, iters=4, ckpt_interval=1),
                         'model.data_preprocessor.std=[0.0,0.0,0.0]']

    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))

    def run(item):
        name, cmd = item
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=900)
        return name, proc

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        results = dict(pool.map(run, cases.items()))
    results['_tmp'] = tmp
    return results


def _failed_with(proc, *needles):
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, 'expected a failure:\n' + log[-3000:]
    tail = proc.stderr[-4000:]
    for needle in needles:
        assert needle in tail, f'{needle!r} not in the error:\n{tail}'


def test_missing_image_names_the_file(runs):
    rgb = _first(str(runs['_tmp'] / 'missing'))[0]
    _failed_with(runs['missing'], 'FileNotFoundError', rgb)


def test_corrupt_image_names_the_file(runs):
    rgb = _first(str(runs['_tmp'] / 'corrupt'))[0]
    _failed_with(runs['corrupt'], 'cannot decode image', rgb)


def test_8bit_depth_png_names_the_file(runs):
    depth = _first(str(runs['_tmp'] / 'depth8'))[1]
    _failed_with(runs['depth8'], depth, '16-bit')


def test_all_invalid_gt_image_is_a_counted_skip_in_evaluation(runs):
    proc = runs['invalid_test']
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    rgb = _first(str(runs['_tmp'] / 'invalid'), 'test')[0]
    assert f'skipping {rgb}' in log, log[-3000:]
    # DepthEvalMetric's table (header line, rule, values): one image evaluated, one skipped
    lines = log.splitlines()
    at = max(i for i, line in enumerate(lines) if '| num_skipped |' in line)
    cols = [c.strip() for c in lines[at].split('|')]
    row = [c.strip() for c in lines[at + 2].split('|')]
    assert row[cols.index('num_images')] == '1', (cols, row)
    assert row[cols.index('num_skipped')] == '1', (cols, row)


def test_all_invalid_gt_image_in_a_train_batch_adds_no_nan(runs):
    proc = runs['invalid_train']
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert 'Non-finite' not in proc.stdout + proc.stderr


def test_nan_prediction_is_an_error_naming_the_image(runs, synthetic_nyu_root):
    rgb = _first(synthetic_nyu_root, 'test')[0]
    _failed_with(runs['nan_pred'], rgb, 'NaN')


def test_typo_in_a_model_argument_names_the_key(runs):
    _failed_with(runs['typo'], 'chanels')


def test_checkpoint_of_another_model_is_an_error_naming_it(runs):
    ckpt = str(runs['_tmp'] / 'dgr_tiny.pth')
    _failed_with(runs['other_ckpt'], 'CheckpointMismatchError', ckpt, 'missing keys',
                 'unexpected keys', 'backbone.', '--non-strict')


def test_non_strict_flag_loads_another_models_checkpoint_with_a_warning(runs):
    proc = runs['other_ckpt_nonstrict']
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    ckpt = str(runs['_tmp'] / 'dgr_tiny.pth')
    assert f'checkpoint {ckpt} does not match the model' in log
    assert 'missing keys' in log


def test_load_from_another_model_in_training_warns_about_missing_keys(runs):
    proc = runs['other_load_from']
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    ckpt = str(runs['_tmp'] / 'dgr_tiny.pth')
    assert f'checkpoint {ckpt} does not match the model' in log
    assert 'missing keys' in log and 'unexpected keys' in log


def test_truncated_checkpoint_in_test_py_names_the_file(runs):
    _failed_with(runs['truncated_test'], 'CheckpointLoadError',
                 str(runs['_tmp'] / 'truncated.pth'), 'is truncated')


def test_empty_checkpoint_as_load_from_names_the_file(runs):
    _failed_with(runs['empty_load_from'], 'CheckpointLoadError',
                 str(runs['_tmp'] / 'empty.pth'), 'is empty (0 bytes)')


def test_truncated_checkpoint_for_resume_names_the_file(runs):
    _failed_with(runs['truncated_resume'], str(runs['_tmp'] / 'truncated.pth'),
                 'is truncated')


def test_resume_with_nothing_to_resume_names_the_work_dir(runs):
    work = str(runs['_tmp'] / 'work_resume_nothing')
    _failed_with(runs['resume_nothing'], f'nothing to resume in the work dir {work}',
                 '--resume-or-start')
    assert not osp.isdir(work) or not [p for p in os.listdir(work) if p.endswith('.pth')]


def test_resume_or_start_starts_from_iteration_0_when_there_is_nothing(runs):
    proc = runs['resume_or_start']
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert osp.isfile(runs['_tmp'] / 'work_resume_or_start' / 'iter_2.pth')


def test_resume_from_another_model_is_strict(runs):
    _failed_with(runs['resume_other'], 'CheckpointMismatchError',
                 str(runs['_tmp'] / 'dgr_runner.pth'), 'missing keys')


def test_resume_from_weights_only_names_the_file_and_suggests_load_from(runs):
    ckpt = str(runs['_tmp'] / 'quickstart_tiny.pth')
    _failed_with(runs['resume_weights_only'], f'cannot resume from checkpoint {ckpt}',
                 'no training state', 'load_from=')


def test_amp_without_gpu_is_a_clear_error(runs):
    if 'amp_cpu' not in runs:
        pytest.skip('a GPU is available: --amp trains')
    _failed_with(runs['amp_cpu'], '--amp', 'needs a GPU')
    assert 'AmpOptimWrapper`` is only available' not in runs['amp_cpu'].stderr


def test_nan_loss_stops_training_naming_the_iteration_without_a_checkpoint(runs):
    _failed_with(runs['nan_loss'], 'FloatingPointError', 'Non-finite loss at iteration 1',
                 'loss=nan')
    work = runs['_tmp'] / 'work_nan_loss'
    assert not [p for p in os.listdir(work) if p.endswith('.pth')]


def test_diverging_update_stops_training_naming_the_iteration_without_its_checkpoint(runs):
    # lr=inf: the loss of iteration 1 is finite (computed before the update), the update
    # makes the weights NaN; the loss would only show it at iteration 2, after
    # iter_1.pth had been saved with NaN weights. NonFiniteLossHook(check_weights=True)
    # stops at iteration 1 instead, before CheckpointHook runs.
    proc = runs['nonfinite']
    _failed_with(proc, 'FloatingPointError', 'Non-finite weights after the update of '
                 'iteration 1')
    work = runs['_tmp'] / 'work_nonfinite'
    assert not [p for p in os.listdir(work) if p.endswith('.pth')]
