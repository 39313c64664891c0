"""Optimal Transport Depth Loss (OTDL), Sec. 3.3, Eq. 11-17 of Yao, Wu, Zhang, "Improving
Depth Gradient Continuity in Transformers", BMVC 2024.

The paper normalises the predicted and ground-truth depth maps ``P`` and ``Q`` into
probability distributions (Eq. 11-12)::

    P' = P / sum(P),    Q' = Q / sum(Q)                         (sums over valid pixels)

and uses the optimal-transport cost between them as the loss (Eq. 13-14)::

    OT(P', Q') = min_{T >= 0, T 1 = P', T^T 1 = Q'}  sum_ij T_ij M_ij,   M_ij = |x_i - x_j|^2

The paper is ambiguous about the support ``x`` of the two distributions: the abstract treats
depth maps as *spatial* probability distributions (mass on pixel positions, M = squared
distance between positions) while Eq. 13 speaks of "depth values". Both readings are offered:

``mode='spatial'`` (default, the abstract's reading)
    Mass ``P'_i`` sits on pixel ``i``; ``M_ij`` is the squared distance between the pixel
    centres in *normalised image coordinates*: pixel ``(r, c)`` of an ``H x W`` map sits at
    ``((r + 0.5) / S, (c + 0.5) / S)`` with ``S = max(H, W)``, i.e. both axes are divided by
    the same length (the longer side spans (0, 1), the shorter (0, min(H, W) / S)), so the
    cost is isotropic and a shift by ``k`` pixels costs ``(k / S)^2``. The masses may be
    area-pooled (summed) over ``downsample x downsample`` cells first; cell centres keep
    their full-resolution coordinates, so the cost does not depend on ``downsample`` beyond
    quantisation. The exact problem is replaced by entropic OT (Sinkhorn), solved by
    :func:`mmdepth_dgr.ot.entropic_ot_grid` (the separable log-domain solver of the
    :mod:`mmdepth_dgr.ot` package); ``reg`` (epsilon) is in the cost's units, *squared
    normalised distance*: ``sqrt(reg)`` is the blur length as a fraction of the longer image
    side. The default ``reg=0.05`` (blur 0.22) converges in ~25 iterations on depth maps;
    0.01 (blur 0.1) is sharper but ~3x slower (configs/otdl/README.md has the timings).
    With ``debias=True`` (default) the loss is the Sinkhorn divergence
    ``S(a, b) = OT(a, b) - OT(a, a) / 2 - OT(b, b) / 2``, which is 0 for identical maps and
    >= 0 (both to the solver's tolerance: values of order -1e-9 occur at the loss's default
    ``tol``), and equals the
    squared shift for a translated map (the entropic bias cancels); the two self-terms are
    solved by the cheaper symmetric iteration (:func:`mmdepth_dgr.ot.sinkhorn_grid_symmetric`);
    with
    ``debias=False`` it is the raw entropic cost ``OT_eps(a, b) = <T, M> + eps KL(T | a x b)``
    (> 0 even for identical maps).

``mode='depth'`` (Eq. 13's reading)
    The support is the set of *depth values* (metres) at the valid pixels, the cost
    ``|d_i - d_j|^2`` (m^2), and the 1-D problem is solved exactly by sorting (POT's
    :func:`ot.wasserstein_1d`, which is differentiable on torch tensors). The weight of a
    pixel is its normalised mass ``P'_i`` / ``Q'_i`` by default (``depth_weights='mass'``:
    the only reading in which Eq. 11-12 matter - far pixels weigh more); with
    ``depth_weights='uniform'`` every valid pixel weighs ``1 / n_valid`` and the loss is the
    plain W2^2 between the two depth histograms (never larger than the masked MSE, since
    the identity coupling is feasible).

Masks and degenerate inputs (both modes): only valid ground-truth pixels carry mass, on both
sides - the prediction is masked with the ground truth's validity (sparse KITTI LiDAR: the
prediction's mass is also restricted to the LiDAR points). Predictions are made non-negative
before normalising with ``mass_fn='relu'`` (clamp at 0: a pixel predicted <= 0 carries no
mass and gets no gradient) or ``mass_fn='softplus'`` (``log(1 + exp(10 d)) / 10``, smooth,
every pixel keeps a little mass and a gradient). An image whose prediction or target has
(almost) no valid mass (total below ``min_mass``) contributes nothing and is left out of
the batch mean; if no image is left the loss is 0 (with zero gradients, never NaN).

Non-finite predictions (NaN, +inf or -inf at a valid pixel) mean a diverged model, not a
property of the image. With ``nonfinite='drop'`` (default) such an image is left out like
an image without mass: it adds nothing to the loss and its gradient is exactly zero (the
prediction is replaced by 0 before any arithmetic, so no NaN reaches the backward pass),
and the other images' loss is the one they would have alone. If *every* image is left out
and at least one of them for a non-finite prediction, the loss is NaN (with zero
gradients), so that the training's non-finite-loss guard
(:class:`~mmdepth_dgr.engine.hooks.NonFiniteLossHook`) stops the run naming
``decode.loss_otdl``. With ``nonfinite='raise'`` a ``FloatingPointError`` names the loss
and the batch indices of the images at fault. Non-finite predictions at invalid pixels
are ignored (those pixels carry no mass), as before.

Defaults. The loss's are chosen for training: ``reg=0.05`` and ``tol=1e-4`` (the L1
marginal error at which the gradient is within ~1 % of the converged one) keep the OTDL at
a few per cent of a training step; ``max_iter``, ``eps_scaling`` and ``backend`` are the
solver package's defaults. :mod:`mmdepth_dgr.ot` itself defaults to ``tol=1e-5`` (an
accurate stand-alone value) and has no default ``reg``. The options are listed and checked
once, in :func:`otdl_loss`'s signature and :func:`check_otdl_options`; ``OTDLoss`` takes
the same options with the same defaults.

The combined objective of Eq. 17 is ``L = L_MSE + lambda * L_OTDL``; in mmseg style it is the
head's ``loss_decode=[dict(type='MaskedMSELoss'), dict(type='OTDLoss', loss_weight=lambda)]``
(see configs/otdl/README.md).
"""
import math
from typing import Optional, Tuple, Union

