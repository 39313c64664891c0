"""Depth-boundary (iBims-1 style) and gradient-continuity metrics."""
import math

import cv2
import numpy as np
import pytest

from mmdepth_dgr.evaluation.functional import (depth_boundary_errors, detect_depth_edges,
                                               edge_continuity_metrics, gradient_continuity_errors)


def step_scene(shift: int = 0, size: int = 64) -> np.ndarray:
    """Far wall (4 m) on the left, near wall (2 m) from column 32 + shift."""
    d = np.full((size, size), 4.0)
    d[:, 32 + shift:] = 2.0
    return d


def block_scene() -> np.ndarray:
    d = np.full((64, 64), 5.0)
    d[16:48, 16:48] = 2.0
    return d


def ramp_scene() -> np.ndarray:
    """A slanted plane (linear, Laplacian 0) with a near block, i.e. a depth step."""
    i, j = np.mgrid[0:64, 0:64].astype(np.float64)
    d = 3.0 + 0.02 * j + 0.01 * i
    d[20:44, 36:60] = 1.5
    return d


# ----------------------------------------------------------------------------- DBE
def test_dbe_on_hand_built_edge_maps_matches_hand_arithmetic():
    gt_edges = np.zeros((5, 5), bool)
    gt_edges[:, 0] = True                      # GT edge: column 0
    pred_edges = np.zeros((5, 5), bool)
    pred_edges[0:3, 1] = True                  # 1 px from the GT edge
    pred_edges[0, 4] = True                    # 4 px away: beyond theta = 2, left out of acc
    d = np.ones((5, 5))
    out = depth_boundary_errors(d, d, max_dist_px=2.0, edges=(pred_edges, gt_edges))
    assert out['dbe_acc'] == pytest.approx((1 + 1 + 1) / 3)
    # GT rows 0..2 -> 1; row 3 -> (2,1): sqrt(1+1); row 4 -> (2,1): sqrt(4+1)
    assert out['dbe_comp'] == pytest.approx((3 + math.sqrt(2) + math.sqrt(5)) / 5)


def test_dbe_is_nan_without_gt_edges_and_theta_without_nearby_pred_edges():
    d = np.ones((5, 5))
    none = np.zeros((5, 5), bool)
    out = depth_boundary_errors(d, d, edges=(none, none))
    assert math.isnan(out['dbe_acc']) and math.isnan(out['dbe_comp'])
    gt_edges = none.copy()
    gt_edges[:, 0] = True
    out = depth_boundary_errors(d, d, max_dist_px=3.0, edges=(none, gt_edges))
    assert out == {'dbe_acc': 3.0, 'dbe_comp': 3.0}


def test_step_edge_is_detected_as_one_straight_line():
    edges = detect_depth_edges(step_scene())
    cols = np.unique(np.nonzero(edges)[1])
    assert len(cols) == 1 and cols[0] in (31, 32)
    assert edges.sum() == 64


def test_perfect_prediction_has_zero_boundary_errors():
    gt = step_scene()
    assert depth_boundary_errors(gt.copy(), gt) == {'dbe_acc': 0.0, 'dbe_comp': 0.0}


@pytest.mark.parametrize('shift', [1, 2, 3, 5])
def test_shifted_edge_scores_the_shift(shift):
    out = depth_boundary_errors(step_scene(shift), step_scene())
    assert out['dbe_acc'] == pytest.approx(shift, abs=0.25)
    assert out['dbe_comp'] == pytest.approx(shift, abs=0.25)


def test_blurred_prediction_scores_worse_and_more_blur_is_worse():
    gt = block_scene()
    scores = []
    for sigma in (2.0, 4.0, 8.0):
        pred = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), sigma,
                                borderType=cv2.BORDER_REPLICATE).astype(np.float64)
        out = depth_boundary_errors(pred, gt)
        scores.append(out['dbe_acc'] + out['dbe_comp'])
    assert 0 < scores[0] < scores[1] < scores[2]
    # Blurred until no edge survives: iBims assigns theta to both.
    flat = cv2.GaussianBlur(step_scene().astype(np.float32), (0, 0), 20,
                            borderType=cv2.BORDER_REPLICATE).astype(np.float64)
    assert depth_boundary_errors(flat, step_scene()) == {'dbe_acc': 10.0, 'dbe_comp': 10.0}


def test_gt_holes_do_not_create_edges_and_perfect_prediction_stays_zero():
    gt = step_scene()
    valid = np.ones_like(gt, bool)
    valid[5:15, 5:15] = False                  # a hole in the far wall
    gt_holes = np.where(valid, gt, 0.0)
    edges = detect_depth_edges(gt_holes, valid)
    assert np.array_equal(np.unique(np.nonzero(edges)[1]), [31])
    pred = gt.copy()
    pred[~valid] = 0.7                         # anything in the hole
    out = edge_continuity_metrics(pred, gt_holes, valid)
    assert out['dbe_acc'] == 0.0 and out['dbe_comp'] == 0.0
    assert out['grad_err'] == 0.0 and out['curv_err'] == 0.0


