import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

from mmdepth_dgr.datasets.transforms import LoadDepthFromFile, LoadRGBFromFile, read_depth_png


def _load_depth(path, scale=1000.0, **kw):
    return LoadDepthFromFile(depth_scale=scale, **kw)(
        dict(depth_map_path=path, seg_fields=[]))


def test_depth_png_is_divided_by_scale_and_zero_stays_invalid(tmp_path):
    raw = np.array([[0, 1, 1000], [2500, 40000, 65535]], dtype=np.uint16)
    path = str(tmp_path / 'd.png')
    cv2.imwrite(path, raw)
    out = _load_depth(path, 1000.0)
    gt = out['gt_depth_map']
    assert gt.dtype == np.float32 and gt.shape == (2, 3)
    np.testing.assert_array_equal(gt, raw.astype(np.float32) / np.float32(1000.0))
    assert gt[0, 0] == 0  # invalid stays invalid
    assert out['seg_fields'] == ['gt_depth_map']
    assert out['depth_scale'] == 1000.0


def test_depth_scale_is_taken_from_results_when_not_given(tmp_path, write_depth):
    path = write_depth(tmp_path / 'd.png', np.full((4, 5), 2.0), scale=256.0)
    out = LoadDepthFromFile()(dict(depth_map_path=path, depth_scale=256.0))
    np.testing.assert_array_equal(out['gt_depth_map'], np.full((4, 5), 2.0, np.float32))
    assert out['seg_fields'] == ['gt_depth_map']


def test_missing_depth_scale_names_the_file(tmp_path, write_depth):
    path = write_depth(tmp_path / 'd.png', np.ones((2, 2)))
    with pytest.raises(KeyError, match='depth_scale') as e:
        LoadDepthFromFile()(dict(depth_map_path=path))
    assert path in str(e.value)


def test_missing_depth_file_error_names_it(tmp_path):
    path = str(tmp_path / 'nope' / 'sync_depth_00001.png')
    with pytest.raises(FileNotFoundError) as e:
        _load_depth(path)
    assert path in str(e.value)


def test_corrupt_depth_png_error_names_it(tmp_path):
    path = str(tmp_path / 'corrupt.png')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match='cannot decode') as e:
        _load_depth(path)
    assert path in str(e.value)


def test_empty_depth_file_error_names_it(tmp_path):
    path = str(tmp_path / 'empty.png')
    open(path, 'wb').close()
    with pytest.raises(ValueError) as e:
        _load_depth(path)
    assert path in str(e.value)


def test_8bit_depth_png_is_rejected_with_dtype(tmp_path):
    path = str(tmp_path / 'd8.png')
    cv2.imwrite(path, np.full((3, 4), 7, np.uint8))
    with pytest.raises(ValueError, match='uint8') as e:
        _load_depth(path)
    assert path in str(e.value)


def test_three_channel_16bit_png_is_rejected_with_shape(tmp_path):
    path = str(tmp_path / 'd3.png')
    cv2.imwrite(path, np.full((3, 4, 3), 700, np.uint16))
    with pytest.raises(ValueError, match=r'\(3, 4, 3\)') as e:
        _load_depth(path)
    assert path in str(e.value)


def test_depth_and_image_size_mismatch_names_both_files(tmp_path, write_depth,
                                                        write_rgb):
    img = write_rgb(tmp_path / 'rgb.png', 6, 8)
    dep = write_depth(tmp_path / 'd.png', np.ones((6, 7)))
    results = LoadRGBFromFile()(dict(img_path=img))
    with pytest.raises(ValueError) as e:
        LoadDepthFromFile(depth_scale=1000.0)(dict(results, depth_map_path=dep))
    assert img in str(e.value) and dep in str(e.value)
    assert '(6, 7)' in str(e.value) and '(6, 8)' in str(e.value)


def test_missing_gt_path_raises_unless_allowed(tmp_path):
    with pytest.raises(KeyError, match='img.png'):
        LoadDepthFromFile(depth_scale=1.0)(dict(img_path='img.png',
                                                depth_map_path=None))
    out = LoadDepthFromFile(depth_scale=1.0, allow_missing_gt=True)(
        dict(img_path='img.png', depth_map_path=None))
    assert 'gt_depth_map' not in out


def test_rgb_loader_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError) as e:
        LoadRGBFromFile()(dict(img_path=missing))
    assert missing in str(e.value)
    bad = str(tmp_path / 'bad.jpg')
    with open(bad, 'wb') as f:
        f.write(b'not a jpeg at all')
    with pytest.raises(ValueError) as e:
        LoadRGBFromFile()(dict(img_path=bad))
    assert bad in str(e.value)
    with pytest.raises(ValueError, match='ignore_empty'):
        LoadRGBFromFile(ignore_empty=True)


def test_rgb_loader_channel_order(tmp_path):
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0] = 10  # B in the file (cv2 writes BGR)
    img[..., 2] = 200  # R
    path = str(tmp_path / 'c.png')
    cv2.imwrite(path, img)
    bgr = LoadRGBFromFile()(dict(img_path=path))
    rgb = TRANSFORMS.build(dict(type='LoadRGBFromFile', channel_order='rgb'))(
        dict(img_path=path))
    np.testing.assert_array_equal(bgr['img'], img)
    np.testing.assert_array_equal(rgb['img'], img[..., ::-1])
    assert bgr['ori_shape'] == (2, 3) and bgr['img_shape'] == (2, 3)


def test_real_nyu_sample_depth_range(samples_dir):
    d = osp.join(samples_dir, 'nyu_metric3d', 'depth')
    for name in ('sync_depth_00000.png', 'sync_depth_00050.png',
                 'sync_depth_00100.png'):
        depth = read_depth_png(osp.join(d, name), 1000.0)
        assert depth.shape == (480, 640) and depth.dtype == np.float32
        valid = depth[depth > 0]
        assert 0.67 <= valid.size / depth.size <= 0.76
        assert 0.7 <= valid.min() and valid.max() <= 8.3


def test_real_kitti_sample_depth_range(samples_dir):
    d = osp.join(samples_dir, 'kitti_metric3d', 'depth')
    for name in ('0000000005.png', '0000000050.png', '0000000100.png'):
        depth = read_depth_png(osp.join(d, name), 256.0)
        assert depth.shape == (375, 1242)
        valid = depth[depth > 0]
        assert 0.17 <= valid.size / depth.size <= 0.22  # sparse LiDAR-derived GT
        assert 5.0 <= valid.min() and valid.max() <= 85.0