import ot
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...ot import (DEFAULT_BACKEND, DEFAULT_EPS_SCALING, DEFAULT_MAX_ITER, check_sinkhorn_args,
                   entropic_ot_grid, grid_axis_coords)
from .base import BaseDepthLoss, depth_loss

__all__ = ['OTDLoss', 'otdl_loss', 'check_otdl_options']

_MODES = ('spatial', 'depth')
_DEPTH_WEIGHTS = ('mass', 'uniform')
_MASS_FNS = ('relu', 'softplus')
_NONFINITE = ('drop', 'raise')
DtypeLike = Union[torch.dtype, str]


def _as_dtype(dtype: DtypeLike) -> torch.dtype:
    """``torch.float64`` from itself or from ``'float64'`` (configs may hold the name)."""
    return getattr(torch, dtype, None) if isinstance(dtype, str) else dtype


def check_otdl_options(where: str, *, mode: str, reg: float, downsample: int,
                       debias: bool, depth_weights: str, mass_fn: str, max_iter: int,
                       tol: float, eps_scaling: Optional[float], backend: str,
                       compute_dtype: DtypeLike, min_mass: float, nonfinite: str) -> None:
    """Raise a ``ValueError`` naming ``where`` and the option at fault, if any.

    The one place the OTDL options are checked (:func:`otdl_loss` on every call,
    ``OTDLoss`` when built); the Sinkhorn options are checked by
    :func:`mmdepth_dgr.ot.check_sinkhorn_args`. Arguments as in :func:`otdl_loss`.

    Args:
        where (str): Name of the caller used in the message.
        mode, reg, downsample, debias, depth_weights, mass_fn, max_iter, tol, eps_scaling,
            backend, compute_dtype, min_mass, nonfinite: The options of :func:`otdl_loss`
            (no defaults here: those are :func:`otdl_loss`'s).
    """
    for key, value, allowed in (('mode', mode, _MODES),
                                ('depth_weights', depth_weights, _DEPTH_WEIGHTS),
                                ('mass_fn', mass_fn, _MASS_FNS),
                                ('nonfinite', nonfinite, _NONFINITE)):
        if value not in allowed:
            raise ValueError(f'{where}: {key} must be one of {allowed}, got {value!r}')
    if isinstance(downsample, bool) or int(downsample) != downsample or downsample < 1:
        raise ValueError(f'{where}: downsample must be an integer >= 1, got {downsample!r}')
    dtype = _as_dtype(compute_dtype) if isinstance(compute_dtype, (str, torch.dtype)) else None
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f'{where}: compute_dtype must be a floating torch dtype or its name '
                         f'(e.g. torch.float64 or \'float64\'), got {compute_dtype!r}')
    if not (isinstance(min_mass, (int, float)) and 0 < min_mass < math.inf):
        raise ValueError(f'{where}: min_mass must be a finite number > 0, got {min_mass!r}')
    check_sinkhorn_args(where, reg, max_iter, tol, eps_scaling, backend)


