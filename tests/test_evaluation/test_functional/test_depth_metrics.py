"""Standard depth metrics: every formula checked against hand arithmetic on tiny arrays."""
import math

import numpy as np
import pytest
import torch

from mmdepth_dgr.evaluation.functional import (NoValidDepthError, compute_depth_metrics,
                                               depth_errors, prepare_depth_eval)

# 2x2 case: pixels (gt, pred) = (1, 2), (2, 2), (4, 2), (5, 4).
GT = np.array([[1.0, 2.0], [4.0, 5.0]])
PRED = np.array([[2.0, 2.0], [2.0, 4.0]])
LN2, LN08 = math.log(2.0), math.log(0.8)


def test_every_metric_on_a_2x2_case_matches_hand_arithmetic():
    m = compute_depth_metrics(PRED, GT, max_depth=10.0)
    # ratios max(g/p, p/g) = 2, 1, 2, 1.25: only 1 is < 1.25 (strict); 1 and 1.25 are < 1.5625
    # and < 1.953125; 2 is not.
    assert m['d1'] == pytest.approx(1 / 4)
    assert m['d2'] == pytest.approx(2 / 4)
    assert m['d3'] == pytest.approx(2 / 4)
    assert m['abs_rel'] == pytest.approx((1 / 1 + 0 / 2 + 2 / 4 + 1 / 5) / 4)  # 0.425
    assert m['sq_rel'] == pytest.approx((1 / 1 + 0 / 2 + 4 / 4 + 1 / 5) / 4)  # 0.55
    assert m['rmse'] == pytest.approx(math.sqrt((1 + 0 + 4 + 1) / 4))
    # d = ln p - ln g = ln2, 0, -ln2, ln0.8
    mean_d2 = (LN2**2 + 0 + LN2**2 + LN08**2) / 4
    mean_d = (LN2 + 0 - LN2 + LN08) / 4
    assert m['rmse_log'] == pytest.approx(math.sqrt(mean_d2))
    assert m['log10'] == pytest.approx(
        (math.log10(2) + 0 + math.log10(2) + abs(math.log10(0.8))) / 4)
    assert m['silog'] == pytest.approx(100 * math.sqrt(mean_d2 - mean_d**2))


def test_silog_conventions_bts_and_mmseg():
    d = [LN2, 0.0, -LN2, LN08]
    mean_d2 = sum(x * x for x in d) / 4
    mean_d = sum(d) / 4
    bts = depth_errors(GT.ravel(), PRED.ravel(), 'bts')['silog']
    mmseg = depth_errors(GT.ravel(), PRED.ravel(), 'mmseg')['silog']
    assert bts == pytest.approx(100 * math.sqrt(mean_d2 - mean_d**2))
    assert mmseg == pytest.approx(math.sqrt(mean_d2 - 0.5 * mean_d**2))
    with pytest.raises(ValueError, match='silog_convention'):
        depth_errors(GT.ravel(), PRED.ravel(), 'eigen')


def test_silog_of_a_globally_scaled_prediction_is_zero_only_in_bts_convention():
    # d = ln 2 everywhere: BTS variance term is 0, mmseg's keeps 0.5 * ln2^2.
    g = np.array([1.0, 3.0, 7.0])
    assert depth_errors(g, 2 * g, 'bts')['silog'] == pytest.approx(0.0, abs=1e-6)
    assert depth_errors(g, 2 * g, 'mmseg')['silog'] == pytest.approx(math.sqrt(0.5) * LN2)


def test_3x3_case_with_invalid_pixels_and_caps():
    # max_depth = 10: gt 0 (invalid), 10 (== max, excluded, strict), 12 (> max, excluded),
    # 1e-3 (== min, excluded). Pred 20 -> clamped to 10, pred 0 -> clamped to 1e-3, +inf -> 10.
    gt = np.array([[5.0, 12.0, 0.0], [3.0, 10.0, 2.0], [1e-3, 8.0, 4.0]])
    pred = np.array([[20.0, 5.0, 1.0], [3.0, 4.0, 0.0], [1.0, np.inf, 4.0]])
    m = compute_depth_metrics(pred, gt, min_depth=1e-3, max_depth=10.0)
    # evaluated (g, p): (5, 10), (3, 3), (2, 1e-3), (8, 10), (4, 4)
    pairs = [(5, 10), (3, 3), (2, 1e-3), (8, 10), (4, 4)]
    assert m['abs_rel'] == pytest.approx(sum(abs(p - g) / g for g, p in pairs) / 5)
    assert m['rmse'] == pytest.approx(math.sqrt((25 + 0 + (2 - 1e-3)**2 + 4 + 0) / 5))
    # ratios: 2, 1, 2000, 1.25, 1 -> d1 = 2/5 (1.25 is not < 1.25), d2 = d3 = 3/5
    assert (m['d1'], m['d2'], m['d3']) == pytest.approx((2 / 5, 3 / 5, 3 / 5))


