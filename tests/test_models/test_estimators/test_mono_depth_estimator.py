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
