import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmdepth_dgr.datasets import NYUDepthDataset

NYU_TRAIN_PIPELINE = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='NYUBorderCrop'),
    dict(type='RandomRotateDepth', degree=2.5),
    dict(type='RandomCropDepth', crop_size=(416, 544)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomGammaBrightnessColor', prob=0.5),
    dict(type='PackDepthInputs'),
]
NYU_TEST_PIPELINE = [
    dict(type='LoadRGBFromFile'),
    dict(type='LoadDepthFromFile'),
    dict(type='PackDepthInputs'),
]


def test_real_nyu_test_list_has_654_entries_with_bts_focal(samples_dir):
    ds = NYUDepthDataset(
        split_file=osp.join(samples_dir, 'splits', 'nyu_test.txt'),
        data_root='data/nyu',
        data_prefix=dict(img_path='official_splits/test',
                         depth_map_path='official_splits/test'),
        test_mode=True)
    assert len(ds) == 654
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert {i['focal'] for i in infos} == {518.8579}
    first = infos[0]
    assert first['img_path'] == 'data/nyu/official_splits/test/bathroom/rgb_00045.jpg'
    assert first['depth_map_path'] == \
        'data/nyu/official_splits/test/bathroom/sync_depth_00045.png'
    assert first['depth_scale'] == 1000.0 and first['scene'] == 'bathroom'
    assert all(i['depth_map_path'] is not None for i in infos)
    assert ds.metainfo['dataset_name'] == 'nyu'


def test_bts_train_list_with_leading_slash_joins_under_prefix(tmp_path, write_text):
    split = write_text(
        tmp_path / 'train.txt',
        '/kitchen_0028b/rgb_00045.jpg /kitchen_0028b/sync_depth_00045.png 518.8579\n'
        '/living_room_0038/rgb_00001.jpg /living_room_0038/sync_depth_00001.png 518.8579\n')
    ds = NYUDepthDataset(split_file=split, data_root='/data/nyu',
                         data_prefix=dict(img_path='sync', depth_map_path='sync'))
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert a['img_path'] == '/data/nyu/sync/kitchen_0028b/rgb_00045.jpg'
    assert a['depth_map_path'] == '/data/nyu/sync/kitchen_0028b/sync_depth_00045.png'
    assert (a['scene'], a['category']) == ('kitchen_0028b', 'kitchen')
    assert (b['scene'], b['category']) == ('living_room_0038', 'living_room')


def test_relative_split_file_is_joined_to_data_root(tmp_path, write_text):
    write_text(tmp_path / 'lists' / 's.txt', 'a/rgb_1.jpg a/sync_depth_1.png 518.8579')
    ds = NYUDepthDataset(split_file='lists/s.txt', data_root=str(tmp_path))
    assert ds.split_file == osp.join(str(tmp_path), 'lists/s.txt')
    assert len(ds) == 1


def test_check_files_names_missing_file_and_split_line(tmp_path, write_text, write_rgb):
    write_rgb(tmp_path / 'a' / 'rgb_1.jpg', 4, 4)
    split = write_text(tmp_path / 's.txt', 'a/rgb_1.jpg a/sync_depth_1.png 518.8579')
    with pytest.raises(FileNotFoundError) as e:
        NYUDepthDataset(split_file=split, data_root=str(tmp_path), check_files=True)
    msg = str(e.value)
    assert osp.join(str(tmp_path), 'a/sync_depth_1.png') in msg and f'{split}:1' in msg


def test_missing_depth_file_fails_at_load_time_naming_it(tmp_path, write_text,
                                                         write_rgb):
    write_rgb(tmp_path / 'a' / 'rgb_1.jpg', 4, 4)
    split = write_text(tmp_path / 's.txt', 'a/rgb_1.jpg a/sync_depth_1.png 518.8579')
    ds = NYUDepthDataset(split_file=split, data_root=str(tmp_path),
                         pipeline=NYU_TEST_PIPELINE, test_mode=True)
    with pytest.raises(FileNotFoundError, match='sync_depth_1.png'):
        ds[0]


