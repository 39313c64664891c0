import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdepth_dgr.models.estimators import MonoDepthEstimator, flip_tta


def test_flip_tta_is_exact_for_a_flip_equivariant_model():
    x = torch.rand(2, 3, 4, 6)

    def infer(inp, metas):
        return inp.mean(1, keepdim=True)

    assert torch.allclose(flip_tta(infer, x, []), infer(x, []))


def test_flip_tta_averages_asymmetric_predictions():
    x = torch.zeros(1, 3, 2, 4)
    ramp = torch.arange(4.).view(1, 1, 1, 4).expand(1, 1, 2, 4)

    def infer(inp, metas):
        return ramp.clone()  # ignores the input: flip TTA must symmetrise it

    out = flip_tta(infer, x, [])
    assert torch.allclose(out, torch.full_like(out, 1.5))


def _sample(meta, gt_shape=None):
    s = SegDataSample()
    s.set_metainfo(meta)
    if gt_shape is not None:
        s.gt_depth_map = PixelData(data=torch.zeros(1, *gt_shape))
    return s


def test_postprocess_removes_padding_and_undoes_pipeline_flip():
    depth = torch.arange(2 * 4 * 1.0).view(1, 1, 2, 4)
    # right-padded by 1, bottom by 0; the pipeline had flipped the image
    s = _sample(dict(img_shape=(2, 3), padding_size=[0, 1, 0, 0], flip=True,
                     flip_direction='horizontal'), gt_shape=(2, 3))
    est = object.__new__(MonoDepthEstimator)
    est.align_corners = False
    out = MonoDepthEstimator.postprocess_result(est, depth, [s])
    pred = out[0].pred_depth_map.data
    assert pred.shape == (1, 2, 3)
    assert torch.equal(pred[0], depth[0, 0, :, :3].flip(-1))


def test_postprocess_resizes_to_gt_size_not_ori_shape():
    depth = torch.ones(1, 1, 8, 8)
    s = _sample(dict(img_shape=(8, 8), ori_shape=(100, 100)), gt_shape=(4, 4))
    est = object.__new__(MonoDepthEstimator)
    est.align_corners = False
    pred = MonoDepthEstimator.postprocess_result(est, depth, [s])[0].pred_depth_map.data
    assert pred.shape == (1, 4, 4)


def test_postprocess_without_gt_undoes_test_resize():
    depth = torch.ones(1, 1, 8, 8)
    s = _sample(dict(img_shape=(8, 8), ori_shape=(16, 16), scale_factor=(0.5, 0.5)))
    est = object.__new__(MonoDepthEstimator)
    est.align_corners = False
    pred = MonoDepthEstimator.postprocess_result(est, depth, [s])[0].pred_depth_map.data
    assert pred.shape == (1, 16, 16)


def test_flip_tta_flips_only_the_valid_width_of_padded_inputs():
    # valid width 3, padded by 2 on the right; a model that returns the input's
    # first channel: flip TTA of a flip-equivariant map must equal the map itself
    # on the valid region, and padding must stay on the right.
    x = torch.zeros(1, 3, 2, 5)
    x[..., :3] = torch.arange(3.).view(1, 1, 1, 3)

    def infer(inp, metas):
        return inp[:, :1] * 0 + inp[:, :1].flip(dims=(3, )).flip(dims=(3, ))

    out = flip_tta(infer, x, [dict(padding_size=[0, 2, 0, 0])])
    assert torch.equal(out[..., :3], x[:, :1, :, :3])

    def column_index(inp, metas):  # sees where the padding is
        return (inp[:, :1] != 0).float()

    x2 = torch.ones(1, 3, 2, 5)
    x2[..., 3:] = 0
    out2 = flip_tta(column_index, x2, [dict(padding_size=[0, 2, 0, 0])])
    assert torch.equal(out2[..., :3], torch.ones(1, 1, 2, 3))


def _two_pass_infer():
    """First call (direct pass) returns 0, second (flipped image) returns 1."""
    calls = []

    def infer(inp, metas):
        calls.append(1)
        return torch.full_like(inp[:, :1], float(len(calls) - 1))

    return infer


def test_edge_ramp_fusion_by_hand():
    # W = 41: x_j = j / 40, m = 1 - clip(20 (x - 0.05), 0, 1): columns 0..2 -> 1,
    # column 3 (x = 0.075) -> 0.5, columns >= 4 -> 0; the mirror on the right.
    # d = 0 (direct), d' = 1 (flipped back): out = m * 1 + (1 - m - m^) * 0.5.
    from mmdepth_dgr.models.estimators import fuse_flip
    d, d_flip = torch.zeros(1, 1, 2, 41), torch.ones(1, 1, 2, 41)
    out = fuse_flip(d, d_flip, 'edge_ramp')[0, 0, 0]
    expected = torch.full((41, ), 0.5)
    expected[:3] = 1.0
    expected[3] = 0.75
    expected[-3:] = 0.0
    expected[-4] = 0.25
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(fuse_flip(d, d_flip, 'mean'), torch.full_like(d, 0.5))


def test_flip_tta_edge_ramp_runs_on_the_valid_width_of_padded_inputs():
    x = torch.zeros(1, 3, 2, 44)  # valid width 41, padded by 3 on the right
    out = flip_tta(_two_pass_infer(), x, [dict(padding_size=[0, 3, 0, 0])], 'edge_ramp')
    row = out[0, 0, 0]
    assert torch.allclose(row[:3], torch.ones(3)) and abs(row[3] - 0.75) < 1e-6
    assert torch.allclose(row[4:37], torch.full((33, ), 0.5))
    assert abs(row[37] - 0.25) < 1e-6 and torch.allclose(row[38:41], torch.zeros(3))
    assert torch.equal(row[41:], torch.zeros(3))  # padding keeps the direct pass


def test_inference_reads_flip_fusion_from_test_cfg():
    from types import SimpleNamespace
    x = torch.zeros(1, 3, 2, 41)
    for fusion, first in (('edge_ramp', 1.0), ('mean', 0.5)):
        est = SimpleNamespace(test_cfg=dict(mode='whole', flip=True, flip_fusion=fusion),
                              whole_inference=_two_pass_infer(), slide_inference=None)
        out = MonoDepthEstimator.inference(est, x, [])
        assert abs(out[0, 0, 0, 0] - first) < 1e-6
    est = SimpleNamespace(test_cfg=dict(mode='whole', flip=True, flip_fusion='ramp'),
                          whole_inference=_two_pass_infer(), slide_inference=None)
    with pytest.raises(ValueError, match='flip_fusion'):
        MonoDepthEstimator.inference(est, x, [])
