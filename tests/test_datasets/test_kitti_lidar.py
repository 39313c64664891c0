"""Tests of the KITTI Velodyne -> sparse depth projection (mmdepth_dgr.datasets.kitti_lidar)."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdepth_dgr.datasets.kitti_lidar import (project_to_sparse_depth, read_kitti_calib,
                                              read_velodyne_bin, velo_to_image_matrix,
                                              velodyne_to_depth_map)

K = np.array([[10.0, 0.0, 2.0], [0.0, 10.0, 2.0], [0.0, 0.0, 1.0]])
P = np.concatenate([K, np.zeros((3, 1))], axis=1)


def test_projection_keeps_nearest_point_per_pixel_and_drops_invalid():
    pts = np.array([
        [0.0, 0.0, 5.0],    # -> pixel (2, 2), depth 5
        [0.0, 0.0, 3.0],    # same pixel, nearer: wins
        [0.02, 0.0, 4.0],   # u = 10*0.02/4 + 2 = 2.05 -> still (2, 2), farther than 3
        [0.4, -0.2, 2.0],   # u = 4, v = 1
        [0.0, 0.0, -2.0],   # behind the camera
        [10.0, 0.0, 1.0],   # u = 102: outside
    ])
    depth = project_to_sparse_depth(pts, P, 5, 5)
    expected = np.zeros((5, 5), np.float32)
    expected[2, 2] = 3.0
    expected[1, 4] = 2.0
    np.testing.assert_array_equal(depth, expected)
    capped = project_to_sparse_depth(pts, P, 5, 5, max_depth_m=2.5)
    assert capped[2, 2] == 0 and capped[1, 4] == 2.0


def test_projection_result_does_not_depend_on_point_order():
    rng = np.random.default_rng(0)
    pts = rng.uniform([-2, -2, 1], [2, 2, 9], (500, 3))
    a = project_to_sparse_depth(pts, P, 5, 5)
    b = project_to_sparse_depth(pts[rng.permutation(500)], P, 5, 5)
    np.testing.assert_array_equal(a, b)


def _write_calib(path, p2, r0, tr):
    lines = [f'P2: {" ".join(map(str, p2.ravel()))}', f'R0_rect: {" ".join(map(str, r0.ravel()))}',
             f'Tr_velo_to_cam: {" ".join(map(str, tr.ravel()))}', 'comment without numbers']
    path.write_text('\n'.join(lines) + '\n')


def test_velo_to_image_matrix_composes_p2_r0_tr(tmp_path):
    rng = np.random.default_rng(1)
    p2 = np.concatenate([K, rng.normal(size=(3, 1))], axis=1)
    r0 = cv2.Rodrigues(np.array([0.01, -0.02, 0.005]))[0]
    # Velodyne (x fwd, y left, z up) -> camera (x right, y down, z fwd), plus a translation.
    tr = np.array([[0, -1, 0, 0.1], [0, 0, -1, -0.08], [1, 0, 0, -0.27]], dtype=float)
    _write_calib(tmp_path / 'calib.txt', p2, r0, tr)
    calib = read_kitti_calib(str(tmp_path / 'calib.txt'))
    m = velo_to_image_matrix(calib)
    x = np.array([7.0, 1.5, -0.8, 1.0])
    cam = r0 @ (tr @ x)
    expected = p2 @ np.append(cam, 1.0)
    np.testing.assert_allclose(m @ x, expected, rtol=1e-12)
    # The point straight ahead lands where P2 puts it, with the camera-2 z-depth.
    depth = velodyne_to_depth_map(x[None, :3], calib, 40, 40)
    u, v = np.rint(expected[:2] / expected[2]).astype(int)
    assert depth[v, u] == pytest.approx(expected[2], rel=1e-6)


def test_bad_files_raise_errors_naming_them(tmp_path):
    bad = tmp_path / 'scan.bin'
    np.zeros(5, np.float32).tofile(bad)
    with pytest.raises(ValueError, match='scan.bin'):
        read_velodyne_bin(str(bad))
    with pytest.raises(FileNotFoundError, match='nope.bin'):
        read_velodyne_bin(str(tmp_path / 'nope.bin'))
    calib = tmp_path / 'c.txt'
    calib.write_text('P2: 1 0 0 0 0 1 0 0 0 0 1 0\n')
    with pytest.raises(KeyError, match='R0_rect'):
        velo_to_image_matrix(read_kitti_calib(str(calib)), path_hint=str(calib))


def test_real_velodyne_frame_gives_sparse_kitti_depth(samples_dir):
    root = osp.join(samples_dir, 'kitti_object_vis')
    img = cv2.imread(osp.join(root, 'image_2_000000.png'))
    velo = read_velodyne_bin(osp.join(root, 'velodyne_000000.bin'))
    calib = read_kitti_calib(osp.join(root, 'calib_000000.txt'))
    depth = velodyne_to_depth_map(velo, calib, *img.shape[:2])
    valid = depth > 0
    assert 0.04 <= valid.mean() <= 0.05
    assert 4.0 <= depth[valid].min() and depth[valid].max() <= 73.0
    # Velodyne returns only reach ~2 deg above the horizon: the top of the image is empty.
    assert not valid[:100].any()


def test_cli_writes_uint16_png_that_round_trips(samples_dir, repo_root, tmp_path, capsys):
    path = osp.join(repo_root, 'tools', 'dataset_converters', 'kitti_lidar_to_depth.py')
    spec = importlib.util.spec_from_file_location('kitti_lidar_to_depth_cli', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    root = osp.join(samples_dir, 'kitti_object_vis')
    out = str(tmp_path / 'd.png')
    args = [osp.join(root, 'velodyne_000000.bin'), osp.join(root, 'calib_000000.txt'),
            '--image', osp.join(root, 'image_2_000000.png'), '--out', out]
    assert cli.main(args) == 0
    assert '% valid' in capsys.readouterr().out
    raw = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (370, 1224)
    direct = velodyne_to_depth_map(read_velodyne_bin(args[0]), read_kitti_calib(args[1]),
                                   370, 1224)
    np.testing.assert_allclose(raw / 256.0, direct, atol=0.5 / 256 + 1e-6)
    assert np.array_equal(raw > 0, direct > 0)
    assert cli.main([args[0], str(tmp_path / 'missing.txt'), '--out', out]) == 2
    assert 'missing.txt' in capsys.readouterr().err
