import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmdepth_dgr.datasets import KITTIDepthDataset
from mmdepth_dgr.datasets.kitti import KITTI_FOCALS

KITTI_TRAIN_PIPELINE = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='KBCrop'),
    dict(type='RandomRotateDepth', degree=1.0),
    dict(type='RandomCropDepth', crop_size=(352, 704)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomGammaBrightnessColor', prob=0.5, brightness_range=(0.9, 1.1)),
    dict(type='PackDepthInputs'),
]
KITTI_TEST_PIPELINE = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='KBCrop'),
    dict(type='PackDepthInputs'),
]


@pytest.fixture
def log_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(KITTIDepthDataset, '_log',
                        staticmethod(lambda msg, level='INFO': calls.append(msg)))
    return calls


def _eigen_test(samples_dir, **kw):
    return KITTIDepthDataset(
        split_file=osp.join(samples_dir, 'splits', 'kitti_eigen_test.txt'),
        data_root='data/kitti',
        data_prefix=dict(img_path='raw', depth_map_path='gt'), **kw)


def test_real_eigen_test_list_yields_652_evaluable(samples_dir, log_calls):
    ds = _eigen_test(samples_dir, test_mode=True)
    assert len(ds) == 652 and ds.num_no_gt == 45
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert all(i['depth_map_path'] is not None for i in infos)
    assert infos[0]['img_path'] == \
        'data/kitti/raw/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png'
    assert infos[0]['depth_map_path'] == ('data/kitti/gt/2011_09_26_drive_0002_sync/'
                                          'proj_depth/groundtruth/image_02/0000000069.png')
    assert infos[0]['depth_scale'] == 256.0
    # focal of each line is the per-date P_rect_02 fx
    assert all(i['focal'] == KITTI_FOCALS[i['category']] for i in infos)
    assert len(log_calls) == 1 and '45 of 697' in log_calls[0]


def test_none_gt_lines_are_skipped_in_training_too(tmp_path, write_text, log_calls):
    split = write_text(tmp_path / 's.txt',
                       '2011_09_26/d/image_02/data/1.png d/gt/1.png 721.5377\n'
                       '2011_09_26/d/image_02/data/2.png None 721.5377\n'
                       '2011_09_26/d/image_02/data/3.png d/gt/3.png 721.5377\n')
    ds = KITTIDepthDataset(split_file=split)
    assert len(ds) == 2 and ds.num_no_gt == 1
    assert [ds.get_data_info(i)['img_path'][-5:] for i in range(2)] == ['1.png', '3.png']
    assert len(log_calls) == 1 and '1 of 3' in log_calls[0]


def test_keep_no_gt_keeps_all_697_lines(samples_dir, log_calls):
    ds = _eigen_test(samples_dir, test_mode=True, keep_no_gt=True)
    assert len(ds) == 697
    assert sum(ds.get_data_info(i)['depth_map_path'] is None for i in range(697)) == 45


def test_no_none_lines_logs_nothing(tmp_path, write_text, log_calls):
    split = write_text(tmp_path / 's.txt', '2011_09_26/d/image_02/data/1.png x.png 7')
    KITTIDepthDataset(split_file=split)
    assert log_calls == []


def test_depth_date_subdir_for_newcrfs_layout(tmp_path, write_text):
    split = write_text(
        tmp_path / 's.txt', '2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0.png '
        '2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0.png 721.5377')
    ds = KITTIDepthDataset(split_file=split, data_prefix=dict(img_path='r',
                                                              depth_map_path='g'),
                           depth_date_subdir=True)
    assert ds.get_data_info(0)['depth_map_path'] == (
        'g/2011_09_26/2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0.png')


def _benchmark_tree(root, write_rgb, write_depth, date='2011_09_26', n=2):
    drive = f'{date}_drive_0001_sync'
    for i in range(5, 5 + n):
        name = f'{i:010d}.png'
        write_depth(root / 'gt' / 'val' / drive / 'proj_depth' / 'groundtruth' /
                    'image_02' / name, np.full((4, 6), 10.0), scale=256.0)
        write_rgb(root / 'raw' / date / drive / 'image_02' / 'data' / name, 4, 6)
    return drive


