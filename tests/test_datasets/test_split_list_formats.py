"""Both official NYU train-list formats parse (issue #14.3).

* BTS / AdaBins ``nyudepthv2_train_files_with_gt.txt`` (24,231 lines):
  ``/scene/rgb_i.jpg /scene/sync_depth_i.png 518.8579``.
* NeWCRFs / PixelFormer ``nyudepthv2_train_files_with_gt_dense.txt`` (36,253 lines):
  ``scene/rgb_i.jpg scene/sync_depth_i.png scene/dense/sync_depth_dense_i.png``; the
  third column is a path their loaders never read (they hard-code NYU's focal).
"""
import pytest

from mmdepth_dgr.datasets import NYUDepthDataset, SplitFileError, parse_split_line
from mmdepth_dgr.datasets.nyu import NYU_FOCAL

DENSE_LINES = [
    f'bedroom_0130/rgb_{i:05d}.jpg bedroom_0130/sync_depth_{i:05d}.png '
    f'bedroom_0130/dense/sync_depth_dense_{i:05d}.png' for i in range(3)
]
BTS_LINES = [
    f'/kitchen_0028b/rgb_{i:05d}.jpg /kitchen_0028b/sync_depth_{i:05d}.png 518.8579'
    for i in (45, 46)
]


def test_dense_list_line_uses_the_default_focal_and_ignores_the_dense_path():
    e = parse_split_line(DENSE_LINES[0], 'dense.txt', 1, default_focal=NYU_FOCAL)
    assert e.img_rel == 'bedroom_0130/rgb_00000.jpg'
    assert e.depth_rel == 'bedroom_0130/sync_depth_00000.png'
    assert e.focal == NYU_FOCAL


def test_path_in_focal_field_without_default_focal_keeps_the_number_error():
    with pytest.raises(SplitFileError, match=r'dense\.txt:7: focal \(3rd field\) must be a '
                       r'number'):
        parse_split_line(DENSE_LINES[0], 'dense.txt', 7)


@pytest.mark.parametrize('third', ['five-hundred', 'bedroom_0130/dense', '-1'])
def test_non_path_third_field_is_still_a_malformed_focal_with_default_focal(third):
    with pytest.raises(SplitFileError, match=r'l\.txt:2: focal \(3rd field\) must be'):
        parse_split_line(f'a.jpg b.png {third}', 'l.txt', 2, default_focal=NYU_FOCAL)


@pytest.mark.parametrize('lines, name', [(DENSE_LINES, 'dense'), (BTS_LINES, 'bts')])
def test_nyu_dataset_reads_both_official_train_lists(tmp_path, write_text, lines, name):
    split = write_text(tmp_path / f'{name}.txt', '\n'.join(lines) + '\n')
    ds = NYUDepthDataset(split_file=split, data_root=str(tmp_path),
                         data_prefix=dict(img_path='sync', depth_map_path='sync'),
                         pipeline=[], serialize_data=False)
    assert len(ds) == len(lines)
    for info, line in zip(ds.data_list, lines):
        rgb, depth = line.split()[:2]
        assert info['img_path'] == str(tmp_path / 'sync' / rgb.lstrip('/'))
        assert info['depth_map_path'] == str(tmp_path / 'sync' / depth.lstrip('/'))
        assert info['focal'] == NYU_FOCAL
