"""The standard monocular-depth metrics, defined once (ZoeDepth-style functional layout).

:func:`depth_errors` holds every formula; :func:`prepare_depth_eval` holds the protocol
(shape alignment, crop, caps, median scaling); :func:`compute_depth_metrics` chains the two
for one image. :class:`~mmdepth_dgr.evaluation.metrics.DepthEvalMetric` calls them per
image and averages the per-image values over the images (the protocol of BTS, AdaBins,
NeWCRFs, PixelFormer, ZoeDepth and mmseg's ``DepthMetric``: a mean of per-image metrics,
not a metric of all pixels pooled).

The protocol follows the BTS-family ``eval`` scripts used for the published NYU / KITTI
tables of the paper's hosts (NeWCRFs, PixelFormer, PixelFormer_DGR):

1. A NaN in the prediction is an error (the reference scripts silently set it to
   ``min_depth``; here it names the image instead).
2. GT valid mask: ``isfinite(gt) & (gt > min_depth) & (gt < max_depth)`` (strict, as
   ``np.logical_and(gt_depth > min_depth_eval, gt_depth < max_depth_eval)``), AND the crop box
   (:mod:`.eval_crops`), AND an optional extra mask.
3. Optional median scaling (for relative-depth models, Monodepth2 order: before the caps):
   ``pred *= median(gt[valid]) / median(pred[valid])``.
4. Caps on the prediction: ``pred = clip(pred, min_depth, max_depth)`` (this is BTS's
   ``pred[pred < min] = min; pred[pred > max] = max``; ``+inf`` becomes ``max_depth``).
5. :func:`depth_errors` on the valid pixels.

Computations are in float64 numpy (the reference scripts use float32; differences are
below 1e-6 relative).
"""
from typing import Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .eval_crops import CROP_CONVENTIONS, check_crop_name, crop_box, crop_box_in_kb_frame

__all__ = [
    'DEPTH_METRIC_NAMES', 'SILOG_CONVENTIONS', 'NoValidDepthError', 'DepthEvalFrame',
    'depth_errors', 'prepare_depth_eval', 'compute_depth_metrics', 'to_depth_map'
]

ArrayLike = Union[np.ndarray, torch.Tensor]

#: Keys returned by :func:`depth_errors`, in table order.
DEPTH_METRIC_NAMES: Tuple[str, ...] = ('d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse',
                                       'rmse_log', 'log10', 'silog')
#: ``'bts'``: KITTI-benchmark / BTS ``100 * sqrt(mean(d^2) - mean(d)^2)``;
#: ``'mmseg'``: mmseg ``DepthMetric``'s ``sqrt(mean(d^2) - 0.5 * mean(d)^2)``.
SILOG_CONVENTIONS: Tuple[str, ...] = ('bts', 'mmseg')


class NoValidDepthError(ValueError):
    """Raised when an image has no valid ground-truth pixel left after the crop and caps."""


class DepthEvalFrame(NamedTuple):
    """One image, ready for evaluation.

    Attributes:
        pred_depth_m (np.ndarray): ``(H, W)`` float64 prediction in metres, median-scaled
            (if asked) and clamped to ``[min_depth, max_depth]``, in the GT frame.
        gt_depth_m (np.ndarray): ``(H, W)`` float64 ground truth in metres.
        valid_mask (np.ndarray): ``(H, W)`` bool, GT valid & inside the crop box.
        box (tuple[int, int, int, int]): The crop box ``(top, bottom, left, right)``.
        scale (float): The median-scaling factor applied (1.0 when off).
    """
    pred_depth_m: np.ndarray
    gt_depth_m: np.ndarray
    valid_mask: np.ndarray
    box: Tuple[int, int, int, int]
    scale: float


