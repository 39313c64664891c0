"""tools/test.py --out / --show-dir on generated KITTI data whose two test drives have
frames of equal base names: one file per frame, at its path relative to the image
folder, and the counts in the result JSON."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch

from tests.conftest import REPO_ROOT

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
TINY = ['model.backbone.num_layers=[1,1,1,1]', 'model.backbone.embed_dims=16',
        'model.decode_head.in_channels=[16,32,80,128]']


@pytest.fixture(scope='module')
def kitti_two_drives(tmp_path_factory):
    """6 test lines from 2 drives (3 frames each, frame 0 without GT): 4 evaluated
    frames with only 2 distinct base names (0000000001.png, 0000000002.png)."""
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('kitti_two_drives'))
    generate_dataset(root, kind='kitti', num_train=2, num_test=6, height=48, width=160,
                     seed=0, progress=False, num_workers=0, views_per_job=3)
    return root


def _kitti_config(tmp_path, data_root):
    """The quickstart model on the generated KITTI layout (no KB crop: 48x160 frames)."""
    path = tmp_path / 'kitti_tiny.py'
    path.write_text(f'''
_base_ = {QUICKSTART!r}
_pipeline = [dict(type='LoadRGBFromFile'), dict(type='LoadDepthFromFile'),
             dict(type='PackDepthInputs')]
_dataset = dict(type='KITTIDepthDataset', data_root={data_root!r},
                split_file='kitti_eigen_test.txt', depth_scale=256.0, test_mode=True,
                data_prefix=dict(img_path='', depth_map_path=''), pipeline=_pipeline)
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                       dataset=_dataset, _delete_=True,
                       sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='DepthEvalMetric', crop='none', max_depth=80.0,
                      edge_metrics=False, _delete_=True)
''')
    return str(path)


def _checkpoint(path):
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(QUICKSTART)
    cfg.model.backbone.update(num_layers=[1, 1, 1, 1], embed_dims=16)
    cfg.model.decode_head.in_channels = [16, 32, 80, 128]
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta=dict(iter=0)),
               path)
    return str(path)


def test_test_py_keeps_every_prediction_and_panel_of_equal_basenames(
        kitti_two_drives, tmp_path):
    config = _kitti_config(tmp_path, kitti_two_drives)
    out, show, work = tmp_path / 'pred', tmp_path / 'show', tmp_path / 'work'
    env = dict(os.environ, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', config, _checkpoint(tmp_path / 'tiny.pth'),
         '--work-dir', str(work), '--out', str(out), '--show-dir', str(show),
         '--cfg-options', *TINY],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with open(osp.join(kitti_two_drives, 'kitti_eigen_test.txt')) as f:
        frames = [ln.split()[0] for ln in f if ln.split()[1] != 'None']
    assert len(frames) == 4 and len({osp.basename(p) for p in frames}) == 2
    preds = sorted(osp.relpath(p, out) for p in
                   glob.glob(str(out / '**' / '*.png'), recursive=True))
    assert preds == sorted(frames)  # the split's relative paths, 4 files
    for rel in preds:
        png = cv2.imread(str(out / rel), cv2.IMREAD_UNCHANGED)
        assert png.dtype == 'uint16' and png.shape == (48, 160)
    panels = sorted(osp.relpath(p, show) for p in
                    glob.glob(str(show / '**' / '*.png'), recursive=True))
    assert panels == sorted(frames)  # no "x.png_0.png" double extensions
    with open(out / 'per_image_metrics.csv') as f:
        rows = f.read().splitlines()[1:]
    assert len(rows) == 4

    # the result JSON keeps the counts (mmengine used to write null for them)
    result = [p for p in glob.glob(str(work / '*' / '*.json'))
              if osp.basename(p) != 'run_record.json']  # the provenance record beside it
    assert len(result) == 1, result
    with open(result[0]) as f:
        metrics = json.load(f)
    assert metrics['num_images'] == 4 and metrics['num_skipped'] == 0
    assert metrics['abs_rel'] > 0