# ------------------------------------------------------------------ continuity
def test_continuity_on_3x3_matches_hand_arithmetic():
    no_edges = np.zeros((3, 3), bool)
    gt = np.full((3, 3), 2.0)
    # Only the centre has a full stencil. Bump of +0.1 at the centre:
    # grad = 0; lap P = 4*2 - 4*2.1 = -0.4, lap D = 0 -> curv_err = 0.4 / 2.
    bump = gt.copy()
    bump[1, 1] = 2.1
    out = gradient_continuity_errors(bump, gt, gt_edges=no_edges)
    assert out['grad_err'] == pytest.approx(0.0)
    assert out['curv_err'] == pytest.approx(0.4 / 2)
    assert out['num_smooth_px'] == 1
    # Right neighbour +0.2: grad_x = (2.2 - 2.0) / 2 = 0.1 -> 0.1 / 2; lap = 0.2 -> 0.2 / 2.
    side = gt.copy()
    side[1, 2] = 2.2
    out = gradient_continuity_errors(side, gt, gt_edges=no_edges)
    assert out['grad_err'] == pytest.approx(0.1 / 2)
    assert out['curv_err'] == pytest.approx(0.2 / 2)


def test_continuity_of_scaled_ramp_on_3x3():
    # D = column index + 1 (grad_x 1, lap 0); P = 2 D: |grad diff| = 1 at D = 2 -> 0.5.
    gt = np.tile([1.0, 2.0, 3.0], (3, 1))
    out = gradient_continuity_errors(2 * gt, gt, gt_edges=np.zeros((3, 3), bool))
    assert out['grad_err'] == pytest.approx(1 / 2)
    assert out['curv_err'] == pytest.approx(0.0)


def test_continuity_counts_only_pixels_with_a_fully_valid_stencil():
    gt = np.full((3, 3), 2.0)
    valid = np.ones((3, 3), bool)
    valid[0, 1] = False                        # the centre's upper neighbour
    out = gradient_continuity_errors(gt, gt, valid, gt_edges=np.zeros((3, 3), bool))
    assert out['num_smooth_px'] == 0 and math.isnan(out['grad_err'])


def test_continuity_is_zero_for_a_perfect_prediction():
    gt = ramp_scene()
    out = gradient_continuity_errors(gt.copy(), gt)
    assert out['num_smooth_px'] > 0.5 * gt.size
    assert out['grad_err'] == 0.0 and out['curv_err'] == 0.0


def test_continuity_is_positive_for_staircase_and_bump_in_smooth_region():
    gt = ramp_scene()
    staircase = np.where(gt > 2.0, np.floor(gt / 0.1) * 0.1, gt)   # 10 cm steps on the plane
    out = gradient_continuity_errors(staircase, gt)
    assert out['grad_err'] > 1e-3 and out['curv_err'] > 1e-3
    i, j = np.mgrid[0:64, 0:64]
    bump = gt + 0.3 * np.exp(-((i - 50)**2 + (j - 15)**2) / (2 * 4.0**2))  # smooth area
    out_bump = gradient_continuity_errors(bump, gt)
    assert out_bump['num_smooth_px'] == gradient_continuity_errors(gt, gt)['num_smooth_px']
    assert out_bump['grad_err'] > 1e-4 and out_bump['curv_err'] > 1e-5


def test_continuity_is_unaffected_by_errors_exactly_at_gt_edges():
    gt = ramp_scene()
    edges = detect_depth_edges(gt)
    assert edges.any()
    i, j = np.mgrid[0:64, 0:64]
    base = gt + 0.05 * np.exp(-((i - 50)**2 + (j - 15)**2) / (2 * 3.0**2))
    ref = gradient_continuity_errors(base, gt)
    # Garbage on the GT edge pixels and on their 4-neighbours (both sides of the step).
    band = cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    broken = np.where(band, 9.0, base)
    out = gradient_continuity_errors(broken, gt)
    assert out == ref
    # ... while the same garbage inside a smooth region does change it.
    assert gradient_continuity_errors(np.where(np.roll(band, -20, axis=1), 9.0, base),
                                      gt)['grad_err'] > ref['grad_err']


def test_continuity_ignores_a_constant_offset():
    gt = ramp_scene()
    out = gradient_continuity_errors(gt + 0.3, gt, gt_edges=detect_depth_edges(gt))
    assert out['grad_err'] == pytest.approx(0.0, abs=1e-12)
    assert out['curv_err'] == pytest.approx(0.0, abs=1e-12)


def test_real_nyu_gt_against_itself_has_zero_edge_errors(samples_dir):
    path = f'{samples_dir}/nyu_metric3d/depth/sync_depth_00000.png'
    gt = cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float64)[45:471, 41:601] / 1000
    valid = (gt > 1e-3) & (gt < 10)
    out = edge_continuity_metrics(gt.copy(), gt, valid)
    assert out['dbe_acc'] == 0.0 and out['dbe_comp'] == 0.0
    assert out['grad_err'] == 0.0 and out['curv_err'] == 0.0
    assert out['num_smooth_px'] > 0.3 * valid.sum()
    # A 3-px shift of the scene moves the edges by about 3 px (diagonal edges: less).
    shifted = np.roll(gt, 3, axis=1)
    out = edge_continuity_metrics(np.where(shifted > 0, shifted, gt), gt, valid)
    assert 1.0 < out['dbe_acc'] < 3.5 and 1.0 < out['dbe_comp'] < 3.5
