"""Hu et al.'s depth + gradient + normal loss (WACV 2019, "Revisiting Single Image Depth
Estimation"), Eq. 18 of Yao, Wu, Zhang (BMVC 2024), used by the sparse-pixel study.

With ``e = pred - target`` and ``F(x) = ln(x + alpha)`` (alpha = 0.5)::

    L = w_depth * mean_i F(|e_i|)                                            (L_depth)
      + lambda  * mean_i [F(|dx(pred) - dx(gt)|_i) + F(|dy(pred) - dy(gt)|_i)]  (L_grad)
      + mu      * mean_i (1 - <n_pred, n_gt> / (|n_pred| |n_gt|))           (L_normal)

where ``dx``/``dy`` are 3x3 Sobel filters (unnormalised, ``[[1, 0, -1], [2, 0, -2],
[1, 0, -1]]`` as in Hu et al.'s code) and ``n = (-dx d, -dy d, 1)``. lambda = mu = 1.

Masks: ``L_depth`` averages over valid pixels; ``L_grad`` and ``L_normal`` over pixels whose
whole 3x3 Sobel support is valid and inside the image.

Offset: ``F(0) = ln(0.5) < 0``, so identical maps give ``(w_depth + 2 lambda) ln(0.5)``
(= 3 ln 0.5 = -2.08 with the defaults) in Hu et al.'s definition. The constant has no effect
on the gradients; by default (``subtract_offset=True``) it is removed, i.e.
``F(x) - F(0) = ln(1 + x / alpha)`` is used, so identical maps give 0 and the logged loss is
non-negative. ``subtract_offset=False`` reproduces Hu et al.'s values.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseDepthLoss, depth_loss


def _check_hu_options(where: str, *, alpha: float, **_) -> None:
    """Raise a ``ValueError`` naming ``where`` unless ``alpha > 0``."""
    if not alpha > 0:
        raise ValueError(f'{where}: alpha must be > 0, got {alpha}')


def _sobel(depth: Tensor) -> Tensor:
    """``(B, 2, H, W)`` unnormalised Sobel x/y responses of ``(B, 1, H, W)``."""
    kx = depth.new_tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]])
    weight = torch.stack([kx, kx.t()]).unsqueeze(1)
    return F.conv2d(depth, weight, padding=1)


def _erode3x3(mask: Tensor) -> Tensor:
    """Pixels whose 3x3 neighbourhood is valid and inside the image."""
    invalid = F.pad((~mask).to(torch.float32), (1, 1, 1, 1), value=1.0)
    return F.max_pool2d(invalid, 3, stride=1) == 0


def _hu_terms(pred: Tensor, target: Tensor, mask: Tensor, alpha: float,
              depth_weight: float, grad_weight: float, normal_weight: float,
              subtract_offset: bool) -> Tuple[Tensor, Tensor]:
    """The batch-pooled Hu loss (one term) and whether any pixel is valid."""
    gt = torch.where(mask, target, torch.zeros_like(target))
    offset = math.log(alpha) if subtract_offset else 0.0

    def _f(x: Tensor) -> Tensor:
        return torch.log(x.abs() + alpha) - offset

    def _masked_mean(x: Tensor, m: Tensor) -> Tensor:
        return torch.where(m, x, torch.zeros_like(x)).sum() / m.sum().clamp_min(1)

    l_depth = _masked_mean(_f(pred - gt), mask)
    grad_mask = _erode3x3(mask)
    gp, gg = _sobel(pred), _sobel(gt)
    l_grad = _masked_mean(_f(gp[:, :1] - gg[:, :1]) + _f(gp[:, 1:] - gg[:, 1:]), grad_mask)
    ones = torch.ones_like(pred)
    n_p = torch.cat([-gp, ones], dim=1)
    n_g = torch.cat([-gg, ones], dim=1)
    cos = (n_p * n_g).sum(1, keepdim=True) / (n_p.norm(dim=1, keepdim=True) *
                                              n_g.norm(dim=1, keepdim=True))
    l_normal = _masked_mean(1.0 - cos, grad_mask)
    loss = depth_weight * l_depth + grad_weight * l_grad + normal_weight * l_normal
    return loss, mask.any()


def hu_depth_loss(pred: Tensor,
                  target: Tensor,
                  valid_mask: Optional[Tensor] = None,
                  alpha: float = 0.5,
                  depth_weight: float = 1.0,
                  grad_weight: float = 1.0,
                  normal_weight: float = 1.0,
                  subtract_offset: bool = True,
                  *,
                  weight: Optional[Tensor] = None,
                  reduction: str = 'mean',
                  avg_factor: Optional[float] = None) -> Tensor:
    """Hu et al.'s loss (Eq. 18), see the module docstring.

    Each term is pooled over the valid pixels of the whole batch, so there is one loss
    term per batch: ``reduction`` has nothing to average and ``weight`` is a scalar.

    Args:
        pred (Tensor): ``(B, 1, H, W)`` predicted depth in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.
        alpha (float): Offset of ``F(x) = ln(x + alpha)``. Defaults to 0.5.
        depth_weight (float): Weight of ``L_depth``. Defaults to 1.0.
        grad_weight (float): lambda, weight of ``L_grad``. Defaults to 1.0.
        normal_weight (float): mu, weight of ``L_normal``. Defaults to 1.0.
        subtract_offset (bool): Use ``F(x) - F(0)`` so identical maps give 0.
            Defaults to True.
        weight (Tensor, optional): Scalar weight. Defaults to None.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'`` (all give the one term).
            Defaults to 'mean'.
        avg_factor (float, optional): Divisor for ``'mean'``. Defaults to None.

    Returns:
        Tensor: Scalar; a term with no valid pixel contributes 0.
    """
    _check_hu_options('hu_depth_loss', alpha=alpha)
    return depth_loss(_hu_terms, pred, target, valid_mask, where='hu_depth_loss',
                      weight=weight, reduction=reduction, avg_factor=avg_factor,
                      alpha=alpha, depth_weight=depth_weight, grad_weight=grad_weight,
                      normal_weight=normal_weight, subtract_offset=subtract_offset)


@MODELS.register_module()
class HuDepthLoss(BaseDepthLoss):
    """Hu et al.'s depth/gradient/normal loss, the module of :func:`hu_depth_loss`.

    Args:
        alpha (float): Offset of ``F(x) = ln(x + alpha)``. Defaults to 0.5.
        depth_weight (float): Weight of ``L_depth``. Defaults to 1.0.
        grad_weight (float): lambda, weight of ``L_grad``. Defaults to 1.0.
        normal_weight (float): mu, weight of ``L_normal``. Defaults to 1.0.
        subtract_offset (bool): Identical maps give 0. Defaults to True.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_hu'.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
    """

    loss_fn = staticmethod(hu_depth_loss)
    default_loss_name = 'loss_hu'
    check_options = staticmethod(_check_hu_options)
