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
    quantisation. The exact problem is replaced by entropic OT (Sinkhorn), see
    :func:`entropic_ot_grid`; ``reg`` (epsilon) is in the cost's units, *squared normalised
    distance*: ``sqrt(reg)`` is the blur length as a fraction of the longer image side.
    The default ``reg=0.05`` (blur 0.22) converges in ~25 iterations on depth maps; 0.01
    (blur 0.1) is sharper but ~3x slower (configs/otdl/README.md has the timings).
    With ``debias=True`` (default) the loss is the Sinkhorn divergence
    ``S(a, b) = OT(a, b) - OT(a, a) / 2 - OT(b, b) / 2``, which is 0 for identical maps and
    >= 0 (both to the solver's tolerance: values of order -1e-9 occur at the loss's default
    ``tol``), and equals the
    squared shift for a translated map (the entropic bias cancels); the two self-terms are
    solved by the cheaper symmetric iteration (:func:`sinkhorn_grid_symmetric`); with
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

The combined objective of Eq. 17 is ``L = L_MSE + lambda * L_OTDL``; in mmseg style it is the
head's ``loss_decode=[dict(type='MaskedMSELoss'), dict(type='OTDLoss', loss_weight=lambda)]``
(see configs/otdl/README.md).
"""
import math
from typing import Optional, Tuple

import ot
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .utils import check_depth_pair, depth_valid_mask

_MODES = ('spatial', 'depth')
_DEPTH_WEIGHTS = ('mass', 'uniform')
_MASS_FNS = ('relu', 'softplus')
_BACKENDS = ('auto', 'matmul', 'lse')
# Largest max(cost) / eps for which a max-shifted kernel product is safe: the smallest
# kernel weight exp(-max_cost / eps) must stay far above the dtype's tiny number (per axis
# for the per-row shifted products; for the sum of both axes' maxima in the one-shift
# path). Other dtypes (e.g. float16, whose range ends near exp(-17)) always use the exact
# log-sum-exp under backend='auto'.
_MATMUL_LIMIT = {torch.float64: 500.0, torch.float32: 50.0}


# --------------------------------------------------------------------------------------
# Separable log-domain Sinkhorn on a regular grid (spatial mode).
#
# POT 0.9.7 offers separable ("convolutional") kernels only for Wasserstein *barycenters*
# (ot.bregman.convolutional_barycenter2d[_debiased]); its OT-distance solvers (sinkhorn2,
# sinkhorn_log, empirical_sinkhorn2) all hold an N x N cost/kernel matrix (N = pixels), which
# is 0.8 GB at 104 x 136 and slow to differentiate. So the solver below is written here:
# on a grid, exp(-(dy^2 + dx^2) / eps) = exp(-dy^2 / eps) exp(-dx^2 / eps), so each Sinkhorn
# log-sum-exp over the grid is two per-axis log-sum-exps (H x H and W x W), and the gradient
# comes from the envelope theorem (the dual potentials) instead of autodiff through the loop.
# --------------------------------------------------------------------------------------
def grid_axis_coords(n_cells: int, cell_px: int, norm_px: int, *, dtype: torch.dtype,
                     device: torch.device) -> Tensor:
    """Normalised coordinates of the cell centres along one image axis.

    Cell ``i`` covers full-resolution pixels ``[i * cell_px, (i + 1) * cell_px)`` and its
    centre ``(i + 0.5) * cell_px`` is divided by ``norm_px`` (``max(H, W)`` in OTDL).

    Args:
        n_cells (int): Number of cells along the axis.
        cell_px (int): Cell size in full-resolution pixels (the downsample factor).
        norm_px (int): Normalisation length in full-resolution pixels.
        dtype (torch.dtype): Output dtype.
        device (torch.device): Output device.

    Returns:
        Tensor: ``(n_cells,)`` coordinates.
    """
    return (torch.arange(n_cells, dtype=dtype, device=device) + 0.5) * cell_px / norm_px


def _axis_cost(coords: Tensor) -> Tensor:
    """``(n, n)`` squared differences of 1-D coordinates."""
    return (coords[:, None] - coords[None, :]) ** 2


def _lse_lastdim(h: Tensor, log_kernel: Tensor, kernel: Optional[Tensor]) -> Tensor:
    """``out[..., i] = log sum_j exp(h[..., j] + log_kernel[i, j])``.

    With ``kernel = exp(log_kernel)`` given, each row of ``h`` is shifted by its max and
    multiplied by the kernel (a BLAS product); otherwise an exact broadcast log-sum-exp is
    used (memory ``h.numel() * n``, valid for any eps).
    """
    if kernel is not None:
        m = h.amax(dim=-1, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        return torch.log(torch.exp(h - m) @ kernel.transpose(0, 1)) + m
    return torch.logsumexp(h.unsqueeze(-2) + log_kernel, dim=-1)


class _SeparableKernel:
    """Per-axis Gibbs kernels ``exp(-C / eps)`` of the separable grid cost at one eps."""

    def __init__(self, cost_y: Tensor, cost_x: Tensor, eps: float, backend: str):
        self.log_ky, self.log_kx = -cost_y / eps, -cost_x / eps
        if backend == 'auto':
            limit = _MATMUL_LIMIT.get(cost_y.dtype, 0.0)
            use_matmul = max(float(cost_y.max()), float(cost_x.max())) / eps <= limit
        else:
            use_matmul = backend == 'matmul'
        self.ky = torch.exp(self.log_ky) if use_matmul else None
        self.kx = torch.exp(self.log_kx) if use_matmul else None
        # One shift per image instead of one per row and axis (one exp and one log per
        # call instead of two of each): safe when even the farthest cell's kernel weight
        # exp(-(max Cy + max Cx) / eps) stays a normal number, since every output then
        # has at least the term of the image's largest entry (shifted to exp(0) = 1).
        limit = _MATMUL_LIMIT.get(cost_y.dtype, 0.0)
        self.fused = use_matmul and (float(cost_y.max()) + float(cost_x.max())) / eps <= limit

    def lse(self, h: Tensor) -> Tensor:
        """``out[b, i] = log sum_j exp(h[b, j] - (Cy + Cx)[i, j] / eps)``, ``h`` (B, H, W)."""
        if self.fused:
            m = h.amax(dim=(-1, -2), keepdim=True)
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            return torch.log(self.ky @ (torch.exp(h - m) @ self.kx.transpose(0, 1))) + m
        t = _lse_lastdim(h, self.log_kx, self.kx)                          # along x
        t = _lse_lastdim(t.transpose(-1, -2), self.log_ky, self.ky)        # along y
        return t.transpose(-1, -2)


def _log_mass(a: Tensor) -> Tensor:
    """``log a`` with ``log 0 = -inf`` (empty cells take no part in the log-sum-exps)."""
    return torch.where(a > 0, torch.log(a.clamp_min(1e-300)), torch.full_like(a, -math.inf))


def _check_solver_args(name: str, reg: float, backend: str) -> None:
    if backend not in _BACKENDS:
        raise ValueError(f'{name}: backend must be one of {_BACKENDS}, got {backend!r}')
    if not reg > 0:
        raise ValueError(f'{name}: reg must be > 0, got {reg}')


def _annealed_kernels(coords_y: Tensor, coords_x: Tensor, reg: float,
                      eps_scaling: Optional[float], backend: str, max_iter: int):
    """Yield ``(eps, kernel)`` for each of at most ``max_iter`` Sinkhorn iterations.

    With ``eps_scaling=q`` the temperatures are ``max(reg, diameter^2 * q^k)`` (a warm
    start; each kernel is built once) and then ``reg`` for every remaining iteration; with
    None, ``reg`` from the start.
    """
    cost_y, cost_x = _axis_cost(coords_y), _axis_cost(coords_x)
    eps = max(reg, float(cost_y.max() + cost_x.max())) if eps_scaling else reg
    kernels = {}
    for _ in range(max_iter):
        if eps not in kernels:
            kernels[eps] = _SeparableKernel(cost_y, cost_x, eps, backend)
        yield eps, kernels[eps]
        if eps != reg:
            eps = max(reg, eps * eps_scaling)


def _marginal_error(mass: Tensor, old: Tensor, new: Tensor, reg: float) -> float:
    """Largest per-image L1 marginal error ``sum_i mass_i |exp((old_i - new_i) / reg) - 1|``
    of a plan whose potential ``old`` the update replaced by ``new`` (empty cells skipped)."""
    ratio = torch.exp((old - new) / reg) - 1.0
    viol = torch.where(mass > 0, mass * ratio.abs(), torch.zeros_like(mass))
    return float(viol.flatten(1).sum(1).max())


@torch.no_grad()
def sinkhorn_grid_potentials(a: Tensor,
                             b: Tensor,
                             reg: float,
                             coords_y: Tensor,
                             coords_x: Tensor,
                             max_iter: int = 500,
                             tol: float = 1e-5,
                             eps_scaling: Optional[float] = 0.5,
                             backend: str = 'auto') -> Tuple[Tensor, Tensor, int, float]:
    """Log-domain Sinkhorn on a grid with the separable squared-Euclidean cost.

    Solves ``OT_eps(a, b) = min_T <T, C> + eps KL(T | a x b)`` with
    ``C_ij = (y_i - y_j)^2 + (x_i - x_j)^2`` by the alternating updates::

        f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)
        g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps)

    batched over ``B``. With ``eps_scaling=q`` the first iterations use the decreasing
    temperatures ``max(reg, diameter^2 * q^k)`` (a warm start only; the returned potentials
    are iterated at ``reg`` until the L1 error of the second marginal is below ``tol`` or
    ``max_iter`` is reached). No autograd graph is built.

    Args:
        a (Tensor): ``(B, H, W)`` non-negative masses, each summing to 1.
        b (Tensor): ``(B, H, W)`` non-negative masses, each summing to 1.
        reg (float): Entropic regularisation eps (units of the cost).
        coords_y (Tensor): ``(H,)`` row coordinates.
        coords_x (Tensor): ``(W,)`` column coordinates.
        max_iter (int): Maximum number of Sinkhorn iterations. Defaults to 500.
        tol (float): Stop when ``max_b sum_j |(T^T 1)_j - b_j| < tol``. Defaults to 1e-5.
        eps_scaling (float, optional): Temperature decay factor of the warm start in (0, 1);
            None disables it. Defaults to 0.5.
        backend (str): ``'auto'`` (kernel products when the kernel cannot underflow, else
            exact log-sum-exp), ``'matmul'`` or ``'lse'``. Defaults to 'auto'.

    Returns:
        tuple: ``f`` ``(B, H, W)``, ``g`` ``(B, H, W)``, the number of iterations and the
        final marginal error.
    """
    _check_solver_args('sinkhorn_grid_potentials', reg, backend)
    log_a, log_b = _log_mass(a), _log_mass(b)
    f = torch.zeros_like(a)
    g = torch.zeros_like(b)
    err, n_iter = math.inf, 0
    steps = _annealed_kernels(coords_y, coords_x, reg, eps_scaling, backend, max_iter)
    for n_iter, (eps_k, kernel) in enumerate(steps, 1):
        f = -eps_k * kernel.lse(log_b + g / eps_k)
        g_new = -eps_k * kernel.lse(log_a + f / eps_k)
        if eps_k == reg:
            # Column sums of the plan built from (f, g) are b * exp((g - g_new) / eps).
            err = _marginal_error(b, g, g_new, reg)
        g = g_new
        if err < tol:
            break
    return f, g, n_iter, err


@torch.no_grad()
def sinkhorn_grid_symmetric(a: Tensor,
                            reg: float,
                            coords_y: Tensor,
                            coords_x: Tensor,
                            max_iter: int = 500,
                            tol: float = 1e-5,
                            eps_scaling: Optional[float] = 0.5,
                            backend: str = 'auto') -> Tuple[Tensor, int, float]:
    """Potential of the self-transport ``OT_eps(a, a)`` by symmetric (averaged) Sinkhorn.

    For ``b = a`` the optimal dual pair is symmetric, ``f = g``, and satisfies
    ``f = T(f) := -eps log sum_j a_j exp((f_j - C_ij) / eps)``. Iterating
    ``f <- (f + T(f)) / 2`` (the averaged update of Feydy et al., AISTATS 2019) converges
    to it in fewer iterations than the alternating updates, each costing one grid
    log-sum-exp instead of two (measured on 60x80 depth-map masses at eps = 0.05: 14
    iterations vs 24, a third of the time). Then ``OT_eps(a, a) = 2 <a, f>`` and its
    gradient w.r.t. ``a`` is ``2 f``. Stops when the L1 error of the plan's marginal,
    ``sum_i a_i |exp((f_i - T(f)_i) / eps) - 1|``, is below ``tol`` (the same error as
    :func:`sinkhorn_grid_potentials` measures), after the same warm start.

    Args:
        a (Tensor): ``(B, H, W)`` non-negative masses, each summing to 1.
        reg (float): Entropic regularisation eps (units of the cost).
        coords_y (Tensor): ``(H,)`` row coordinates.
        coords_x (Tensor): ``(W,)`` column coordinates.
        max_iter (int): Maximum number of iterations. Defaults to 500.
        tol (float): Stop when the marginal L1 error of every image is below it.
            Defaults to 1e-5.
        eps_scaling (float, optional): Temperature decay factor of the warm start in (0, 1);
            None disables it. Defaults to 0.5.
        backend (str): ``'auto'``, ``'matmul'`` or ``'lse'`` (as in
            :func:`sinkhorn_grid_potentials`). Defaults to 'auto'.

    Returns:
        tuple: ``f`` ``(B, H, W)``, the number of iterations and the final marginal error.
    """
    _check_solver_args('sinkhorn_grid_symmetric', reg, backend)
    log_a = _log_mass(a)
    f = torch.zeros_like(a)
    err, n_iter = math.inf, 0
    steps = _annealed_kernels(coords_y, coords_x, reg, eps_scaling, backend, max_iter)
    for n_iter, (eps_k, kernel) in enumerate(steps, 1):
        t_f = -eps_k * kernel.lse(log_a + f / eps_k)
        if eps_k == reg:
            # Row sums of the plan built from (f, f) are a * exp((f - T(f)) / eps).
            err = _marginal_error(a, f, t_f, reg)
        f = 0.5 * (f + t_f)
        if err < tol:
            break
    return f, n_iter, err


@torch.no_grad()
def grid_transport_cost(a: Tensor, b: Tensor, f: Tensor, g: Tensor, reg: float,
                        coords_y: Tensor, coords_x: Tensor) -> Tensor:
    """Linear cost ``<T, C>`` of the entropic plan ``T = a_i b_j exp((f_i + g_j - C_ij) / eps)``.

    This is what POT's ``ot.sinkhorn2`` returns; it is used to validate the solver against
    POT (exact log-sum-exp, meant for small grids).

    Args:
        a (Tensor): ``(B, H, W)`` masses.
        b (Tensor): ``(B, H, W)`` masses.
        f (Tensor): ``(B, H, W)`` potential of ``a``.
        g (Tensor): ``(B, H, W)`` potential of ``b``.
        reg (float): The eps the potentials were computed with.
        coords_y (Tensor): ``(H,)`` row coordinates.
        coords_x (Tensor): ``(W,)`` column coordinates.

    Returns:
        Tensor: ``(B,)`` transport costs.
    """
    cost_y, cost_x = _axis_cost(coords_y), _axis_cost(coords_x)
    log_a = torch.log(a)
    big_f = f / reg + log_a
    big_g = g / reg + torch.log(b)
    # log(C K) = log(C) - C / eps with log(0) = -inf on the diagonal.
    log_cky = torch.log(cost_y) - cost_y / reg
    log_ckx = torch.log(cost_x) - cost_x / reg

    def _sep(h, log_ky, log_kx):
        t = torch.logsumexp(h.unsqueeze(-2) + log_kx, dim=-1)
        t = torch.logsumexp(t.transpose(-1, -2).unsqueeze(-2) + log_ky, dim=-1)
        return t.transpose(-1, -2)

    s = torch.logaddexp(_sep(big_g, log_cky, -cost_x / reg), _sep(big_g, -cost_y / reg, log_ckx))
    return torch.exp(big_f + s).flatten(1).sum(1)


class _GridEntropicOT(torch.autograd.Function):
    """Entropic OT / Sinkhorn divergence value with envelope-theorem gradients.

    The forward solves without a graph; the backward returns the (centred) dual potentials,
    which are the exact gradients of ``OT_eps`` w.r.t. the marginals at convergence.
    """

    @staticmethod
    def forward(ctx, a, b, reg, coords_y, coords_x, debias, max_iter, tol, eps_scaling,
                backend):
        n = a.shape[0]
        f, g, _, _ = sinkhorn_grid_potentials(a, b, reg, coords_y, coords_x, max_iter, tol,
                                              eps_scaling, backend)
        value = (a * f).flatten(1).sum(1) + (b * g).flatten(1).sum(1)
        grad_a, grad_b = f, g
        if debias:
            # The two self-terms in one batch, by the cheaper symmetric iteration:
            # OT(a, a) = 2 <a, p_a>, d/da = 2 p_a, so -OT(a, a) / 2 adds -p_a.
            p, _, _ = sinkhorn_grid_symmetric(torch.cat([a, b]), reg, coords_y, coords_x,
                                              max_iter, tol, eps_scaling, backend)
            p_a, p_b = p[:n], p[n:]
            value = value - (a * p_a).flatten(1).sum(1) - (b * p_b).flatten(1).sum(1)
            grad_a, grad_b = f - p_a, g - p_b
        # Potentials are defined up to a constant on the simplex: centre them (orthogonal
        # projection on the tangent space); the normalisation P' = P / sum(P) upstream
        # removes any constant anyway.
        grad_a = grad_a - grad_a.mean(dim=(-1, -2), keepdim=True)
        grad_b = grad_b - grad_b.mean(dim=(-1, -2), keepdim=True)
        ctx.save_for_backward(grad_a, grad_b)
        return value

    @staticmethod
    def backward(ctx, grad_out):
        grad_a, grad_b = ctx.saved_tensors
        scale = grad_out[:, None, None]
        return scale * grad_a, scale * grad_b, None, None, None, None, None, None, None, None


def entropic_ot_grid(a: Tensor,
                     b: Tensor,
                     reg: float = 0.01,
                     coords_y: Optional[Tensor] = None,
                     coords_x: Optional[Tensor] = None,
                     debias: bool = True,
                     max_iter: int = 500,
                     tol: float = 1e-5,
                     eps_scaling: Optional[float] = 0.5,
                     backend: str = 'auto') -> Tensor:
    """Differentiable entropic OT between 2-D histograms on a grid (squared-distance cost).

    ``debias=False``: ``OT_eps(a, b) = <T, C> + eps KL(T | a x b) = <a, f> + <b, g>``.
    ``debias=True``: ``S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2``.
    The gradient w.r.t. ``a`` is the centred potential ``f`` (``f_ab - p_a`` when debiased,
    ``p_a`` the symmetric potential of ``OT(a, a)``), by the envelope theorem; it is not
    twice differentiable.

    Args:
        a (Tensor): ``(B, H, W)`` non-negative masses summing to 1 per image.
        b (Tensor): ``(B, H, W)`` non-negative masses summing to 1 per image.
        reg (float): Entropic regularisation eps, in squared normalised distance.
            Defaults to 0.01.
        coords_y (Tensor, optional): ``(H,)`` row coordinates; defaults to
            ``(r + 0.5) / max(H, W)``.
        coords_x (Tensor, optional): ``(W,)`` column coordinates; defaults to
            ``(c + 0.5) / max(H, W)``.
        debias (bool): Return the Sinkhorn divergence. Defaults to True.
        max_iter (int): Maximum Sinkhorn iterations. Defaults to 500.
        tol (float): L1 marginal-error stopping threshold. Defaults to 1e-5.
        eps_scaling (float, optional): Warm-start temperature decay. Defaults to 0.5.
        backend (str): ``'auto'``, ``'matmul'`` or ``'lse'``. Defaults to 'auto'.

    Returns:
        Tensor: ``(B,)`` values in the dtype of ``a``.
    """
    if a.dim() != 3 or a.shape != b.shape:
        raise ValueError('entropic_ot_grid: a and b must both be (B, H, W), got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    h, w = a.shape[-2:]
    size = max(h, w)
    if coords_y is None:
        coords_y = grid_axis_coords(h, 1, size, dtype=a.dtype, device=a.device)
    if coords_x is None:
        coords_x = grid_axis_coords(w, 1, size, dtype=a.dtype, device=a.device)
    return _GridEntropicOT.apply(a, b, float(reg), coords_y.to(a), coords_x.to(a),
                                 bool(debias), int(max_iter), float(tol), eps_scaling,
                                 backend)


# --------------------------------------------------------------------------------------
# The loss.
# --------------------------------------------------------------------------------------
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


def _otdl_spatial(pred, target, mask, reg, downsample, debias, mass_fn, max_iter, tol,
                  eps_scaling, backend, compute_dtype, min_mass):
    h, w = pred.shape[-2:]
    mass_p = torch.where(mask, _mass(pred, mass_fn), torch.zeros_like(pred))
    mass_q = torch.where(mask, target, torch.zeros_like(target)).detach()
    if downsample > 1:
        mass_p, mass_q = _sum_pool(mass_p, downsample), _sum_pool(mass_q, downsample)
    mass_p = mass_p[:, 0].to(compute_dtype)
    mass_q = mass_q[:, 0].to(compute_dtype)
    sum_p, sum_q = mass_p.sum(dim=(-1, -2)), mass_q.sum(dim=(-1, -2))
    ok = (sum_p > min_mass) & (sum_q > min_mass)
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


def _otdl_depth(pred, target, mask, depth_weights, mass_fn, min_mass):
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
    ok = (sum_p > min_mass) & (sum_q > min_mass)
    uniform = torch.full_like(w_p, 1.0 / w_p.shape[1])
    w_p = torch.where(ok[:, None], w_p / sum_p.clamp_min(min_mass)[:, None], uniform)
    w_q = torch.where(ok[:, None], w_q / sum_q.clamp_min(min_mass)[:, None], uniform)
    # POT wants (n_samples, n_problems) and normalised weights; p=2 returns W2^2.
    values = ot.wasserstein_1d(values_p.t(), values_q.t(), w_p.t(), w_q.t(), p=2)
    return values.reshape(n), ok


def otdl_loss(pred: Tensor,
              target: Tensor,
              valid_mask: Optional[Tensor] = None,
              mode: str = 'spatial',
              reg: float = 0.05,
              downsample: int = 4,
              debias: bool = True,
              depth_weights: str = 'mass',
              mass_fn: str = 'relu',
              max_iter: int = 500,
              tol: float = 1e-4,
              eps_scaling: Optional[float] = 0.5,
              backend: str = 'auto',
              compute_dtype: torch.dtype = torch.float64,
              min_mass: float = 1e-6) -> Tensor:
    """Optimal Transport Depth Loss (Eq. 11-14), batch mean over images with valid mass.

    See the module docstring for the two readings (``mode``) and the mask/degenerate-input
    rules.

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
        compute_dtype (torch.dtype): Spatial mode: dtype of the Sinkhorn iterations.
            Defaults to torch.float64.
        min_mass (float): An image whose total valid mass (metres x pixels) is not above it,
            on either side, is left out. Defaults to 1e-6.

    Returns:
        Tensor: Scalar loss (0 if no image has valid mass), in the dtype of ``pred``.
    """
    check_depth_pair(pred, target, 'otdl_loss')
    if mode not in _MODES:
        raise ValueError(f'otdl_loss: mode must be one of {_MODES}, got {mode!r}')
    if mass_fn not in _MASS_FNS:
        raise ValueError(f'otdl_loss: mass_fn must be one of {_MASS_FNS}, got {mass_fn!r}')
    if depth_weights not in _DEPTH_WEIGHTS:
        raise ValueError(f'otdl_loss: depth_weights must be one of {_DEPTH_WEIGHTS}, '
                         f'got {depth_weights!r}')
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f'otdl_loss: downsample must be an integer >= 1, got {downsample}')
    if backend not in _BACKENDS:
        raise ValueError(f'otdl_loss: backend must be one of {_BACKENDS}, got {backend!r}')
    mask = depth_valid_mask(target, valid_mask)
    if mode == 'spatial':
        values, ok = _otdl_spatial(pred, target, mask, reg, int(downsample), debias,
                                   mass_fn, max_iter, tol, eps_scaling, backend,
                                   compute_dtype, min_mass)
    else:
        values, ok = _otdl_depth(pred, target, mask, depth_weights, mass_fn, min_mass)
    values = torch.where(ok, values, torch.zeros_like(values))
    loss = values.sum() / ok.sum().clamp_min(1)
    return loss.to(pred.dtype)


@MODELS.register_module()
class OTDLoss(nn.Module):
    """Optimal Transport Depth Loss (Sec. 3.3), a thin wrapper of :func:`otdl_loss`.

    Eq. 17's combination is a list in the decode head::

        loss_decode=[dict(type='MaskedMSELoss', loss_weight=1.0),
                     dict(type='OTDLoss', loss_weight=lambda_)]

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
        loss_weight (float): Multiplier of the loss (lambda of Eq. 17). Defaults to 1.0.
        loss_name (str): Name of the loss item, must start with ``loss_``.
            Defaults to 'loss_otdl'.
    """

    def __init__(self,
                 mode: str = 'spatial',
                 reg: float = 0.05,
                 downsample: int = 4,
                 debias: bool = True,
                 depth_weights: str = 'mass',
                 mass_fn: str = 'relu',
                 max_iter: int = 500,
                 tol: float = 1e-4,
                 eps_scaling: Optional[float] = 0.5,
                 backend: str = 'auto',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_otdl'):
        super().__init__()
        for key, value, allowed in (('mode', mode, _MODES),
                                    ('depth_weights', depth_weights, _DEPTH_WEIGHTS),
                                    ('mass_fn', mass_fn, _MASS_FNS),
                                    ('backend', backend, _BACKENDS)):
            if value not in allowed:
                raise ValueError(f'OTDLoss: {key} must be one of {allowed}, got {value!r}')
        if not str(loss_name).startswith('loss_'):
            raise ValueError(f'OTDLoss: loss_name must start with "loss_", got {loss_name!r}')
        self.mode = mode
        self.reg = reg
        self.downsample = downsample
        self.debias = debias
        self.depth_weights = depth_weights
        self.mass_fn = mass_fn
        self.max_iter = max_iter
        self.tol = tol
        self.eps_scaling = eps_scaling
        self.backend = backend
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Weighted OTDL.

        Args:
            pred (Tensor): ``(B, 1, H, W)`` predicted depth in metres.
            target (Tensor): ``(B, 1, H, W)`` ground truth in metres, 0 = invalid.
            valid_mask (Tensor, optional): Extra validity mask. Defaults to None.

        Returns:
            Tensor: Scalar ``loss_weight * OTDL``.
        """
        return self.loss_weight * otdl_loss(
            pred, target, valid_mask, mode=self.mode, reg=self.reg,
            downsample=self.downsample, debias=self.debias,
            depth_weights=self.depth_weights, mass_fn=self.mass_fn,
            max_iter=self.max_iter, tol=self.tol, eps_scaling=self.eps_scaling,
            backend=self.backend)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (summed with same-name items by the head)."""
        return self._loss_name
