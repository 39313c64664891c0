"""AdaBins' bin-centre chamfer loss (Bhat et al., CVPR 2021), written in torch.

AdaBins computes it with pytorch3d's ``chamfer_distance``; it is a few lines of torch, so it
is written here instead of adding that dependency. For image ``b`` with bin centres
``c_k`` (k = 1..K) and valid ground-truth depths ``y_j`` (j = 1..n)::

    L_b = mean_j min_k (y_j - c_k)^2 + mean_k min_j (c_k - y_j)^2

and the loss is the mean of ``L_b`` over images with at least one valid pixel (0 if none).
"""
from typing import Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseDepthLoss, depth_loss


def _chamfer_terms(bin_centers: Tensor, target: Tensor,
                   mask: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-image ``L_b`` (0 without valid pixels) and which images have a valid pixel."""
    if bin_centers.dim() == 4 and bin_centers.shape[2:] == (1, 1):
        bin_centers = bin_centers.flatten(1)
    if bin_centers.dim() != 2 or bin_centers.shape[0] != target.shape[0]:
        raise ValueError('bins_chamfer_loss: bin_centers must be (B, K) (or (B, K, 1, 1)) '
                         f'with the batch size of target {tuple(target.shape)}, got '
                         f'{tuple(bin_centers.shape)}; a bin loss belongs in the head\'s '
                         '`loss_bins`, not in `loss_decode` (which gets depth maps)')
    mask = mask.flatten(1)                                               # (B, N)
    n = mask.sum(1)
    ok = n > 0
    # In 1-D the nearest element of a sorted set is one of the two neighbours of the
    # insertion point, so both nearest-neighbour terms need sorting and searchsorted only:
    # O(N log K + N log N) time and O(B N) memory, where the pairwise (B, N, K) distance
    # tensor (pytorch3d's chamfer_distance, or a broadcast) is ~0.9 GB at 416x544, K=256.
    # depth -> nearest centre, averaged over valid pixels (gradient to the centres).
    centres, _ = torch.sort(bin_centers, dim=1)                          # (B, K)
    # invalid pixels (0, negative, inf, NaN) are zeroed: their distances are masked out of
    # the value, and a non-finite one would still put NaN into the centres' gradient
    depth = torch.where(mask, target.flatten(1),
                        torch.zeros_like(target.flatten(1))).to(centres.dtype)
    to_centre = _nearest_sq_dist(depth, centres, torch.full_like(n, centres.shape[1]))
    term1 = torch.where(mask, to_centre, torch.zeros_like(to_centre)).sum(1) / n.clamp_min(1)
    # centre -> nearest valid depth: invalid pixels sort last (+inf) and are never picked.
    valid_depth = torch.where(mask, depth.detach(), torch.full_like(depth, float('inf')))
    valid_depth, _ = torch.sort(valid_depth, dim=1)
    to_depth = _nearest_sq_dist(bin_centers, valid_depth, n)
    term2 = torch.where(ok[:, None], to_depth, torch.zeros_like(to_depth)).mean(1)
    return torch.where(ok, term1 + term2, torch.zeros_like(term1)), ok


def bins_chamfer_loss(bin_centers: Tensor, target: Tensor,
                      valid_mask: Optional[Tensor] = None, *,
                      weight: Optional[Tensor] = None, reduction: str = 'mean',
                      avg_factor: Optional[float] = None) -> Tensor:
    """Bidirectional squared chamfer distance between bin centres and valid depths.

    Args:
        bin_centers (Tensor): ``(B, K)`` (or ``(B, K, 1, 1)``) bin centres in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.
        weight (Tensor, optional): Per-image weights ``(B,)``. Defaults to None.
        reduction (str): ``'mean'`` (over images with a valid pixel), ``'sum'`` or
            ``'none'`` (the ``(B,)`` values ``L_b``). Defaults to 'mean'.
        avg_factor (float, optional): Divisor of the sum for ``'mean'``. Defaults to None.

    Returns:
        Tensor: Scalar (m^2).
    """
    return depth_loss(_chamfer_terms, bin_centers, target, valid_mask,
                      where='bins_chamfer_loss', weight=weight, reduction=reduction,
                      avg_factor=avg_factor, check_pair=False)


def _nearest_sq_dist(query: Tensor, reference: Tensor, count: Tensor) -> Tensor:
    """``out[b, i] = min_{j < count[b]} (query[b, i] - reference[b, j])^2``.

    Args:
        query (Tensor): ``(B, M)`` values.
        reference (Tensor): ``(B, L)`` values sorted ascending along dim 1; only the first
            ``count[b]`` of row ``b`` are candidates.
        count (Tensor): ``(B,)`` number of candidates per row (rows with 0 give 0).

    Returns:
        Tensor: ``(B, M)`` squared distances to the nearest candidate.
    """
    hi_max = (count - 1).clamp_min(0)[:, None]
    idx = torch.searchsorted(reference.detach().contiguous(), query.detach().contiguous())
    hi = torch.minimum(idx, hi_max)
    lo = torch.minimum((idx - 1).clamp_min(0), hi_max)
    near_hi = torch.gather(reference, 1, hi)
    near_lo = torch.gather(reference, 1, lo)
    # A row without candidates (its reference is padding, e.g. +inf) gives 0 with a zero
    # gradient instead of inf (whose gradient would be NaN after any masking).
    empty = (count == 0)[:, None]
    near_hi = torch.where(empty, query.detach(), near_hi)
    near_lo = torch.where(empty, query.detach(), near_lo)
    return torch.minimum((query - near_hi) ** 2, (query - near_lo) ** 2)


@MODELS.register_module()
class BinsChamferLoss(BaseDepthLoss):
    """AdaBins' bin-centre chamfer loss, the module of :func:`bins_chamfer_loss`.

    Called as ``loss(bin_centers (B, K), target (B, 1, H, W), valid_mask=None)``; heads
    that predict bins (AdaBins, DepthFormer) take it as ``loss_bins=dict(...)``, next to
    ``loss_decode`` (whose losses get depth maps).

    Args:
        loss_weight (float): Multiplier of the loss (AdaBins uses 0.1). Defaults to 0.1.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_bins_chamfer'.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
    """

    loss_fn = staticmethod(bins_chamfer_loss)
    default_loss_name = 'loss_bins_chamfer'

    def __init__(self, loss_weight: float = 0.1, **kwargs):
        super().__init__(loss_weight=loss_weight, **kwargs)
