"""tools/analysis_tools/browse_dataset.py on a tiny generated folder dataset."""
import importlib.util
import os.path as osp

import cv2
import numpy as np


def _load_tool(repo_root):
    path = osp.join(repo_root, 'tools', 'analysis_tools', 'browse_dataset.py')
    spec = importlib.util.spec_from_file_location('browse_dataset', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_browse_dataset_writes_rgb_and_depth_side_by_side(tmp_path, repo_root,
                                                          write_rgb, write_depth):
    for i in range(3):
        write_rgb(tmp_path / 'data' / 'rgb' / f'{i}.png', 20, 30, seed=i)
        d = np.linspace(1, 9, 20 * 30).reshape(20, 30)
        d[:5] = 0  # invalid band
        write_depth(tmp_path / 'data' / 'depth' / f'{i}.png', d, scale=1000.0)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"""
default_scope = 'mmseg'
train_dataloader = dict(dataset=dict(
    type='DepthFolderDataset', data_root={str(tmp_path / 'data')!r},
    data_prefix=dict(img_path='rgb', depth_map_path='depth'), depth_scale=1000.0,
    pipeline=[dict(type='LoadRGBFromFile'), dict(type='LoadDepthFromFile'),
              dict(type='RandomFlip', prob=0.0), dict(type='PackDepthInputs')]))
""")
    out_dir = tmp_path / 'out'
    tool = _load_tool(repo_root)
    assert tool.main([str(cfg), '--output-dir', str(out_dir), '--num', '2']) == 0
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ['00000_0.png', '00001_1.png']
    canvas = cv2.imread(str(out_dir / files[0]))
    assert canvas.shape == (20, 60, 3)
    # left panel is the image itself (BGR round trip), right panel the depth colours
    np.testing.assert_array_equal(canvas[:, :30],
                                  cv2.imread(str(tmp_path / 'data' / 'rgb' / '0.png')))
    right = canvas[:, 30:]
    assert (right[:5] == 0).all()  # invalid depth is black
    assert (right[5:].reshape(-1, 3).max(axis=1) >= 40).all()  # valid never near-black
