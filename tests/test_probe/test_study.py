"""mmdepth_dgr.probe.study (run by tools/analysis_tools/sparse_pixel_probe.py): the
CNN-vs-Transformer sparse-pixel study
(Yao et al., BMVC 2024, Sec. 3.1, Eq. 4) end to end on a tiny MiT + a tiny ResNet trained
1 iteration on 64x96 generated scenes; the cross-evaluation fields, the mask-location
statistics (checked on hand-made masks) and the figure."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.runner import Runner

from mmdepth_dgr.probe import study
from tests.conftest import tiny_runner_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAIR = osp.join(REPO, 'configs/cnn_vs_transformer')
MIT = 'hu-pair_mit-b0_1xb4-600iter_synnyu-240x320.py'
R18 = 'hu-pair_r18_1xb4-600iter_synnyu-240x320.py'
HEAD = ("decode_head=dict(in_channels={}, channels=32, mff_pre_reduce=4, mff_channels=4, "
        "refine_channels=8)")
TINY = {
    'transformer': (f"_base_ = [{osp.join(PAIR, MIT)!r}]\n"
                    "model = dict(backbone=dict(embed_dims=8, num_layers=[1, 1, 1, 1], "
                    "drop_path_rate=0.0),\n    " + HEAD.format([8, 16, 40, 64]) + ")\n"),
    'cnn': (f"_base_ = [{osp.join(PAIR, R18)!r}]\n"
            "model = dict(backbone=dict(stem_channels=8, base_channels=8),\n    " +
            HEAD.format([8, 16, 32, 64]) + ")\n"),
}


def _tool():
    return study


@pytest.fixture(scope='module')
def tiny_pair(tmp_path_factory, synthetic_nyu_root):
    """{side: (config, checkpoint)} for a tiny CNN and a tiny MiT trained 1 iteration."""
    root = tmp_path_factory.mktemp('tiny_pair')
    out = {}
    for side, text in TINY.items():
        config = root / f'tiny_{side}.py'
        config.write_text(text)
        work = str(root / side)
        cfg = tiny_runner_cfg(str(config), work, synthetic_nyu_root, max_iters=1)
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.experiment_name = f'tiny_pair_{side}'
        cfg.visualizer.name = f'tiny_pair_vis_{side}'
        Runner.from_cfg(cfg).train()
        out[side] = (str(config), osp.join(work, 'iter_1.pth'))
    return out


def _argv(tiny_pair, work_dir, root, *extra):
    return [*tiny_pair['cnn'], *tiny_pair['transformer'], '--work-dir', str(work_dir),
            '--iters', '2', '--batch-size', '2', '--data-root', root, '--num-figures', '1',
            *extra, '--cfg-options', 'model.mask_net.widths=[4,8]', 'log_level=WARNING']


def test_tool_trains_both_masks_cross_evaluates_and_writes_the_figure(
        tiny_pair, synthetic_nyu_root, tmp_path, capsys):
    tool = _tool()
    res = tool.main(_argv(tiny_pair, tmp_path, synthetic_nyu_root, '--density', '0.2'))
    labels = [r[0] for r in tool.ROWS]
    assert labels == ['N_t(I)', 'N_c(I)', 'N_t(I·M_t)', 'N_t(I·M_c)', 'N_c(I·M_c)',
                      'N_c(I·M_t)']
    assert res['num_images'] == 2
    for label in labels:
        row = res['cross_eval'][label]
        assert set(row) == {'rmse_gt', 'abs_rel_gt', 'rmse_self', 'abs_rel_self', 'density'}
        assert all(np.isfinite(v) for v in row.values()), (label, row)
    for label in ('N_t(I)', 'N_c(I)'):  # the full image against itself
        assert res['cross_eval'][label]['rmse_self'] == 0.0
    for side in ('cnn', 'transformer'):
        where = res['mask_location'][side]
        assert where['density'] == pytest.approx(0.2, abs=0.01)  # top-k per image
        assert 0.09 <= where['grad_chance'] <= 0.2
        assert 0 <= where['grad_share'] <= 1 and 0 <= where['edge_share'] <= 1
        assert osp.isfile(osp.join(tmp_path, side, 'iter_2.pth'))
    table = (tmp_path / 'results.md').read_text()
    assert '| N_c(I·M_t) |' in table and 'on top-10 % image gradient' in table
    assert table in capsys.readouterr().out
    assert json.loads((tmp_path / 'results.json').read_text())['density'] == 0.2
    assert len(res['figures']) == 1
    fig = cv2.imread(res['figures'][0])
    assert fig.shape == (64 + 14, 7 * 96, 3)

    # --resume: the finished runs are reloaded, not retrained (same G checkpoints).
    mtime = osp.getmtime(osp.join(tmp_path, 'cnn', 'iter_2.pth'))
    again = tool.main(_argv(tiny_pair, tmp_path, synthetic_nyu_root, '--density', '0.2',
                            '--resume', '--num-test', '1'))
    assert osp.getmtime(osp.join(tmp_path, 'cnn', 'iter_2.pth')) == mtime
    assert again['num_images'] == 1
    assert np.isfinite(again['cross_eval']['N_c(I·M_t)']['rmse_gt'])


def test_mask_location_counts_on_hand_made_masks():
    tool = _tool()
    grad = np.arange(100, dtype=np.float32).reshape(10, 10)
    top = tool.top_decile(grad)
    assert top.sum() == 10 and top[9].all()  # the last row holds the 10 largest values
    edge = np.zeros((10, 10), bool)
    edge[:, 0] = True
    valid = np.ones((10, 10), bool)
    counts = tool._Counts()
    mask = np.zeros((10, 10), bool)
    mask[9, :5] = True  # 5 pixels, all in the top decile, one on the edge column
    counts.add(mask, top, edge, valid)
    r = counts.result()
    assert r['density'] == pytest.approx(0.05)
    assert r['grad_share'] == 1.0 and r['grad_chance'] == pytest.approx(0.1)
    assert r['grad_ratio'] == pytest.approx(10.0)
    assert r['edge_share'] == pytest.approx(0.2) and r['edge_chance'] == pytest.approx(0.1)
    assert r['edge_ratio'] == pytest.approx(2.0)


def test_tool_names_a_missing_checkpoint(tiny_pair, tmp_path):
    argv = [tiny_pair['cnn'][0], str(tmp_path / 'missing.pth'), *tiny_pair['transformer']]
    with pytest.raises(FileNotFoundError, match='cnn_checkpoint.*missing.pth'):
        _tool().main(argv)


def test_command_line_tool_runs_the_study_and_names_a_missing_file(tiny_pair, tmp_path):
    """tools/analysis_tools/sparse_pixel_probe.py is the study's command line."""
    argv = [tiny_pair['cnn'][0], str(tmp_path / 'missing.pth'), *tiny_pair['transformer']]
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/analysis_tools/sparse_pixel_probe.py'), *argv],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode != 0
    assert 'cnn_checkpoint not found' in proc.stderr and 'missing.pth' in proc.stderr