def test_split_layout_without_split_file_is_an_error():
    with pytest.raises(ValueError, match='split_file'):
        NYUDepthDataset()


def test_mmseg_layout_pairs_by_stem(tmp_path, write_rgb, write_depth):
    for stem in ('bookstore_0001d_00001', 'bathroom_00045'):
        write_rgb(tmp_path / 'images' / 'test' / f'{stem}.jpg', 6, 8)
        write_depth(tmp_path / 'annotations' / 'test' / f'{stem}.png', np.ones((6, 8)))
    ds = NYUDepthDataset(layout='mmseg', data_root=str(tmp_path),
                         data_prefix=dict(img_path='images/test',
                                          depth_map_path='annotations/test'),
                         pipeline=NYU_TEST_PIPELINE, test_mode=True)
    assert len(ds) == 2
    info = ds.get_data_info(1)  # sorted: bathroom, bookstore
    assert info['img_path'].endswith('images/test/bookstore_0001d_00001.jpg')
    assert info['depth_map_path'].endswith('annotations/test/bookstore_0001d_00001.png')
    assert (info['scene'], info['category']) == ('bookstore_0001d', 'bookstore')
    assert info['focal'] == 518.8579
    gt = ds[0]['data_samples'].gt_depth_map.data
    assert gt.shape == (1, 6, 8) and float(gt.max()) == 1.0


def test_mmseg_layout_missing_annotation_is_an_error(tmp_path, write_rgb, write_depth):
    write_rgb(tmp_path / 'images' / 'a_00001.jpg', 4, 4)
    write_rgb(tmp_path / 'images' / 'a_00002.jpg', 4, 4)
    write_depth(tmp_path / 'annotations' / 'a_00001.png', np.ones((4, 4)))
    with pytest.raises(FileNotFoundError, match='a_00002.png'):
        NYUDepthDataset(layout='mmseg', data_root=str(tmp_path),
                        data_prefix=dict(img_path='images',
                                         depth_map_path='annotations'))


def _real_nyu_split(tmp_path, samples_dir):
    lines = [f'/rgb/rgb_{i}.jpg /depth/sync_depth_{i}.png 518.8579'
             for i in ('00000', '00050', '00100')]
    split = tmp_path / 'nyu_samples.txt'
    split.write_text('\n'.join(lines))
    return str(split)


def test_real_nyu_samples_end_to_end_train_pipeline(tmp_path, samples_dir):
    ds = DATASETS.build(dict(
        type='NYUDepthDataset', split_file=_real_nyu_split(tmp_path, samples_dir),
        data_root=osp.join(samples_dir, 'nyu_metric3d'), check_files=True,
        pipeline=NYU_TRAIN_PIPELINE))
    assert len(ds) == 3
    for i in range(3):
        out = ds[i]
        assert out['inputs'].shape == (3, 416, 544)
        gt = out['data_samples'].gt_depth_map.data.numpy()
        assert gt.shape == (1, 416, 544)
        valid = gt[gt > 0]
        assert valid.size / gt.size > 0.5
        assert 0.7 <= valid.min() and valid.max() <= 8.3
        # every GT value after border crop / rotation / crop / flip is a stored mm value
        np.testing.assert_allclose(valid * 1000.0, np.round(valid * 1000.0), atol=1e-3)
        meta = out['data_samples'].metainfo
        assert meta['focal'] == 518.8579 and meta['border_crop'] == (45, 43, 480, 640)


def test_real_nyu_samples_test_pipeline_keeps_full_frame(tmp_path, samples_dir):
    ds = NYUDepthDataset(split_file=_real_nyu_split(tmp_path, samples_dir),
                         data_root=osp.join(samples_dir, 'nyu_metric3d'),
                         pipeline=NYU_TEST_PIPELINE, test_mode=True)
    gt = ds[0]['data_samples'].gt_depth_map.data.numpy()
    assert gt.shape == (1, 480, 640)
    valid = gt[gt > 0]
    assert 0.67 <= valid.size / gt.size <= 0.76
    assert 0.7 <= valid.min() and valid.max() <= 8.3
