"""Errors for relative data roots and paths with spaces say how the path was read."""
import os
import os.path as osp

import pytest
from mmseg.registry import DATASETS

from mmdepth_dgr.datasets import SplitFileError, read_split_file


def test_missing_split_under_a_relative_root_names_the_absolute_path_and_cwd(
        tmp_path, monkeypatch):
    (tmp_path / 'elsewhere').mkdir()
    monkeypatch.chdir(tmp_path / 'elsewhere')
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dict(type='NYUDepthDataset', data_root='data/nyu',
                            split_file='nyu_test.txt'))
    msg = str(err.value)
    assert osp.join(str(tmp_path), 'elsewhere', 'data', 'nyu', 'nyu_test.txt') in msg
    assert f'current directory {os.getcwd()}' in msg
    assert f'deepest existing folder is {tmp_path / "elsewhere"}' in msg


def test_split_line_with_spaces_says_paths_with_spaces_are_unsupported(tmp_path,
                                                                       write_text):
    path = write_text(tmp_path / 'list.txt',
                      'living room/rgb_1.jpg living room/sync_depth_1.png 518.8579\n')
    with pytest.raises(SplitFileError, match='paths containing spaces are not supported'):
        read_split_file(path)


def test_missing_split_file_mentions_that_cfg_options_drops_spaces(tmp_path):
    with pytest.raises(FileNotFoundError, match='--cfg-options removes spaces'):
        read_split_file(str(tmp_path / 'mydata' / 'list.txt'))
