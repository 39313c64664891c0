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
from typing import Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseDepthLoss, depth_loss

_FORMS = ('bts', 'adabins')


def _check_silog_options(where: str, *, form: str, **_) -> None:
    """Raise a ``ValueError`` naming ``where`` for an unknown ``form``."""
    if form not in _FORMS:
        raise ValueError(f'{where}: form must be one of {_FORMS}, got {form!r}')


def _silog_terms(pred: Tensor, target: Tensor, mask: Tensor, variance_focus: float,
                 scale: float, form: str, min_depth: float,
                 eps: float) -> Tuple[Tensor, Tensor]:
    """The batch-pooled SILog (one term) and whether enough pixels are valid."""
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
    return torch.where(enough, loss, torch.zeros_like(loss)), enough


def silog_depth_loss(pred: Tensor,
                     target: Tensor,
                     valid_mask: Optional[Tensor] = None,
                     variance_focus: float = 0.85,
                     scale: float = 10.0,
                     form: str = 'bts',
                     min_depth: float = 1e-3,
                     eps: float = 1e-8,
                     *,
                     weight: Optional[Tensor] = None,
                     reduction: str = 'mean',
                     avg_factor: Optional[float] = None) -> Tensor:
    """Scale-invariant log loss (see the module docstring for the forms).

    The statistics are pooled over the valid pixels of the whole batch, so there is one
    loss term per batch: ``reduction`` has nothing to average and ``weight`` is a scalar.

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
        weight (Tensor, optional): Scalar weight. Defaults to None.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'`` (all give the one term).
            Defaults to 'mean'.
        avg_factor (float, optional): Divisor for ``'mean'``. Defaults to None.

    Returns:
        Tensor: Scalar; 0 when no pixel is valid (fewer than 2 for ``'adabins'``).
    """
    _check_silog_options('silog_depth_loss', form=form)
    return depth_loss(_silog_terms, pred, target, valid_mask, where='silog_depth_loss',
                      weight=weight, reduction=reduction, avg_factor=avg_factor,
                      variance_focus=variance_focus, scale=scale, form=form,
                      min_depth=min_depth, eps=eps)


@MODELS.register_module()
class SILogDepthLoss(BaseDepthLoss):
    """Scale-invariant log loss, the module of :func:`silog_depth_loss`.

    Presets: BTS / NeWCRFs / PixelFormer ``form='bts', variance_focus=0.85, scale=10``;
    AdaBins ``form='adabins', variance_focus=0.85, scale=10``.

    Args:
        variance_focus (float): lambda of the scale-invariant term. Defaults to 0.85.
        scale (float): Output multiplier. Defaults to 10.0.
        form (str): ``'bts'`` or ``'adabins'``. Defaults to 'bts'.
        min_depth (float): Clamp before the log, metres. Defaults to 1e-3.
        eps (float): Lower clamp of the radicand. Defaults to 1e-8.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_silog'.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
    """

    loss_fn = staticmethod(silog_depth_loss)
    default_loss_name = 'loss_silog'
    check_options = staticmethod(_check_silog_options)
