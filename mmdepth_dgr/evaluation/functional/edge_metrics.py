"""Depth-edge and gradient-continuity metrics (dense ground truth only).

None of these is in the paper (Yao, Wu, Zhang, BMVC 2024 reports the standard metrics);
they measure its subject, depth-gradient continuity and sharp edges, directly:

* :func:`depth_boundary_errors`: the iBims-1 depth-boundary errors ``dbe_acc`` and
  ``dbe_comp`` (Koch et al., "Evaluation of CNN-based single-image depth estimation
  methods", ECCV-W 2018), with ground-truth edges detected automatically instead of
  iBims' hand-annotated ones.
* :func:`gradient_continuity_errors`: first- and second-order derivative errors in the
  smooth regions of the ground truth (defined here from first principles).

Both need a dense ground truth (NYU, synthetic, iBims); on sparse LiDAR GT (KITTI) edges
and derivative stencils are meaningless, so turn them off there.

Edge detection (:func:`detect_depth_edges`), the same for GT and prediction, as iBims does
for the prediction: the depth map is min-max normalised to ``[0, 1]`` over the valid pixels,
then Canny with Gaussian ``sigma = sqrt(2)`` and hysteresis thresholds ``0.1 / 0.2`` on the
Sobel gradient magnitude of the normalised map (iBims uses ``skimage.feature.canny`` with
these values; here OpenCV's Canny runs on float Sobel gradients, so edges can differ from
skimage's by border handling and tie-breaking, not by definition). Invalid GT pixels (holes)
are first filled with the value of the nearest valid pixel, the *same* fill (same source
pixels) being applied to the prediction, so that a prediction equal to the GT has exactly
the GT's edges; edges are then kept only on valid pixels whose 3x3 neighbourhood is valid,
so hole borders do not produce edges.
"""
import math
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from scipy import ndimage

__all__ = [
    'EDGE_METRIC_NAMES', 'nearest_valid_indices', 'detect_depth_edges',
    'depth_boundary_errors', 'gradient_continuity_errors', 'edge_continuity_metrics'
]

#: Keys returned by :func:`edge_continuity_metrics`.
EDGE_METRIC_NAMES: Tuple[str, ...] = ('dbe_acc', 'dbe_comp', 'grad_err', 'curv_err')

# Sobel gradients of a [0, 1] map are at most 4*sqrt(2) ~ 5.7; OpenCV's Canny takes int16
# gradients, so they are passed in fixed point with this many steps per unit.
_CANNY_FIXED_POINT = 1000.0


def _as_mask(valid_mask: Optional[np.ndarray], shape: Tuple[int, int]) -> np.ndarray:
    if valid_mask is None:
        return np.ones(shape, dtype=bool)
    valid_mask = np.asarray(valid_mask, dtype=bool)
    if valid_mask.shape != tuple(shape):
        raise ValueError(f'valid_mask shape {valid_mask.shape} != depth shape {tuple(shape)}.')
    return valid_mask


