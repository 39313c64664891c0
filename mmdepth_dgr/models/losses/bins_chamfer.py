"""AdaBins' bin-centre chamfer loss (Bhat et al., CVPR 2021), written in torch.

AdaBins computes it with pytorch3d's ``chamfer_distance``; it is a few lines of torch, so it
is written here instead of adding that dependency. For image ``b`` with bin centres
``c_k`` (k = 1..K) and valid ground-truth depths ``y_j`` (j = 1..n)::

    L_b = mean_j min_k (y_j - c_k)^2 + mean_k min_j (c_k - y_j)^2

and the loss is the mean of ``L_b`` over images with at least one valid pixel (0 if none).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .utils import depth_valid_mask


def bins_chamfer_loss(bin_centers: Tensor, target: Tensor,
                      valid_mask: Optional[Tensor] = None) -> Tensor:
    """Bidirectional squared chamfer distance between bin centres and valid depths.

    Args:
        bin_centers (Tensor): ``(B, K)`` (or ``(B, K, 1, 1)``) bin centres in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.

    Returns:
        Tensor: Scalar (m^2).
    """
    if bin_centers.dim() == 4:
        bin_centers = bin_centers.flatten(1)
    if bin_centers.dim() != 2 or bin_centers.shape[0] != target.shape[0]:
        raise ValueError('bins_chamfer_loss: bin_centers must be (B, K) with the batch '
                         f'size of target {tuple(target.shape)}, got '
                         f'{tuple(bin_centers.shape)}')
    mask = depth_valid_mask(target, valid_mask).flatten(1)               # (B, N)
    depth = torch.where(mask, target.flatten(1), torch.zeros_like(target.flatten(1)))
    d2 = (depth[:, :, None] - bin_centers[:, None, :]) ** 2              # (B, N, K)
    inf = torch.finfo(d2.dtype).max
    n = mask.sum(1)
    # depth -> nearest centre, averaged over valid pixels
    to_centre = d2.min(dim=2).values
    term1 = torch.where(mask, to_centre, torch.zeros_like(to_centre)).sum(1) / n.clamp_min(1)
    # centre -> nearest valid depth
    term2 = torch.where(mask[:, :, None], d2, torch.full_like(d2, inf)).min(dim=1).values
    term2 = torch.where(n[:, None] > 0, term2, torch.zeros_like(term2)).mean(1)
    ok = n > 0
    per_image = torch.where(ok, term1 + term2, torch.zeros_like(term1))
    return per_image.sum() / ok.sum().clamp_min(1)


@MODELS.register_module()
class BinsChamferLoss(nn.Module):
    """AdaBins' bin-centre chamfer loss, a thin wrapper of :func:`bins_chamfer_loss`.

    Called as ``loss(bin_centers (B, K), target (B, 1, H, W), valid_mask=None)``.

    Args:
        loss_weight (float): Multiplier of the loss (AdaBins uses 0.1). Defaults to 0.1.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_bins_chamfer'.
    """

    def __init__(self, loss_weight: float = 0.1, loss_name: str = 'loss_bins_chamfer'):
        super().__init__()
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f'BinsChamferLoss: loss_name must start with "loss_", '
                             f'got {loss_name!r}')
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, bin_centers: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Weighted chamfer loss; returns a scalar."""
        return self.loss_weight * bins_chamfer_loss(bin_centers, target, valid_mask)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item."""
        return self._loss_name
