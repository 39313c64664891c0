"""Split-list parsing shared by the NYU and KITTI datasets."""
import pytest

from mmdepth_dgr.datasets import SplitFileError, parse_split_line, read_split_file


def test_parse_bts_line_strips_leading_slash_and_ignores_extra_fields():
    e = parse_split_line('/kitchen_0028b/rgb_00045.jpg /kitchen_0028b/sync_depth_00045.png'
                         ' 518.8579 extra1 extra2', 'list.txt', 3)
    assert e.img_rel == 'kitchen_0028b/rgb_00045.jpg'
    assert e.depth_rel == 'kitchen_0028b/sync_depth_00045.png'
    assert e.focal == 518.8579 and e.lineno == 3


def test_parse_none_gt():
    e = parse_split_line('2011_09_26/a/image_02/data/0000000075.png None 721.5377',
                         'l.txt', 1)
    assert e.depth_rel is None and e.focal == 721.5377


@pytest.mark.parametrize('line, match', [
    ('only_one_field.jpg', 'expected at least 3'),
    ('a.jpg b.png', 'expected at least 3'),
    ('a.jpg b.png five-hundred', 'must be a number'),
    ('a.jpg b.png -1', 'positive'),
    ('a.jpg b.png nan', 'positive'),
])
def test_malformed_line_error_names_file_and_line(tmp_path, write_text, line, match):
    path = write_text(tmp_path / 'split.txt', 'a.jpg b.png 1.0\n\n' + line + '\n')
    with pytest.raises(SplitFileError, match=match) as e:
        read_split_file(path)
    assert f'{path}:3' in str(e.value)


def test_two_field_lines_accepted_with_default_focal(tmp_path, write_text):
    path = write_text(tmp_path / 's.txt', 'a.jpg b.png')
    (e, ) = read_split_file(path, default_focal=500.0)
    assert e.focal == 500.0


@pytest.mark.parametrize('text', ['', '\n\n  \n'])
def test_empty_split_file_error_names_it(tmp_path, write_text, text):
    path = write_text(tmp_path / 'empty.txt', text)
    with pytest.raises(SplitFileError, match='lists no samples') as e:
        read_split_file(path)
    assert path in str(e.value)


def test_missing_split_file_error_names_it(tmp_path):
    path = str(tmp_path / 'missing.txt')
    with pytest.raises(FileNotFoundError) as e:
        read_split_file(path)
    assert path in str(e.value)


def test_last_line_without_newline_is_read(tmp_path, write_text):
    path = write_text(tmp_path / 's.txt', 'a.jpg a.png 1\nb.jpg b.png 2')
    assert [e.img_rel for e in read_split_file(path)] == ['a.jpg', 'b.jpg']
