"""Masked mean-squared error over valid ground-truth pixels (the MSE term of Eq. 17)."""
from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .utils import check_depth_pair, depth_valid_mask


def masked_mse_loss(pred: Tensor, target: Tensor,
                    valid_mask: Optional[Tensor] = None) -> Tensor:
    """``mean_{valid i} (pred_i - target_i)^2`` pooled over the batch (m^2).

    Args:
        pred (Tensor): ``(B, 1, H, W)`` predicted depth in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.

    Returns:
        Tensor: Scalar; 0 (with zero gradients) when no pixel is valid.
    """
    check_depth_pair(pred, target, 'masked_mse_loss')
    mask = depth_valid_mask(target, valid_mask)
    diff = torch.where(mask, pred - torch.where(mask, target, torch.zeros_like(target)),
                       torch.zeros_like(pred))
    return (diff ** 2).sum() / mask.sum().clamp_min(1)


@MODELS.register_module()
class MaskedMSELoss(nn.Module):
    """Masked MSE, a thin wrapper of :func:`masked_mse_loss`.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_mse'.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_mse'):
        super().__init__()
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f'MaskedMSELoss: loss_name must start with "loss_", '
                             f'got {loss_name!r}')
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Weighted masked MSE of ``(B, 1, H, W)`` depth maps; returns a scalar."""
        return self.loss_weight * masked_mse_loss(pred, target, valid_mask)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item."""
        return self._loss_name
