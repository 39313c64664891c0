import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample

from mmdepth_dgr.datasets.transforms import PackDepthInputs


def _results(h=5, w=7):
    rng = np.random.default_rng(0)
    return dict(
        img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        gt_depth_map=rng.uniform(0, 10, (h, w)).astype(np.float32),
        seg_fields=['gt_depth_map'], img_path='a.jpg', depth_map_path='a.png',
        ori_shape=(h, w), img_shape=(h, w), focal=518.8579, depth_scale=1000.0,
        kb_crop=(1, 2, 9, 11), flip=False, unrelated='x')


def test_pack_puts_depth_in_a_seg_data_sample():
    r = _results()
    out = PackDepthInputs()(dict(r))
    assert out['inputs'].shape == (3, 5, 7) and out['inputs'].dtype == torch.uint8
    torch.testing.assert_close(out['inputs'], torch.from_numpy(r['img']).permute(2, 0, 1))
    ds = out['data_samples']
    assert isinstance(ds, SegDataSample)
    gt = ds.gt_depth_map.data
    assert gt.shape == (1, 5, 7) and gt.dtype == torch.float32
    torch.testing.assert_close(gt[0], torch.from_numpy(r['gt_depth_map']))
    for k in ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'focal',
              'depth_scale', 'kb_crop', 'flip'):
        assert ds.metainfo[k] == r[k]
    assert 'unrelated' not in ds.metainfo and 'pad_shape' not in ds.metainfo


def test_pack_without_gt_has_no_depth_field():
    r = _results()
    del r['gt_depth_map']
    out = PackDepthInputs()(r)
    assert 'gt_depth_map' not in out['data_samples']


def test_pack_rejects_image_depth_size_mismatch_naming_both():
    r = _results()
    r['gt_depth_map'] = r['gt_depth_map'][:, :6]
    with pytest.raises(ValueError) as e:
        PackDepthInputs()(r)
    assert 'a.jpg' in str(e.value) and 'a.png' in str(e.value)
