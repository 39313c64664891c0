"""Collision-free output names (tools/test.py --out/--show-dir, demo folder mode)."""
import os
import os.path as osp

import pytest

from mmdepth_dgr.utils import OutputCollisionError, OutputNames, distinct_stems, output_relpath


def test_relpath_keeps_the_folders_under_the_root(tmp_path):
    root = str(tmp_path / 'raw')
    path = osp.join(root, '2011_09_26', 'drive_0002', 'image_02', 'data', '0000000069.png')
    assert output_relpath(path, root) == osp.join('2011_09_26', 'drive_0002', 'image_02',
                                                  'data', '0000000069.png')


def test_relpath_outside_the_root_never_climbs_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert output_relpath('data/a/x.png', root='/elsewhere') == osp.join('data', 'a',
                                                                         'x.png')
    out = output_relpath('/opt/frames/x.png', root=str(tmp_path / 'raw'))
    assert out == osp.join('opt', 'frames', 'x.png') and not osp.isabs(out)
    assert '..' not in out.split(os.sep)
    assert output_relpath('s3://bucket/kitti/x.png') == 'bucket/kitti/x.png'


def test_distinct_stems_only_change_the_stems_that_collide():
    stems = distinct_stems(['a/x.jpg', 'a/x.png', 'a/y.jpg', 'b/x.jpg'])
    assert stems == {'a/x.jpg': 'a/x_jpg', 'a/x.png': 'a/x_png', 'a/y.jpg': 'a/y',
                     'b/x.jpg': 'b/x'}


def test_output_names_refuse_a_second_input_for_one_file(tmp_path):
    names = OutputNames('prediction')
    out = str(tmp_path / 'x.png')
    names.claim(out, 'data/x.jpg')
    names.claim(out, 'data/x.jpg')  # the same input again (next validation) is fine
    with pytest.raises(OutputCollisionError, match='data/x.jpg.*data/x.png'):
        names.claim(out, 'data/x.png')


def test_real_eigen_test_list_gives_one_output_per_evaluated_frame(samples_dir):
    """The 652 evaluated KITTI Eigen test frames share 350 base names; their relative
    paths are all distinct."""
    root = '/data/kitti/raw'
    with open(osp.join(samples_dir, 'splits', 'kitti_eigen_test.txt')) as f:
        lines = [ln.split() for ln in f.read().splitlines() if ln.strip()]
    evaluated = [osp.join(root, ln[0]) for ln in lines if ln[1] != 'None']
    assert len(evaluated) == 652
    assert len({osp.basename(p) for p in evaluated}) == 350
    outs = {osp.splitext(output_relpath(p, root))[0] + '.png' for p in evaluated}
    assert len(outs) == 652
