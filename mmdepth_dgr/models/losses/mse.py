"""Masked mean-squared error over valid ground-truth pixels (the MSE term of Eq. 17)."""
from typing import Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseDepthLoss, depth_loss


def _mse_terms(pred: Tensor, target: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
    """Per-pixel ``(pred - target)^2`` at valid pixels, 0 elsewhere; counted = valid."""
    diff = torch.where(mask, pred - torch.where(mask, target, torch.zeros_like(target)),
                       torch.zeros_like(pred))
    return diff ** 2, mask


def masked_mse_loss(pred: Tensor, target: Tensor, valid_mask: Optional[Tensor] = None, *,
                    weight: Optional[Tensor] = None, reduction: str = 'mean',
                    avg_factor: Optional[float] = None) -> Tensor:
    """``mean_{valid i} (pred_i - target_i)^2`` pooled over the batch (m^2).

    Args:
        pred (Tensor): ``(B, 1, H, W)`` predicted depth in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.
        weight (Tensor, optional): Per-pixel weights broadcastable to ``(B, 1, H, W)``.
            Defaults to None.
        reduction (str): ``'mean'`` (over valid pixels), ``'sum'`` or ``'none'`` (the
            ``(B, 1, H, W)`` map, 0 at invalid pixels). Defaults to 'mean'.
        avg_factor (float, optional): Divisor of the sum for ``'mean'``. Defaults to None.

    Returns:
        Tensor: Scalar; 0 (with zero gradients) when no pixel is valid.
    """
    return depth_loss(_mse_terms, pred, target, valid_mask, where='masked_mse_loss',
                      weight=weight, reduction=reduction, avg_factor=avg_factor)


@MODELS.register_module()
class MaskedMSELoss(BaseDepthLoss):
    """Masked MSE, the module of :func:`masked_mse_loss` (one term per pixel).

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_mse'.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
    """

    loss_fn = staticmethod(masked_mse_loss)
    default_loss_name = 'loss_mse'
