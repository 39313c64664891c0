"""Scale-invariant log loss (Eigen et al. 2014) in the variants used by the host repos.

With ``g_i = log(pred_i) - log(target_i)`` over the valid pixels of the whole batch (pooled,
as the host repos do):

``form='bts'`` (BTS, NeWCRFs, PixelFormer; ``variance_focus=0.85``, ``scale=10``)::

    L = scale * sqrt(mean(g^2) - variance_focus * mean(g)^2)

``form='adabins'`` (AdaBins; same defaults, i.e. its ``0.15 = 1 - 0.85``)::

    L = scale * sqrt(var(g) + (1 - variance_focus) * mean(g)^2)

where AdaBins' ``var`` is torch's default *unbiased* variance (divides by n - 1), so the two
forms differ only by the factor n / (n - 1) on the variance.

The radicand is clamped at ``eps`` (1e-8) so that identical maps give a finite gradient
(zero), and depths are clamped at ``min_depth`` before the log.
Registered as ``SILogDepthLoss`` (mmseg already registers ``SiLogLoss``, a 0.5-focus variant
without the scale).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .utils import check_depth_pair, depth_valid_mask

_FORMS = ('bts', 'adabins')


def silog_depth_loss(pred: Tensor,
                     target: Tensor,
                     valid_mask: Optional[Tensor] = None,
                     variance_focus: float = 0.85,
                     scale: float = 10.0,
                     form: str = 'bts',
                     min_depth: float = 1e-3,
                     eps: float = 1e-8) -> Tensor:
    """Scale-invariant log loss (see the module docstring for the forms).

    Args:
        pred (Tensor): ``(B, 1, H, W)`` predicted depth in metres.
        target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra mask, intersected with the target's validity.
            Defaults to None.
        variance_focus (float): lambda of the scale-invariant term. Defaults to 0.85.
        scale (float): Output multiplier. Defaults to 10.0.
        form (str): ``'bts'`` or ``'adabins'``. Defaults to 'bts'.
        min_depth (float): Depths are clamped at it (metres) before the log.
            Defaults to 1e-3.
        eps (float): Lower clamp of the radicand. Defaults to 1e-8.

    Returns:
        Tensor: Scalar; 0 when no pixel is valid (fewer than 2 for ``'adabins'``).
    """
    check_depth_pair(pred, target, 'silog_depth_loss')
    if form not in _FORMS:
        raise ValueError(f'silog_depth_loss: form must be one of {_FORMS}, got {form!r}')
    mask = depth_valid_mask(target, valid_mask)
    n = mask.sum()
    safe_t = torch.where(mask, target, torch.ones_like(target))
    g = torch.log(pred.clamp(min=min_depth)) - torch.log(safe_t.clamp(min=min_depth))
    g = torch.where(mask, g, torch.zeros_like(g))
    mean_g = g.sum() / n.clamp_min(1)
    mean_g2 = (g ** 2).sum() / n.clamp_min(1)
    if form == 'bts':
        radicand = mean_g2 - variance_focus * mean_g ** 2
        enough = n > 0
    else:
        var = (mean_g2 - mean_g ** 2) * n / (n - 1).clamp_min(1)
        radicand = var + (1.0 - variance_focus) * mean_g ** 2
        enough = n > 1
    loss = scale * torch.sqrt(radicand.clamp(min=eps))
    return torch.where(enough, loss, torch.zeros_like(loss))


@MODELS.register_module()
class SILogDepthLoss(nn.Module):
    """Scale-invariant log loss, a thin wrapper of :func:`silog_depth_loss`.

    Presets: BTS / NeWCRFs / PixelFormer ``form='bts', variance_focus=0.85, scale=10``;
    AdaBins ``form='adabins', variance_focus=0.85, scale=10``.

    Args:
        variance_focus (float): lambda of the scale-invariant term. Defaults to 0.85.
        scale (float): Output multiplier. Defaults to 10.0.
        form (str): ``'bts'`` or ``'adabins'``. Defaults to 'bts'.
        min_depth (float): Clamp before the log, metres. Defaults to 1e-3.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_silog'.
    """

    def __init__(self,
                 variance_focus: float = 0.85,
                 scale: float = 10.0,
                 form: str = 'bts',
                 min_depth: float = 1e-3,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_silog'):
        super().__init__()
        if form not in _FORMS:
            raise ValueError(f'SILogDepthLoss: form must be one of {_FORMS}, got {form!r}')
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f'SILogDepthLoss: loss_name must start with "loss_", '
                             f'got {loss_name!r}')
        self.variance_focus = variance_focus
        self.scale = scale
        self.form = form
        self.min_depth = min_depth
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Weighted SILog of ``(B, 1, H, W)`` depth maps; returns a scalar."""
        return self.loss_weight * silog_depth_loss(
            pred, target, valid_mask, variance_focus=self.variance_focus, scale=self.scale,
            form=self.form, min_depth=self.min_depth)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item."""
        return self._loss_name