def test_pred_above_max_is_clamped_and_gt_above_max_is_excluded():
    frame = prepare_depth_eval(np.array([[15.0, 3.0]]), np.array([[5.0, 11.0]]),
                               max_depth=10.0)
    assert frame.pred_depth_m[0, 0] == 10.0
    assert frame.valid_mask.tolist() == [[True, False]]


def test_per_image_average_differs_from_pooled_pixels():
    # Image A: 1 pixel, abs_rel 1. Image B: 3 perfect pixels, abs_rel 0.
    a = compute_depth_metrics(np.array([[2.0]]), np.array([[1.0]]))
    b = compute_depth_metrics(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]]))
    assert (a['abs_rel'] + b['abs_rel']) / 2 == pytest.approx(0.5)
    pooled = depth_errors(np.array([1.0, 1.0, 2.0, 3.0]), np.array([2.0, 1.0, 2.0, 3.0]))
    assert pooled['abs_rel'] == pytest.approx(1 / 4)


def test_median_scaling_makes_a_scaled_prediction_perfect():
    gt = np.array([[1.0, 2.0], [3.0, 6.0]])
    unscaled = compute_depth_metrics(0.37 * gt, gt)
    assert unscaled['d1'] == 0.0
    m = compute_depth_metrics(0.37 * gt, gt, median_scaling=True)
    assert m['abs_rel'] == pytest.approx(0.0, abs=1e-12)
    assert m['d1'] == 1.0 and m['rmse'] == pytest.approx(0.0, abs=1e-12)


def test_median_scaling_factor_is_median_gt_over_median_pred_on_valid_pixels():
    # gt valid: 1, 2, 3 (0 invalid); pred there 1, 1, 5 -> medians 2 and 1 -> scale 2.
    gt = np.array([[1.0, 2.0], [3.0, 0.0]])
    pred = np.array([[1.0, 1.0], [5.0, 100.0]])
    frame = prepare_depth_eval(pred, gt, max_depth=100.0, median_scaling=True)
    assert frame.scale == pytest.approx(2.0)
    assert frame.pred_depth_m[frame.valid_mask].tolist() == pytest.approx([2.0, 2.0, 10.0])


def test_shape_mismatch_raises_naming_both_shapes():
    with pytest.raises(ValueError) as err:
        compute_depth_metrics(np.ones((4, 6)), np.ones((8, 12)), name='img_7.png')
    msg = str(err.value)
    assert '(4, 6)' in msg and '(8, 12)' in msg and 'img_7.png' in msg and 'resize_pred' in msg


def test_resize_pred_resizes_bilinearly_only_when_asked():
    m = compute_depth_metrics(np.full((4, 6), 3.0), np.full((8, 12), 3.0), resize_pred=True)
    assert m['abs_rel'] == pytest.approx(0.0, abs=1e-7)


def test_nan_in_prediction_raises_naming_the_image():
    pred = np.array([[1.0, np.nan]])
    with pytest.raises(ValueError, match='scene/rgb_00001.jpg.*NaN'):
        compute_depth_metrics(pred, np.ones((1, 2)), name='scene/rgb_00001.jpg')


def test_all_invalid_image_raises_no_valid_depth_error():
    with pytest.raises(NoValidDepthError):
        compute_depth_metrics(np.ones((2, 2)), np.zeros((2, 2)))
    # valid pixels exist but all fall outside the crop box
    gt = np.zeros((480, 640))
    gt[0:10] = 2.0
    with pytest.raises(NoValidDepthError, match='nyu_eigen'):
        compute_depth_metrics(np.ones((480, 640)), gt, crop='nyu_eigen')


def test_accepts_torch_tensors_with_channel_dim():
    m = compute_depth_metrics(torch.from_numpy(PRED)[None].float(),
                              torch.from_numpy(GT)[None].float())
    assert m['abs_rel'] == pytest.approx(0.425, rel=1e-6)


def test_real_nyu_gt_against_itself_is_perfect(samples_dir):
    import cv2
    path = f'{samples_dir}/nyu_metric3d/depth/sync_depth_00000.png'
    gt = cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float64) / 1000.0
    assert gt.shape == (480, 640)
    m = compute_depth_metrics(gt, gt, crop='nyu_eigen', max_depth=10.0, name=path)
    assert m['d1'] == 1.0 and m['abs_rel'] == 0.0 and m['rmse'] == 0.0
    assert m['silog'] == pytest.approx(0.0, abs=1e-6)
