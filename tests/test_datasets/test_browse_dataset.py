"""tools/analysis_tools/browse_dataset.py on a tiny generated folder dataset."""
import importlib.util
import os.path as osp

import cv2
import matplotlib
import numpy as np

from mmdepth_dgr.visualization import INVALID_COLOR


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
    canvas = cv2.imread(str(out_dir / files[0]))[..., ::-1]  # RGB
    # two titled panels (22 px title, 52 px colour bar), 30 px wide frames enlarged
    # 9x to 270 px, 6 px apart
    assert canvas.shape == (22 + 180 + 52, 270 + 6 + 270, 3)
    image = canvas[22:202, :270:9][::9]
    rgb = cv2.imread(str(tmp_path / 'data' / 'rgb' / '0.png'))[..., ::-1]
    np.testing.assert_array_equal(image, rgb)
    depth_vis = canvas[22:202, 276:][::9, ::9]
    assert (depth_vis[:5] == INVALID_COLOR).all()  # invalid depth: grey
    # scaled to the valid range (1..9 m): the colormap's two ends are both used
    valid = depth_vis[5:].reshape(-1, 3)
    ends = (np.array(matplotlib.colormaps['turbo']([0.0, 1.0])[:, :3]) * 255).astype(int)
    d = np.linspace(1, 9, 20 * 30).reshape(20, 30)[5:].ravel()
    lo_px, hi_px = valid[d.argmin()].astype(int), valid[d.argmax()].astype(int)
    assert np.abs(lo_px - ends[0]).max() <= 12 and np.abs(hi_px - ends[1]).max() <= 12
    bar = canvas[202:, 276:].astype(int)
    assert ((bar.max(axis=2) - bar.min(axis=2)) > 60).sum() > 300  # a colour bar


def test_browse_dataset_fixed_range_options(tmp_path, repo_root):
    tool = _load_tool(repo_root)
    d = np.array([[2.0, 4.0]], np.float32)
    img = np.zeros((1, 2, 3), np.uint8)
    canvas = tool.draw_sample(img, d, min_depth=0.0, max_depth=8.0, cmap='gray',
                              min_panel_width=0)
    px = canvas[22, 2 + 6:][:2]  # depth panel row
    assert abs(int(px[0, 0]) - round(255 * 2 / 8)) <= 1
    assert abs(int(px[1, 0]) - round(255 * 4 / 8)) <= 1
