import os.path as osp

import numpy as np
import pytest

from mmdepth_dgr.datasets import DepthFolderDataset

PIPE = [dict(type='LoadRGBFromFile'), dict(type='LoadDepthFromFile'),
        dict(type='PackDepthInputs')]


def test_image_only_folder_for_inference(tmp_path, write_rgb):
    write_rgb(tmp_path / 'b.jpg', 4, 5)
    write_rgb(tmp_path / 'sub' / 'a.png', 4, 5)
    (tmp_path / 'notes.txt').write_text('ignored: not an image suffix')
    ds = DepthFolderDataset(data_root=str(tmp_path),
                            pipeline=[dict(type='LoadRGBFromFile'),
                                      dict(type='PackDepthInputs')])
    assert len(ds) == 2
    infos = [ds.get_data_info(i) for i in range(2)]
    assert [osp.relpath(i['img_path'], str(tmp_path)) for i in infos] == \
        ['b.jpg', 'sub/a.png']
    assert all(i['depth_map_path'] is None and i['focal'] is None for i in infos)
    assert 'gt_depth_map' not in ds[0]['data_samples']


def test_pairs_with_declared_scale_and_name_replace(tmp_path, write_rgb, write_depth):
    write_rgb(tmp_path / 'rgb' / 'rgb_00001.jpg', 4, 5)
    write_depth(tmp_path / 'depth' / 'sync_depth_00001.png', np.full((4, 5), 0.5),
                scale=5000.0)
    ds = DepthFolderDataset(data_root=str(tmp_path),
                            data_prefix=dict(img_path='rgb', depth_map_path='depth'),
                            img_suffix='.jpg', depth_name_replace=[('rgb_',
                                                                    'sync_depth_')],
                            depth_scale=5000.0, focal=525.0, pipeline=PIPE)
    info = ds.get_data_info(0)
    assert info['depth_map_path'].endswith('depth/sync_depth_00001.png')
    assert info['depth_scale'] == 5000.0 and info['focal'] == 525.0
    gt = ds[0]['data_samples'].gt_depth_map.data
    assert gt.shape == (1, 4, 5) and float(gt.min()) == float(gt.max()) == 0.5


def test_pairs_in_one_folder(tmp_path, write_rgb, write_depth):
    write_rgb(tmp_path / 'f' / 'x.jpg', 3, 3)
    write_depth(tmp_path / 'f' / 'x_depth.png', np.ones((3, 3)))
    ds = DepthFolderDataset(data_root=str(tmp_path),
                            data_prefix=dict(img_path='f', depth_map_path='f'),
                            depth_suffix='_depth.png', depth_scale=1000.0)
    assert len(ds) == 1 and ds.get_data_info(0)['img_path'].endswith('x.jpg')


def test_missing_depth_for_an_image_is_an_error(tmp_path, write_rgb, write_depth):
    write_rgb(tmp_path / 'rgb' / 'a.png', 3, 3)
    write_rgb(tmp_path / 'rgb' / 'b.png', 3, 3)
    write_depth(tmp_path / 'depth' / 'a.png', np.ones((3, 3)))
    with pytest.raises(FileNotFoundError, match=r'depth/b\.png'):
        DepthFolderDataset(data_root=str(tmp_path),
                           data_prefix=dict(img_path='rgb', depth_map_path='depth'),
                           depth_scale=1000.0)


def test_depth_folder_needs_depth_scale(tmp_path):
    with pytest.raises(ValueError, match='depth_scale'):
        DepthFolderDataset(data_root=str(tmp_path),
                           data_prefix=dict(img_path='', depth_map_path='d'))


def test_empty_or_missing_folder_is_an_error(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty'):
        DepthFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path='empty'))
    with pytest.raises(FileNotFoundError, match='nothere'):
        DepthFolderDataset(data_root=str(tmp_path),
                           data_prefix=dict(img_path='nothere'))


def test_real_kitti_sample_folder_pairs(samples_dir):
    ds = DepthFolderDataset(data_root=osp.join(samples_dir, 'kitti_metric3d'),
                            data_prefix=dict(img_path='rgb', depth_map_path='depth'),
                            depth_scale=256.0, pipeline=PIPE)
    assert len(ds) == 3
    gt = ds[2]['data_samples'].gt_depth_map.data.numpy()
    valid = gt[gt > 0]
    assert gt.shape == (1, 375, 1242) and 5.0 <= valid.min() and valid.max() <= 85.0