def nearest_valid_indices(valid_mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For every pixel, the (row, col) of the nearest valid pixel (itself when valid).

    Args:
        valid_mask (np.ndarray): ``(H, W)`` bool, with at least one True.

    Returns:
        tuple[np.ndarray, np.ndarray]: Row and column index maps, each ``(H, W)``.
    """
    # scipy (a dependency of POT) gives the exact Euclidean nearest-feature indices.
    _, idx = ndimage.distance_transform_edt(~valid_mask, return_indices=True)
    return idx[0], idx[1]


def detect_depth_edges(depth_m: np.ndarray,
                       valid_mask: Optional[np.ndarray] = None,
                       *,
                       sigma: float = math.sqrt(2.0),
                       low_thresh: float = 0.1,
                       high_thresh: float = 0.2,
                       fill_indices: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """Canny depth edges of a depth map, iBims style (see the module docstring).

    Args:
        depth_m (np.ndarray): ``(H, W)`` depth in metres.
        valid_mask (np.ndarray, optional): ``(H, W)`` bool; pixels outside are filled from the
            nearest valid pixel and carry no edge. Defaults to None (all valid).
        sigma (float): Gaussian smoothing before Canny, pixels. Defaults to sqrt(2).
        low_thresh (float): Hysteresis low threshold on the normalised map's Sobel gradient
            magnitude. Defaults to 0.1.
        high_thresh (float): Hysteresis high threshold. Defaults to 0.2.
        fill_indices (tuple[np.ndarray, np.ndarray], optional): Precomputed
            :func:`nearest_valid_indices` of ``valid_mask``. Defaults to None.

    Returns:
        np.ndarray: ``(H, W)`` bool edge map.
    """
    depth = np.asarray(depth_m, dtype=np.float64)
    valid = _as_mask(valid_mask, depth.shape)
    if not valid.any():
        return np.zeros(depth.shape, dtype=bool)
    if fill_indices is None and not valid.all():
        fill_indices = nearest_valid_indices(valid)
    filled = depth if fill_indices is None else depth[fill_indices[0], fill_indices[1]]
    lo, hi = float(filled[valid].min()), float(filled[valid].max())
    if hi - lo <= 0:  # a constant map has no edge
        return np.zeros(depth.shape, dtype=bool)
    norm = ((filled - lo) / (hi - lo)).astype(np.float32)
    smooth = cv2.GaussianBlur(norm, (0, 0), sigmaX=sigma, sigmaY=sigma,
                              borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    # OpenCV's Canny (non-maximum suppression + hysteresis) on our float gradients.
    edges = cv2.Canny(np.round(gx * _CANNY_FIXED_POINT).astype(np.int16),
                      np.round(gy * _CANNY_FIXED_POINT).astype(np.int16),
                      low_thresh * _CANNY_FIXED_POINT, high_thresh * _CANNY_FIXED_POINT,
                      L2gradient=True) > 0
    if not valid.all():
        # Keep edges on valid pixels whose 3x3 neighbourhood is valid (no hole borders).
        core = ndimage.binary_erosion(valid, structure=np.ones((3, 3), bool), border_value=1)
        edges &= core
    return edges


def _edge_pair(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, sigma: float,
               low_thresh: float, high_thresh: float) -> Tuple[np.ndarray, np.ndarray]:
    """GT and predicted edges with a shared hole fill."""
    fill = None if valid.all() else nearest_valid_indices(valid)
    kw = dict(sigma=sigma, low_thresh=low_thresh, high_thresh=high_thresh, fill_indices=fill)
    return (detect_depth_edges(pred, valid, **kw), detect_depth_edges(gt, valid, **kw))


def depth_boundary_errors(pred_depth_m: np.ndarray,
                          gt_depth_m: np.ndarray,
                          valid_mask: Optional[np.ndarray] = None,
                          *,
                          max_dist_px: float = 10.0,
                          sigma: float = math.sqrt(2.0),
                          low_thresh: float = 0.1,
                          high_thresh: float = 0.2,
                          edges: Optional[Tuple[np.ndarray, np.ndarray]] = None
                          ) -> Dict[str, float]:
    """iBims-1 depth-boundary errors (accuracy and completeness), in pixels.

    With ``E_p`` / ``E_g`` the predicted / GT edge pixels, ``D_g(x)`` / ``D_p(x)`` the
    Euclidean distance from pixel ``x`` to the nearest GT / predicted edge pixel and
    ``theta = max_dist_px``, following the official iBims-1 evaluation code:

    * ``dbe_acc = mean_{x in E_p, D_g(x) < theta} D_g(x)``: how far predicted edges lie from
      GT edges; predicted edges farther than ``theta`` (no GT edge in their neighbourhood)
      are left out, not truncated.
    * ``dbe_comp = mean_{x in E_g} D_p(x)``: how far GT edges are from any predicted edge
      (missing edges), not truncated.
    * No predicted edge within ``theta`` of a GT edge: both are ``theta``.
    * No GT edge: both are NaN (the image carries no boundary information; averages over
      images skip it and the metric class counts the images that had edges).

    A perfect prediction scores 0/0; a prediction whose edges are shifted by ``s`` pixels
    scores about ``s``/``s``; a blurred one loses edges (higher ``dbe_comp``, up to
    ``theta`` when all vanish).

    Args:
        pred_depth_m (np.ndarray): ``(H, W)`` predicted depth in metres.
        gt_depth_m (np.ndarray): ``(H, W)`` ground truth in metres.
        valid_mask (np.ndarray, optional): ``(H, W)`` GT-valid mask. Defaults to None
            (``gt > 0 & isfinite(gt)``).
        max_dist_px (float): iBims' neighbourhood ``theta``, pixels. Defaults to 10.0.
        sigma (float): Canny Gaussian sigma. Defaults to sqrt(2).
        low_thresh (float): Canny low threshold. Defaults to 0.1.
        high_thresh (float): Canny high threshold. Defaults to 0.2.
        edges (tuple[np.ndarray, np.ndarray], optional): Precomputed ``(pred_edges,
            gt_edges)``. Defaults to None.

    Returns:
        dict[str, float]: ``dbe_acc``, ``dbe_comp`` (pixels).
    """
    pred = np.asarray(pred_depth_m, dtype=np.float64)
    gt = np.asarray(gt_depth_m, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} != gt shape {gt.shape}.')
    valid = _as_mask(valid_mask, gt.shape) if valid_mask is not None else \
        (np.isfinite(gt) & (gt > 0))
    if edges is None:
        edges = _edge_pair(pred, gt, valid, sigma, low_thresh, high_thresh)
    pred_edges, gt_edges = edges
    if not gt_edges.any():
        return {'dbe_acc': float('nan'), 'dbe_comp': float('nan')}
    dist_to_gt = ndimage.distance_transform_edt(~gt_edges)
    near = pred_edges & (dist_to_gt < max_dist_px)
    if not near.any():
        return {'dbe_acc': float(max_dist_px), 'dbe_comp': float(max_dist_px)}
    dist_to_pred = ndimage.distance_transform_edt(~pred_edges)
    return {'dbe_acc': float(dist_to_gt[near].mean()),
            'dbe_comp': float(dist_to_pred[gt_edges].mean())}


def _derivatives(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences and the 5-point Laplacian on the interior ``(H-2, W-2)`` grid."""
    gx = 0.5 * (x[1:-1, 2:] - x[1:-1, :-2])
    gy = 0.5 * (x[2:, 1:-1] - x[:-2, 1:-1])
    lap = x[2:, 1:-1] + x[:-2, 1:-1] + x[1:-1, 2:] + x[1:-1, :-2] - 4.0 * x[1:-1, 1:-1]
    return gx, gy, lap


def gradient_continuity_errors(pred_depth_m: np.ndarray,
                               gt_depth_m: np.ndarray,
                               valid_mask: Optional[np.ndarray] = None,
                               *,
                               gt_edges: Optional[np.ndarray] = None,
                               edge_margin_px: float = 3.0,
                               max_rel_laplacian: float = 0.01,
                               sigma: float = math.sqrt(2.0),
                               low_thresh: float = 0.1,
                               high_thresh: float = 0.2) -> Dict[str, float]:
    """Gradient and curvature errors of the prediction where the ground truth is smooth.

    Definitions, for GT depth ``D`` and prediction ``P`` (metres) at pixel ``(i, j)``:

    * ``grad_x X = (X[i, j+1] - X[i, j-1]) / 2``, ``grad_y X = (X[i+1, j] - X[i-1, j]) / 2``
      (metres per pixel); ``lap X = X[i+1, j] + X[i-1, j] + X[i, j+1] + X[i, j-1] - 4 X[i, j]``.
    * The stencil of ``(i, j)`` is the pixel and its 4 neighbours; a pixel counts only if its
      whole stencil is GT-valid and inside the map.
    * Smooth set ``S``: stencil valid, ``|lap D| / D <= tau`` (``tau = max_rel_laplacian``;
      a relative curvature, so the test is scale-free) and Euclidean distance to the
      nearest GT edge pixel ``>= r`` (``r = edge_margin_px``; edges from
      :func:`detect_depth_edges` on the GT unless given).
    * ``grad_err = mean_S ||grad P - grad D||_2 / D`` (relative gradient error, 1/pixel).
    * ``curv_err = mean_S |lap P - lap D| / D`` (relative curvature error, 1/pixel^2).

    What it measures: whether the prediction's surface has the GT's slope and is as smooth
    as the GT where the GT is smooth -- staircase artefacts (patch/token quantisation),
    bumps, ripples, and spurious edges inside surfaces all raise it, a constant offset does
    not. What it does not measure: errors at or near depth discontinuities (excluded by
    construction, see :func:`depth_boundary_errors` for those), absolute depth (a constant
    offset scores 0; a global scale ``s`` scores ``|s - 1| * mean ||grad D|| / D``), and it
    inherits the GT's noise (sensor quantisation sets a floor for any smooth prediction; a
    prediction equal to the GT scores exactly 0). Creases (slope changes without a step)
    with ``|lap D| / D > tau`` are excluded with the steps.

    Args:
        pred_depth_m (np.ndarray): ``(H, W)`` predicted depth in metres (clamped).
        gt_depth_m (np.ndarray): ``(H, W)`` ground truth in metres.
        valid_mask (np.ndarray, optional): ``(H, W)`` GT-valid mask. Defaults to None
            (``gt > 0 & isfinite(gt)``).
        gt_edges (np.ndarray, optional): ``(H, W)`` bool GT edges. Defaults to None
            (detected with ``sigma``/``low_thresh``/``high_thresh``).
        edge_margin_px (float): ``r``, minimum distance from GT edges, pixels. Defaults to 3.0.
        max_rel_laplacian (float): ``tau``. Defaults to 0.01.
        sigma (float): Canny sigma for the GT edges. Defaults to sqrt(2).
        low_thresh (float): Canny low threshold. Defaults to 0.1.
        high_thresh (float): Canny high threshold. Defaults to 0.2.

    Returns:
        dict[str, float]: ``grad_err``, ``curv_err`` (NaN when ``S`` is empty) and
        ``num_smooth_px``.
    """
    pred = np.asarray(pred_depth_m, dtype=np.float64)
    gt = np.asarray(gt_depth_m, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} != gt shape {gt.shape}.')
    valid = _as_mask(valid_mask, gt.shape) if valid_mask is not None else \
        (np.isfinite(gt) & (gt > 0))
    nan = {'grad_err': float('nan'), 'curv_err': float('nan'), 'num_smooth_px': 0}
    if min(gt.shape) < 3 or not valid.any():
        return nan
    if gt_edges is None:
        fill = None if valid.all() else nearest_valid_indices(valid)
        gt_edges = detect_depth_edges(gt, valid, sigma=sigma, low_thresh=low_thresh,
                                      high_thresh=high_thresh, fill_indices=fill)
    gt_safe = np.where(valid, gt, 1.0)  # invalid values never enter a counted stencil
    stencil_ok = (valid[1:-1, 1:-1] & valid[2:, 1:-1] & valid[:-2, 1:-1]
                  & valid[1:-1, 2:] & valid[1:-1, :-2])
    gx_d, gy_d, lap_d = _derivatives(gt_safe)
    gx_p, gy_p, lap_p = _derivatives(pred)
    d = gt_safe[1:-1, 1:-1]
    smooth = stencil_ok & (np.abs(lap_d) <= max_rel_laplacian * d)
    if gt_edges.any():
        dist = ndimage.distance_transform_edt(~np.asarray(gt_edges, bool))[1:-1, 1:-1]
        smooth &= dist >= edge_margin_px
    n = int(smooth.sum())
    if n == 0:
        return nan
    grad_diff = np.hypot(gx_p - gx_d, gy_p - gy_d) / d
    curv_diff = np.abs(lap_p - lap_d) / d
    return {'grad_err': float(grad_diff[smooth].mean()),
            'curv_err': float(curv_diff[smooth].mean()), 'num_smooth_px': n}


def edge_continuity_metrics(pred_depth_m: np.ndarray,
                            gt_depth_m: np.ndarray,
                            valid_mask: Optional[np.ndarray] = None,
                            *,
                            max_dist_px: float = 10.0,
                            edge_margin_px: float = 3.0,
                            max_rel_laplacian: float = 0.01,
                            sigma: float = math.sqrt(2.0),
                            low_thresh: float = 0.1,
                            high_thresh: float = 0.2) -> Dict[str, float]:
    """:func:`depth_boundary_errors` and :func:`gradient_continuity_errors` with one edge pass.

    Args:
        pred_depth_m (np.ndarray): ``(H, W)`` predicted depth in metres (clamped).
        gt_depth_m (np.ndarray): ``(H, W)`` ground truth in metres.
        valid_mask (np.ndarray, optional): ``(H, W)`` GT-valid mask. Defaults to None
            (``gt > 0 & isfinite(gt)``).
        max_dist_px (float): DBE ``theta``. Defaults to 10.0.
        edge_margin_px (float): Continuity ``r``. Defaults to 3.0.
        max_rel_laplacian (float): Continuity ``tau``. Defaults to 0.01.
        sigma (float): Canny sigma. Defaults to sqrt(2).
        low_thresh (float): Canny low threshold. Defaults to 0.1.
        high_thresh (float): Canny high threshold. Defaults to 0.2.

    Returns:
        dict[str, float]: The keys of :data:`EDGE_METRIC_NAMES` plus ``num_smooth_px``.
    """
    pred = np.asarray(pred_depth_m, dtype=np.float64)
    gt = np.asarray(gt_depth_m, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} != gt shape {gt.shape}.')
    valid = _as_mask(valid_mask, gt.shape) if valid_mask is not None else \
        (np.isfinite(gt) & (gt > 0))
    edges = _edge_pair(pred, gt, valid, sigma, low_thresh, high_thresh)
    out = depth_boundary_errors(pred, gt, valid, max_dist_px=max_dist_px, edges=edges)
    out.update(gradient_continuity_errors(
        pred, gt, valid, gt_edges=edges[1], edge_margin_px=edge_margin_px,
        max_rel_laplacian=max_rel_laplacian))
    return out