def to_depth_map(x: ArrayLike, key: str = 'depth') -> np.ndarray:
    """Convert a ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` tensor/array to ``(H, W)`` float64.

    Args:
        x (np.ndarray | torch.Tensor): The depth map.
        key (str): Name used in error messages. Defaults to 'depth'.

    Returns:
        np.ndarray: ``(H, W)`` float64 array.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().to('cpu', torch.float64).numpy()
    x = np.asarray(x, dtype=np.float64)
    while x.ndim > 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f'{key} must be (H, W), (1, H, W) or (1, 1, H, W); got shape '
                         f'{tuple(np.shape(x))}.')
    return x


def depth_errors(gt_depth_m: np.ndarray, pred_depth_m: np.ndarray,
                 silog_convention: str = 'bts') -> Dict[str, float]:
    """Every standard depth metric of one image, on its evaluated pixels.

    With ``g`` the ground truth, ``p`` the prediction (both > 0, already masked and
    clamped), ``n`` pixels and ``d = ln p - ln g``:

    * ``d1, d2, d3``: fraction of pixels with ``max(g/p, p/g) < 1.25^k``, k = 1, 2, 3
      (strict ``<``).
    * ``abs_rel = mean(|p - g| / g)``; ``sq_rel = mean((p - g)^2 / g)``.
    * ``rmse = sqrt(mean((p - g)^2))`` (metres); ``rmse_log = sqrt(mean(d^2))`` (natural log).
    * ``log10 = mean(|log10 p - log10 g|)``.
    * ``silog``: ``'bts'`` (default, the KITTI benchmark and BTS/NeWCRFs/PixelFormer):
      ``100 * sqrt(mean(d^2) - mean(d)^2)``; ``'mmseg'``: ``sqrt(mean(d^2) - 0.5 mean(d)^2)``
      (no factor 100). Computed in the algebraically equal centred form
      ``var(d) = mean((d - mean(d))^2)``, which cannot go negative by round-off.

    Args:
        gt_depth_m (np.ndarray): ``(N,)`` ground-truth depths in metres, all > 0.
        pred_depth_m (np.ndarray): ``(N,)`` predicted depths in metres, all > 0.
        silog_convention (str): ``'bts'`` or ``'mmseg'``. Defaults to 'bts'.

    Returns:
        dict[str, float]: The keys of :data:`DEPTH_METRIC_NAMES`.
    """
    if silog_convention not in SILOG_CONVENTIONS:
        raise ValueError(f'Unknown silog_convention {silog_convention!r}; valid: '
                         f'{list(SILOG_CONVENTIONS)}.')
    g = np.asarray(gt_depth_m, dtype=np.float64).ravel()
    p = np.asarray(pred_depth_m, dtype=np.float64).ravel()
    if g.shape != p.shape or g.size == 0:
        raise ValueError(f'depth_errors needs two equal, non-empty pixel sets; got '
                         f'{g.shape} and {p.shape}.')
    if not (np.all(g > 0) and np.all(p > 0)):
        raise ValueError('depth_errors needs strictly positive depths (mask and clamp first).')
    ratio = np.maximum(g / p, p / g)
    diff = p - g
    d = np.log(p) - np.log(g)
    # mean(d^2) - mean(d)^2 == mean((d - mean(d))^2); the centred form avoids cancellation.
    var_d = float(np.mean((d - d.mean())**2))
    if silog_convention == 'bts':
        silog = 100.0 * np.sqrt(var_d)
    else:  # mean(d^2) - 0.5 mean(d)^2 == var(d) + 0.5 mean(d)^2
        silog = np.sqrt(var_d + 0.5 * float(d.mean())**2)
    return {
        'd1': float(np.mean(ratio < 1.25)),
        'd2': float(np.mean(ratio < 1.25**2)),
        'd3': float(np.mean(ratio < 1.25**3)),
        'abs_rel': float(np.mean(np.abs(diff) / g)),
        'sq_rel': float(np.mean(diff**2 / g)),
        'rmse': float(np.sqrt(np.mean(diff**2))),
        'rmse_log': float(np.sqrt(np.mean(d**2))),
        'log10': float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        'silog': float(silog),
    }


def _resize_bilinear(x: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize with ``align_corners=False`` (mmseg's ``resize`` default)."""
    t = torch.from_numpy(np.ascontiguousarray(x))[None, None]
    return F.interpolate(t, size=shape, mode='bilinear', align_corners=False)[0, 0].numpy()


