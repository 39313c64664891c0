"""demo/image_demo.py: PNG / NPY / PLY outputs, folder mode, and the CLI as documented."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py'


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location(
        'image_demo', osp.join(REPO, 'demo', 'image_demo.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_ply(path):
    """Minimal PLY reader (x y z float, r g b uchar), binary_little_endian or ascii."""
    with open(path, 'rb') as f:
        header = []
        while True:
            line = f.readline().decode('ascii').strip()
            header.append(line)
            if line == 'end_header':
                break
        body = f.read()
    assert header[0] == 'ply'
    fmt = next(h.split()[1] for h in header if h.startswith('format'))
    n = int(next(h.split()[2] for h in header if h.startswith('element vertex')))
    props = [h.split()[-1] for h in header if h.startswith('property')]
    assert props == ['x', 'y', 'z', 'red', 'green', 'blue']
    if fmt == 'binary_little_endian':
        dt = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('r', 'u1'),
                       ('g', 'u1'), ('b', 'u1')])
        assert len(body) == n * dt.itemsize
        rec = np.frombuffer(body, dt)
        xyz = np.stack([rec['x'], rec['y'], rec['z']], 1)
        rgb = np.stack([rec['r'], rec['g'], rec['b']], 1)
    else:
        assert fmt == 'ascii'
        arr = np.loadtxt(body.decode('ascii').splitlines(), ndmin=2)
        assert arr.shape == (n, 6)
        xyz, rgb = arr[:, :3], arr[:, 3:].astype(np.uint8)
    return xyz, rgb


def _write_image(path, h=48, w=64, seed=0):
    rng = np.random.RandomState(seed)
    img = cv2.resize(rng.randint(0, 256, (6, 8, 3), dtype=np.uint8), (w, h))
    cv2.imwrite(str(path), img)
    return img


def test_demo_writes_png_npy_and_a_ply_consistent_with_the_focal(demo, tmp_path):
    img = _write_image(tmp_path / 'room.png')
    out_png, out_npy, out_ply = (str(tmp_path / n) for n in ('d.png', 'd.npy', 'd.ply'))
    demo.main([str(tmp_path / 'room.png'), osp.join(REPO, CONFIG), '--checkpoint', 'none',
               '--out-file', out_png, '--out-npy', out_npy, '--out-ply', out_ply])
    vis = cv2.imread(out_png)
    assert vis is not None and vis.shape == (48, 64, 3)
    depth = np.load(out_npy)
    assert depth.shape == (48, 64) and depth.dtype == np.float32
    xyz, rgb = read_ply(out_ply)
    valid = np.isfinite(depth) & (depth > 0)
    assert len(xyz) == valid.sum()
    # back-projection, re-derived: NYU focal scaled to width, centre of the pixel grid
    f = 518.8579 * 64 / 640
    v, u = np.nonzero(valid)
    np.testing.assert_allclose(xyz[:, 2], depth[v, u], rtol=1e-6)
    np.testing.assert_allclose(xyz[:, 0], (u - 31.5) * depth[v, u] / f, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(xyz[:, 1], (v - 23.5) * depth[v, u] / f, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(rgb, img[v, u][:, ::-1])  # BGR image → RGB vertices


def test_points_skip_invalid_pixels_and_ascii_ply_round_trips(demo, tmp_path):
    depth = np.array([[1.0, 0.0], [np.nan, 2.0]], np.float32)
    xyz, rgb = demo.depth_to_points(depth, focal=2.0)
    assert len(xyz) == 2
    np.testing.assert_allclose(xyz, [[-0.25, -0.25, 1.0], [0.5, 0.5, 2.0]])
    path = str(tmp_path / 'a.ply')
    demo.write_ply(path, xyz, rgb, binary=False)
    xyz2, rgb2 = read_ply(path)
    np.testing.assert_allclose(xyz2, xyz, atol=1e-6)
    np.testing.assert_array_equal(rgb2, rgb)


def test_default_focal_scales_with_width_and_preset(demo):
    assert demo.default_focal(640) == pytest.approx(518.8579)
    assert demo.default_focal(320) == pytest.approx(518.8579 / 2)
    assert demo.default_focal(1242, 'kitti') == pytest.approx(721.5377)
    with pytest.raises(ValueError, match='camera'):
        demo.default_focal(640, 'tum')


def test_folder_input_writes_one_output_per_image_with_colorbar(demo, tmp_path):
    src = tmp_path / 'imgs'
    (src / 'sub').mkdir(parents=True)
    _write_image(src / 'a.jpg', 40, 56, seed=1)
    _write_image(src / 'sub' / 'b.png', 36, 44, seed=2)
    (src / 'notes.txt').write_text('not an image')
    written = demo.main([str(src), osp.join(REPO, CONFIG), 'none', '--colorbar',
                         '--out-file', str(tmp_path / 'vis'),
                         '--out-ply', str(tmp_path / 'ply'), '--ply-ascii',
                         '--focal', '100'])
    assert sorted(osp.relpath(w, tmp_path) for w in written) == [
        'ply/a.ply', 'ply/sub/b.ply', 'vis/a.png', 'vis/sub/b.png']
    for w in written:
        if w.endswith('.png'):
            assert cv2.imread(w) is not None  # colour bar image is a readable PNG
    xyz, _ = read_ply(str(tmp_path / 'ply' / 'sub' / 'b.ply'))
    assert len(xyz) == 36 * 44


def test_cli_as_documented_runs(tmp_path):
    _write_image(tmp_path / 'room.jpg')
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'room.jpg'), CONFIG,
         '--checkpoint', 'none', '--out-file', str(tmp_path / 'depth.png'),
         '--out-npy', str(tmp_path / 'depth.npy')],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert cv2.imread(str(tmp_path / 'depth.png')) is not None
    assert np.load(str(tmp_path / 'depth.npy')).shape == (48, 64)


def test_colorbar_output_keeps_the_input_resolution(demo, tmp_path):
    """The depth image is the input's exact size; the colour bar is appended to its
    right, the same height (no resampling of the depth)."""
    _write_image(tmp_path / 'room.png', 120, 200)
    plain, bar = str(tmp_path / 'plain.png'), str(tmp_path / 'bar.png')
    import torch
    args = [str(tmp_path / 'room.png'), osp.join(REPO, CONFIG), 'none']
    torch.manual_seed(0)  # the same random weights for both runs
    demo.main(args + ['--out-file', plain])
    torch.manual_seed(0)
    demo.main(args + ['--out-file', bar, '--colorbar'])
    a, b = cv2.imread(plain), cv2.imread(bar)
    assert a.shape == (120, 200, 3)
    assert b.shape[0] == 120 and 200 + 40 < b.shape[1] < 200 + 120
    np.testing.assert_array_equal(b[:, :200], a)


def test_folder_mode_gives_equal_stems_distinct_outputs(demo, tmp_path):
    src = tmp_path / 'imgs'
    src.mkdir()
    _write_image(src / 'x.jpg', 32, 40, seed=1)
    _write_image(src / 'x.png', 32, 40, seed=2)
    _write_image(src / 'y.png', 32, 40, seed=3)
    written = demo.main([str(src), osp.join(REPO, CONFIG), 'none',
                         '--out-npy', str(tmp_path / 'npy')])
    assert sorted(osp.basename(w) for w in written) == ['x_jpg.npy', 'x_png.npy', 'y.npy']
    a, b = np.load(tmp_path / 'npy' / 'x_jpg.npy'), np.load(tmp_path / 'npy' / 'x_png.npy')
    assert not np.array_equal(a, b)  # two different images, two different predictions


@pytest.mark.parametrize('extra, match', [
    (['--focal', '0', '--out-ply', 'p.ply'], 'focal must be a positive'),
    (['--focal', '-5', '--out-ply', 'p.ply'], 'focal must be a positive'),
    (['--focal', 'nan', '--out-ply', 'p.ply'], 'focal must be a positive'),
    (['--out-file', 'depth'], '--out-file depth has no extension'),
    (['--out-file', 'depth.npy'], "extension '.npy'"),
    (['--out-npy', 'depth.png'], '--out-npy depth.png'),
    (['--out-ply', 'cloud.txt'], '--out-ply cloud.txt'),
    (['--vmin', '5', '--vmax', '2'], '--vmin'),
])
def test_bad_arguments_are_refused_before_the_model_is_built(demo, tmp_path, monkeypatch,
                                                              extra, match):
    _write_image(tmp_path / 'room.png')
    monkeypatch.chdir(tmp_path)

    def no_model(*args, **kwargs):
        raise AssertionError('the model was built before the arguments were checked')

    monkeypatch.setattr(demo, 'init_model', no_model)
    with pytest.raises(ValueError, match=match):
        demo.main([str(tmp_path / 'room.png'), osp.join(REPO, CONFIG), 'none'] + extra)
    assert not [f for f in os.listdir(tmp_path) if f != 'room.png']


def test_folder_mode_refuses_file_names_for_the_outputs(demo, tmp_path, monkeypatch):
    (tmp_path / 'imgs').mkdir()
    _write_image(tmp_path / 'imgs' / 'a.png')
    monkeypatch.setattr(demo, 'init_model', lambda *a, **k: 1 / 0)
    with pytest.raises(ValueError, match='must be a folder'):
        demo.main([str(tmp_path / 'imgs'), osp.join(REPO, CONFIG), 'none',
                   '--out-npy', str(tmp_path / 'depth.npy')])


def test_demo_names_a_corrupt_checkpoint_and_is_strict(demo, tmp_path):
    from mmdepth_dgr.apis import init_model
    from mmdepth_dgr.utils import CheckpointLoadError, CheckpointMismatchError
    _write_image(tmp_path / 'room.png')
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    args = [str(tmp_path / 'room.png'), osp.join(REPO, CONFIG), str(empty),
            '--out-npy', str(tmp_path / 'd.npy')]
    with pytest.raises(CheckpointLoadError, match='empty.pth is empty'):
        demo.main(args)
    other = init_model(osp.join(REPO, CONFIG),
                       cfg_options={'model.decode_head.max_depth': 5.0,
                                    'model.decode_head.channels': 8})
    ckpt = tmp_path / 'other.pth'
    import torch
    torch.save(dict(state_dict=other.state_dict()), ckpt)
    args[2] = str(ckpt)
    with pytest.raises(CheckpointMismatchError, match='other.pth'):
        demo.main(args)
    demo.main(args + ['--non-strict'])
    assert np.load(tmp_path / 'd.npy').shape == (48, 64)