def test_study_writes_a_run_record_with_provenance_and_results(
        tiny_pair, synthetic_nyu_root, tmp_path):
    extra_path = tmp_path / 'copy' / 'record.json'
    argv = [*tiny_pair['cnn'], *tiny_pair['transformer'], '--work-dir', str(tmp_path),
            '--iters', '1', '--batch-size', '1', '--data-root', synthetic_nyu_root,
            '--num-test', '1', '--num-figures', '0', '--density', '0.25', '--seed', '7',
            '--lam', '3', '--record', str(extra_path),
            '--cfg-options', 'model.mask_net.widths=[4,8]', 'log_level=WARNING']
    res = study.main(argv)
    with open(tmp_path / 'probe_record.json', encoding='utf-8') as f:
        rec = json.load(f)
    assert json.loads(extra_path.read_text()) == rec  # --record writes the same record
    # provenance (make_run_record)
    assert rec['command'].startswith('python tools/analysis_tools/sparse_pixel_probe.py ')
    assert "model.mask_net.widths=[4,8]" in rec['command']
    assert len(rec['git']['commit']) == 40 and isinstance(rec['git']['dirty'], bool)
    assert rec['data_root'] == synthetic_nyu_root
    assert rec['data']['content_sha256'] and rec['data']['kind'] == 'nyu'
    assert rec['versions']['torch'] and rec['versions']['mmengine'] == '0.10.7'
    assert rec['device']['type'] in ('cpu', 'cuda') and rec['device']['torch_threads'] >= 1
    # the study's settings and results
    assert rec['tool'] == 'sparse_pixel_probe'
    assert rec['seed'] == 7 and rec['density'] == 0.25 and rec['threshold'] is None
    assert rec['lam'] == {'cnn': 3.0, 'transformer': 3.0}
    assert rec['iters'] == {'cnn': 1, 'transformer': 1}
    assert rec['results']['num_images'] == 1
    assert set(rec['results']['cross_eval']) == {r[0] for r in study.ROWS}
    assert rec['results']['cross_eval'] == res['cross_eval']  # JSON keeps floats exactly
    assert set(rec['results']['mask_location']) == {'cnn', 'transformer'}
    assert rec['results']['mask_location']['cnn']['density'] == pytest.approx(0.25, abs=0.01)