def test_benchmark_layout_scan_pairs_raw_rgb_and_focal_table(tmp_path, write_rgb,
                                                             write_depth):
    drive = _benchmark_tree(tmp_path, write_rgb, write_depth)
    (tmp_path / 'gt' / 'val' / 'README.txt').write_text('not a drive')
    ds = KITTIDepthDataset(layout='benchmark', data_root=str(tmp_path),
                           data_prefix=dict(img_path='raw', depth_map_path='gt/val'),
                           pipeline=[dict(type='LoadRGBFromFile'),
                                     dict(type='LoadDepthFromFile'),
                                     dict(type='PackDepthInputs')])
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(str(tmp_path), 'raw', '2011_09_26', drive,
                                        'image_02', 'data', '0000000005.png')
    assert info['focal'] == 721.5377 and info['scene'] == drive
    gt = ds[1]['data_samples'].gt_depth_map.data
    assert float(gt.max()) == 10.0


def test_benchmark_focal_comes_from_calib_file_when_present(tmp_path, write_rgb,
                                                           write_depth):
    _benchmark_tree(tmp_path, write_rgb, write_depth, date='2011_09_28')
    (tmp_path / 'raw' / '2011_09_28' / 'calib_cam_to_cam.txt').write_text(
        'P_rect_00: 1 0 0 0 0 1 0 0 0 0 1 0\nP_rect_02: 700.5 0 600 45 0 700.5 170 0 '
        '0 0 1 0\n')
    ds = KITTIDepthDataset(layout='benchmark', data_root=str(tmp_path),
                           data_prefix=dict(img_path='raw', depth_map_path='gt/val'))
    assert ds.get_data_info(0)['focal'] == 700.5


def test_benchmark_unknown_date_without_calib_is_an_error(tmp_path, write_rgb,
                                                         write_depth):
    _benchmark_tree(tmp_path, write_rgb, write_depth, date='2012_01_01')
    with pytest.raises(ValueError, match='2012_01_01'):
        KITTIDepthDataset(layout='benchmark', data_root=str(tmp_path),
                          data_prefix=dict(img_path='raw', depth_map_path='gt/val'))


def test_benchmark_empty_folder_is_an_error(tmp_path):
    (tmp_path / 'gt').mkdir()
    with pytest.raises(ValueError, match='gt'):
        KITTIDepthDataset(layout='benchmark', data_root=str(tmp_path),
                          data_prefix=dict(img_path='raw', depth_map_path='gt'))


def _real_kitti_split(tmp_path):
    split = tmp_path / 'kitti_samples.txt'
    split.write_text('\n'.join(f'rgb/{i}.png depth/{i}.png 707.0493'
                               for i in ('0000000005', '0000000050', '0000000100')))
    return str(split)


def test_real_kitti_samples_test_pipeline_kb_crop(tmp_path, samples_dir):
    ds = KITTIDepthDataset(split_file=_real_kitti_split(tmp_path),
                           data_root=osp.join(samples_dir, 'kitti_metric3d'),
                           pipeline=KITTI_TEST_PIPELINE, test_mode=True,
                           check_files=True)
    for i in range(3):
        out = ds[i]
        assert out['inputs'].shape == (3, 352, 1216)
        meta = out['data_samples'].metainfo
        assert meta['kb_crop'] == (23, 13, 375, 1242)
        assert meta['ori_shape'] == (375, 1242) and meta['focal'] == 707.0493
        gt = out['data_samples'].gt_depth_map.data.numpy()
        valid = gt[gt > 0]
        assert 5.0 <= valid.min() and valid.max() <= 85.0
        # the 23 dropped top rows are sky (no LiDAR): valid share ~ 375/352 * 18-21 %
        assert 0.17 <= valid.size / gt.size <= 0.24


def test_real_kitti_samples_train_pipeline(tmp_path, samples_dir):
    ds = DATASETS.build(dict(type='KITTIDepthDataset',
                             split_file=_real_kitti_split(tmp_path),
                             data_root=osp.join(samples_dir, 'kitti_metric3d'),
                             pipeline=KITTI_TRAIN_PIPELINE))
    out = ds[0]
    assert out['inputs'].shape == (3, 352, 704)
    gt = out['data_samples'].gt_depth_map.data.numpy()
    valid = gt[gt > 0]
    assert 5.0 <= valid.min() and valid.max() <= 85.0
    np.testing.assert_allclose(valid * 256.0, np.round(valid * 256.0), atol=1e-3)


def test_list_with_only_none_gt_is_an_error_naming_it(tmp_path, write_text, log_calls):
    split = write_text(tmp_path / 'none.txt', 'a/b/image_02/data/1.png None 721.5377')
    with pytest.raises(ValueError, match='no samples') as e:
        KITTIDepthDataset(split_file=split)
    assert split in str(e.value)