def _mass(pred: Tensor, mass_fn: str) -> Tensor:
    if mass_fn == 'relu':
        return pred.clamp(min=0)
    return F.softplus(pred, beta=10.0)


def _sum_pool(x: Tensor, factor: int) -> Tensor:
    """Sum masses over ``factor x factor`` cells (zero-padded at the bottom/right)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph))
    return F.avg_pool2d(x, factor) * (factor * factor)


def _otdl_spatial(pred, target, mask, keep, reg, downsample, debias, mass_fn, max_iter, tol,
                  eps_scaling, backend, compute_dtype, min_mass):
    h, w = pred.shape[-2:]
    mass_p = torch.where(mask, _mass(pred, mass_fn), torch.zeros_like(pred))
    mass_q = torch.where(mask, target, torch.zeros_like(target)).detach()
    if downsample > 1:
        mass_p, mass_q = _sum_pool(mass_p, downsample), _sum_pool(mass_q, downsample)
    mass_p = mass_p[:, 0].to(compute_dtype)
    mass_q = mass_q[:, 0].to(compute_dtype)
    sum_p, sum_q = mass_p.sum(dim=(-1, -2)), mass_q.sum(dim=(-1, -2))
    ok = (sum_p > min_mass) & (sum_q > min_mass) & keep
    # Eq. 11-12: P' = P / sum(P), Q' = Q / sum(Q).
    a = mass_p / sum_p.clamp_min(min_mass)[:, None, None]
    b = mass_q / sum_q.clamp_min(min_mass)[:, None, None]
    uniform = torch.full_like(a, 1.0 / a[0].numel())
    a = torch.where(ok[:, None, None], a, uniform)
    b = torch.where(ok[:, None, None], b, uniform)
    size = max(h, w)
    coords_y = grid_axis_coords(a.shape[-2], downsample, size, dtype=compute_dtype,
                                device=a.device)
    coords_x = grid_axis_coords(a.shape[-1], downsample, size, dtype=compute_dtype,
                                device=a.device)
    values = entropic_ot_grid(a, b, reg, coords_y, coords_x, debias, max_iter, tol,
                              eps_scaling, backend)
    return values, ok


def _otdl_depth(pred, target, mask, keep, depth_weights, mass_fn, min_mass):
    n = pred.shape[0]
    mask_f = mask.flatten(1)
    values_p = torch.where(mask, pred, torch.zeros_like(pred)).flatten(1)
    values_q = torch.where(mask, target, torch.zeros_like(target)).flatten(1).detach()
    if depth_weights == 'mass':
        w_p = torch.where(mask, _mass(pred, mass_fn), torch.zeros_like(pred)).flatten(1)
        w_q = values_q
    else:
        w_p = mask_f.to(pred.dtype)
        w_q = mask_f.to(pred.dtype)
    sum_p, sum_q = w_p.sum(1), w_q.sum(1)
    ok = (sum_p > min_mass) & (sum_q > min_mass) & keep
    uniform = torch.full_like(w_p, 1.0 / w_p.shape[1])
    w_p = torch.where(ok[:, None], w_p / sum_p.clamp_min(min_mass)[:, None], uniform)
    w_q = torch.where(ok[:, None], w_q / sum_q.clamp_min(min_mass)[:, None], uniform)
    # POT wants (n_samples, n_problems) and normalised weights; p=2 returns W2^2.
    values = ot.wasserstein_1d(values_p.t(), values_q.t(), w_p.t(), w_q.t(), p=2)
    return values.reshape(n), ok


def _nonfinite_images(pred: Tensor, mask: Tensor, nonfinite: str) -> Tensor:
    """``(B,)`` images whose prediction is NaN/inf at a valid pixel; raises if asked to."""
    bad_px = ~torch.isfinite(pred) & mask
    bad = bad_px.flatten(1).any(1)
    if nonfinite == 'raise' and bool(bad.any()):
        counts = bad_px.flatten(1).sum(1)
        which = ', '.join(f'image {int(i)} ({int(counts[i])} pixels)'
                          for i in bad.nonzero().flatten())
        raise FloatingPointError(
            f'otdl_loss (OTDL): the prediction is NaN or +-inf at valid pixels of {which} '
            "of the batch (nonfinite='raise'). The model has diverged (lower the learning "
            "rate, resume from the last checkpoint) or set nonfinite='drop' to leave such "
            'images out of the loss.')
    return bad


def _otdl_terms(pred, target, mask, mode, reg, downsample, debias, depth_weights, mass_fn,
                max_iter, tol, eps_scaling, backend, compute_dtype, min_mass,
                nonfinite) -> Tuple[Tensor, Tensor]:
    """Per-image OTDL values (0 for images left out) and which images count."""
    bad = _nonfinite_images(pred, mask, nonfinite)
    # Replacing non-finite entries before any arithmetic keeps NaN out of the backward
    # pass: the replaced entries get a zero gradient, the others theirs unchanged.
    pred = torch.where(torch.isfinite(pred), pred, torch.zeros_like(pred))
    if mode == 'spatial':
        values, ok = _otdl_spatial(pred, target, mask, ~bad, reg, int(downsample), debias,
                                   mass_fn, max_iter, tol, eps_scaling, backend,
                                   _as_dtype(compute_dtype), min_mass)
    else:
        values, ok = _otdl_depth(pred, target, mask, ~bad, depth_weights, mass_fn,
                                 min_mass)
    terms = torch.where(ok, values, torch.zeros_like(values))
    # Every image left out and one of them for a non-finite prediction: NaN (a constant,
    # no gradient), so the non-finite-loss guard of the training loop sees the problem.
    signal = bad & ~ok.any()
    return torch.where(signal, torch.full_like(terms, math.nan), terms), ok


def otdl_loss(pred: Tensor,
              target: Tensor,
              valid_mask: Optional[Tensor] = None,
              mode: str = 'spatial',
              reg: float = 0.05,
              downsample: int = 4,
              debias: bool = True,
              depth_weights: str = 'mass',
              mass_fn: str = 'relu',
              max_iter: int = DEFAULT_MAX_ITER,
              tol: float = 1e-4,
              eps_scaling: Optional[float] = DEFAULT_EPS_SCALING,
              backend: str = DEFAULT_BACKEND,
              compute_dtype: DtypeLike = torch.float64,
              min_mass: float = 1e-6,
              nonfinite: str = 'drop',
              *,
              weight: Optional[Tensor] = None,
              reduction: str = 'mean',
              avg_factor: Optional[float] = None) -> Tensor:
    """Optimal Transport Depth Loss (Eq. 11-14), batch mean over images with valid mass.

    See the module docstring for the two readings (``mode``), the mask/degenerate-input
    rules, non-finite predictions and the choice of defaults.

    Args:
        pred (Tensor): Predicted depth ``(B, 1, H, W)`` in metres.
        target (Tensor): Ground-truth depth ``(B, 1, H, W)`` in metres, 0 = invalid.
        valid_mask (Tensor, optional): Extra validity mask, intersected with
            ``(target > 0) & isfinite(target)``. Defaults to None.
        mode (str): ``'spatial'`` (mass on pixel positions) or ``'depth'`` (1-D OT between
            depth values). Defaults to 'spatial'.
        reg (float): Spatial mode: entropic eps in squared normalised distance (the image's
            longer side has length 1). Defaults to 0.05.
        downsample (int): Spatial mode: masses are summed over ``downsample^2`` cells before
            transport. Defaults to 4.
        debias (bool): Spatial mode: Sinkhorn divergence (0 for identical maps) instead of
            the raw entropic cost. Defaults to True.
        depth_weights (str): Depth mode: ``'mass'`` (weights P', Q') or ``'uniform'``
            (1 / n_valid). Defaults to 'mass'.
        mass_fn (str): ``'relu'`` or ``'softplus'`` (beta = 10 / m) to make the prediction
            non-negative before normalising. Defaults to 'relu'.
        max_iter (int): Spatial mode: maximum Sinkhorn iterations. Defaults to 500.
        tol (float): Spatial mode: L1 marginal-error stopping threshold (1e-4 keeps the
            gradient within ~1 % of the converged one). Defaults to 1e-4.
        eps_scaling (float, optional): Spatial mode: warm-start temperature decay factor;
            None disables it. Defaults to 0.5.
        backend (str): Spatial mode: ``'auto'``, ``'matmul'`` or ``'lse'``.
            Defaults to 'auto'.
        compute_dtype (torch.dtype | str): Spatial mode: dtype of the Sinkhorn iterations
            (or its name, e.g. ``'float32'``). Defaults to torch.float64.
        min_mass (float): An image whose total valid mass (metres x pixels) is not above it,
            on either side, is left out. Defaults to 1e-6.
        nonfinite (str): A prediction that is NaN/inf at a valid pixel: ``'drop'`` leaves
            the image out with a zero gradient, ``'raise'`` raises ``FloatingPointError``.
            Defaults to 'drop'.
        weight (Tensor, optional): Per-image weights ``(B,)``. Defaults to None.
        reduction (str): ``'mean'`` (over the images that count), ``'sum'`` or ``'none'``
            (the ``(B,)`` values, 0 for images left out). Defaults to 'mean'.
        avg_factor (float, optional): Divisor of the sum for ``'mean'``. Defaults to None.

    Returns:
        Tensor: Scalar loss (0 if no image has valid mass; NaN if no image is left and one
        was left out for a non-finite prediction), in the dtype of ``pred``.
    """
    check_otdl_options('otdl_loss', mode=mode, reg=reg, downsample=downsample, debias=debias,
                       depth_weights=depth_weights, mass_fn=mass_fn, max_iter=max_iter,
                       tol=tol, eps_scaling=eps_scaling, backend=backend,
                       compute_dtype=compute_dtype, min_mass=min_mass, nonfinite=nonfinite)
    loss = depth_loss(_otdl_terms, pred, target, valid_mask, where='otdl_loss',
                      weight=weight, reduction=reduction, avg_factor=avg_factor, mode=mode,
                      reg=reg, downsample=downsample, debias=debias,
                      depth_weights=depth_weights, mass_fn=mass_fn, max_iter=max_iter,
                      tol=tol, eps_scaling=eps_scaling, backend=backend,
                      compute_dtype=compute_dtype, min_mass=min_mass, nonfinite=nonfinite)
    return loss.to(pred.dtype)


@MODELS.register_module()
class OTDLoss(BaseDepthLoss):
    """Optimal Transport Depth Loss (Sec. 3.3), the module of :func:`otdl_loss`.

    Eq. 17's combination is a list in the decode head::

        loss_decode=[dict(type='MaskedMSELoss', loss_weight=1.0),
                     dict(type='OTDLoss', loss_weight=lambda_)]

    Every option of :func:`otdl_loss` (same names, same defaults) is a keyword argument;
    they are checked when the loss is built.

    Args:
        mode (str): ``'spatial'`` or ``'depth'``. Defaults to 'spatial'.
        reg (float): Spatial entropic eps (squared normalised distance). Defaults to 0.05.
        downsample (int): Spatial pooling factor of the masses. Defaults to 4.
        debias (bool): Spatial Sinkhorn divergence. Defaults to True.
        depth_weights (str): Depth mode weights, ``'mass'`` or ``'uniform'``.
            Defaults to 'mass'.
        mass_fn (str): ``'relu'`` or ``'softplus'``. Defaults to 'relu'.
        max_iter (int): Maximum Sinkhorn iterations. Defaults to 500.
        tol (float): Sinkhorn L1 marginal tolerance. Defaults to 1e-4.
        eps_scaling (float, optional): Warm-start temperature decay. Defaults to 0.5.
        backend (str): ``'auto'``, ``'matmul'`` or ``'lse'``. Defaults to 'auto'.
        compute_dtype (torch.dtype | str): Dtype of the Sinkhorn iterations.
            Defaults to torch.float64.
        min_mass (float): Images with less valid mass are left out. Defaults to 1e-6.
        nonfinite (str): ``'drop'`` or ``'raise'`` for NaN/inf predictions at valid
            pixels. Defaults to 'drop'.
        loss_weight (float): Multiplier of the loss (lambda of Eq. 17). Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_otdl'.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Defaults to 'mean'.
    """

    loss_fn = staticmethod(otdl_loss)
    default_loss_name = 'loss_otdl'
    check_options = staticmethod(check_otdl_options)