def _align_frames(pred: np.ndarray, gt: np.ndarray, kb_crop: Optional[Sequence[int]],
                  crop_convention: str, resize_pred: bool,
                  name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Bring prediction and GT into one frame (see :func:`prepare_depth_eval`)."""
    if pred.shape == gt.shape:
        return pred, gt
    if kb_crop is not None:
        top, left, ori_h, ori_w = (int(v) for v in kb_crop)
        if gt.shape == (ori_h, ori_w) and pred.shape[0] + top <= ori_h \
                and pred.shape[1] + left <= ori_w:
            ph, pw = pred.shape
            if crop_convention == 'kb_cropped':
                # BTS-family online eval: the GT is KB-cropped like the image.
                return pred, gt[top:top + ph, left:left + pw]
            # BTS bts_eval.py: the prediction goes back into a zero canvas (zeros are then
            # clamped to min_depth, as there).
            canvas = np.zeros_like(gt)
            canvas[top:top + ph, left:left + pw] = pred
            return canvas, gt
        if pred.shape == (ori_h, ori_w) and gt.shape[0] + top <= ori_h \
                and gt.shape[1] + left <= ori_w:
            gh, gw = gt.shape
            return pred[top:top + gh, left:left + gw], gt
    if resize_pred:
        return _resize_bilinear(pred, gt.shape), gt
    raise ValueError(
        f'{name}: prediction shape {pred.shape} != ground-truth shape {gt.shape} (kb_crop='
        f'{kb_crop!r}); resize the prediction to the GT in the model, or set '
        'resize_pred=True to resize it bilinearly here.')


def prepare_depth_eval(pred_depth_m: ArrayLike,
                       gt_depth_m: ArrayLike,
                       *,
                       min_depth: float = 1e-3,
                       max_depth: float = 10.0,
                       crop: Optional[str] = 'none',
                       crop_convention: str = 'kb_cropped',
                       kb_crop: Optional[Sequence[int]] = None,
                       median_scaling: bool = False,
                       resize_pred: bool = False,
                       valid_mask: Optional[ArrayLike] = None,
                       name: str = '<image>') -> DepthEvalFrame:
    """Apply the evaluation protocol (frames, crop, GT mask, median scaling, caps) to one image.

    Frames. When the shapes differ and ``kb_crop=(top, left, ori_h, ori_w)`` relates them (a
    KB-cropped prediction and a full-size GT, or the reverse), the full-size array is cut to
    the KB window (``'kb_cropped'``) or, for ``'full_size'`` with a full-size GT, the
    prediction is placed into a zero canvas as in BTS's ``bts_eval.py``. Otherwise a shape
    mismatch is an error unless ``resize_pred=True`` (bilinear, ``align_corners=False``).

    Crop. ``'nyu_eigen'`` needs a 480x640 frame. ``'garg'``/``'eigen'`` use the fractions of
    the GT frame (``'kb_cropped'``, default, NeWCRFs/PixelFormer tables) or of the original
    frame (``'full_size'``), which needs ``kb_crop`` unless the GT is itself full size
    (see :mod:`.eval_crops`).

    Args:
        pred_depth_m (np.ndarray | torch.Tensor): Prediction, ``(H, W)`` / ``(1, H, W)``, metres.
        gt_depth_m (np.ndarray | torch.Tensor): Ground truth, same layout, metres, 0 = invalid.
        min_depth (float): Lower cap / GT threshold (exclusive). Defaults to 1e-3.
        max_depth (float): Upper cap / GT threshold (exclusive). Defaults to 10.0
            (NYU; use 80.0 for KITTI).
        crop (str | None): ``'none'``, ``'nyu_eigen'``, ``'garg'`` or ``'eigen'``.
            Defaults to 'none'.
        crop_convention (str): ``'kb_cropped'`` or ``'full_size'``. Defaults to 'kb_cropped'.
        kb_crop (Sequence[int], optional): ``(top, left, ori_h, ori_w)`` of the KB crop
            applied by the data pipeline. Defaults to None.
        median_scaling (bool): Scale the prediction by ``median(gt) / median(pred)`` over the
            evaluated pixels (relative-depth models). Defaults to False.
        resize_pred (bool): Resize a prediction of another size to the GT bilinearly.
            Defaults to False (a mismatch is an error).
        valid_mask (np.ndarray | torch.Tensor, optional): Extra ``(H, W)`` mask ANDed into the
            GT mask. Defaults to None.
        name (str): Image name for error messages. Defaults to '<image>'.

    Returns:
        DepthEvalFrame: The prepared frame.

    Raises:
        ValueError: NaN in the prediction, bad options, shape mismatch.
        NoValidDepthError: No valid GT pixel after the crop and caps.
    """
    crop = check_crop_name(crop)
    if crop_convention not in CROP_CONVENTIONS:
        raise ValueError(f'Unknown crop_convention {crop_convention!r}; valid: '
                         f'{list(CROP_CONVENTIONS)}.')
    if not 0 < min_depth < max_depth:
        raise ValueError(f'Need 0 < min_depth < max_depth; got {min_depth}, {max_depth}.')
    pred = to_depth_map(pred_depth_m, f'{name}: pred_depth_m')
    gt = to_depth_map(gt_depth_m, f'{name}: gt_depth_m')
    if np.isnan(pred).any():
        raise ValueError(f'{name}: the predicted depth contains {int(np.isnan(pred).sum())} '
                         'NaN value(s).')
    pred, gt = _align_frames(pred, gt, kb_crop, crop_convention, resize_pred, name)

    if crop in ('garg', 'eigen') and crop_convention == 'full_size':
        if kb_crop is None:
            raise ValueError(
                f"{name}: crop_convention='full_size' needs the sample metainfo 'kb_crop' "
                '(top, left, ori_h, ori_w), which the data pipeline sets when it applies a '
                "KB crop; it is absent. Without a KB crop both conventions coincide: use "
                "crop_convention='kb_cropped'.")
        top, left, ori_h, ori_w = (int(v) for v in kb_crop)
        if gt.shape == (ori_h, ori_w):
            box = crop_box(crop, ori_h, ori_w)
        else:
            box = crop_box_in_kb_frame(crop, kb_crop, gt.shape)
    else:
        box = crop_box(crop, *gt.shape)

    valid = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    box_mask = np.zeros_like(valid)
    box_mask[box[0]:box[1], box[2]:box[3]] = True
    valid &= box_mask
    if valid_mask is not None:
        extra = to_depth_map(valid_mask, f'{name}: valid_mask') > 0
        if extra.shape != gt.shape:
            raise ValueError(f'{name}: valid_mask shape {extra.shape} != GT shape {gt.shape}.')
        valid &= extra
    if not valid.any():
        raise NoValidDepthError(
            f'{name}: no valid ground-truth pixel in ({min_depth}, {max_depth}) m inside '
            f'crop {crop!r} {box}.')

    scale = 1.0
    if median_scaling:
        med_pred = float(np.median(pred[valid]))
        if not np.isfinite(med_pred) or med_pred <= 0:
            raise ValueError(f'{name}: median scaling needs a positive, finite median '
                             f'prediction; got {med_pred}.')
        scale = float(np.median(gt[valid])) / med_pred
        pred = pred * scale
    # BTS caps: pred[pred < min] = min; pred[pred > max] = max (+inf -> max, -inf -> min).
    pred = np.clip(pred, min_depth, max_depth)
    return DepthEvalFrame(pred, gt, valid, tuple(int(v) for v in box), scale)


def compute_depth_metrics(pred_depth_m: ArrayLike,
                          gt_depth_m: ArrayLike,
                          *,
                          min_depth: float = 1e-3,
                          max_depth: float = 10.0,
                          crop: Optional[str] = 'none',
                          crop_convention: str = 'kb_cropped',
                          kb_crop: Optional[Sequence[int]] = None,
                          silog_convention: str = 'bts',
                          median_scaling: bool = False,
                          resize_pred: bool = False,
                          valid_mask: Optional[ArrayLike] = None,
                          name: str = '<image>') -> Dict[str, float]:
    """The standard metrics of one image: :func:`prepare_depth_eval` then :func:`depth_errors`.

    Args:
        pred_depth_m (np.ndarray | torch.Tensor): Prediction in metres.
        gt_depth_m (np.ndarray | torch.Tensor): Ground truth in metres, 0 = invalid.
        min_depth (float): Defaults to 1e-3.
        max_depth (float): Defaults to 10.0.
        crop (str | None): Defaults to 'none'.
        crop_convention (str): Defaults to 'kb_cropped'.
        kb_crop (Sequence[int], optional): Defaults to None.
        silog_convention (str): ``'bts'`` or ``'mmseg'``. Defaults to 'bts'.
        median_scaling (bool): Defaults to False.
        resize_pred (bool): Defaults to False.
        valid_mask (np.ndarray | torch.Tensor, optional): Defaults to None.
        name (str): Defaults to '<image>'.

    Returns:
        dict[str, float]: The keys of :data:`DEPTH_METRIC_NAMES`.

    Raises:
        NoValidDepthError: No valid GT pixel (callers averaging over images count and skip).
    """
    frame = prepare_depth_eval(
        pred_depth_m, gt_depth_m, min_depth=min_depth, max_depth=max_depth, crop=crop,
        crop_convention=crop_convention, kb_crop=kb_crop, median_scaling=median_scaling,
        resize_pred=resize_pred, valid_mask=valid_mask, name=name)
    return depth_errors(frame.gt_depth_m[frame.valid_mask],
                        frame.pred_depth_m[frame.valid_mask], silog_convention)
