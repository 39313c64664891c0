"""Differentiable entropic OT and Sinkhorn divergence between 2-D histograms on a grid.

Values (``a``, ``b`` on the grid, ``OT_eps`` as in :mod:`.sinkhorn`)::

    OT_eps(a, b) = <a, f> + <b, g>                        (debias=False)
    S_eps(a, b)  = OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2      (debias=True)

``S_eps`` (the Sinkhorn divergence, Feydy et al., AISTATS 2019) is 0 for ``a = b``,
non-negative, and for a translated histogram equals the squared shift (the entropic blur
cancels); the raw ``OT_eps(a, a)`` is > 0.

Gradients: by the envelope theorem ``d OT_eps / d a = f`` at the optimum (``f - p_a`` for
``S_eps``, ``p_a`` the symmetric potential of ``OT_eps(a, a)``), so the backward returns the
potentials instead of differentiating through the iterations: the cost of the backward
does not grow with the number of iterations. Potentials are defined up to an additive
constant on the simplex; they are centred (mean 0 over the grid). The result is exact at
convergence and not twice differentiable.
"""
from typing import Optional

import torch
from torch import Tensor

from .grid import axis_cost, grid_axis_coords
from .sinkhorn import (DEFAULT_BACKEND, DEFAULT_EPS_SCALING, DEFAULT_MAX_ITER, DEFAULT_TOL,
                       check_sinkhorn_args, sinkhorn_grid_potentials, sinkhorn_grid_symmetric)

__all__ = ['entropic_ot_grid', 'grid_transport_cost']


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
        # projection on the tangent space); a normalisation a = P / sum(P) upstream
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
                     reg: float,
                     coords_y: Optional[Tensor] = None,
                     coords_x: Optional[Tensor] = None,
                     debias: bool = True,
                     max_iter: int = DEFAULT_MAX_ITER,
                     tol: float = DEFAULT_TOL,
                     eps_scaling: Optional[float] = DEFAULT_EPS_SCALING,
                     backend: str = DEFAULT_BACKEND) -> Tensor:
    """Differentiable entropic OT between 2-D histograms on a grid (squared-distance cost).

    ``debias=False``: ``OT_eps(a, b)``; ``debias=True``: the Sinkhorn divergence
    ``S_eps(a, b)`` (see the module docstring). Differentiable w.r.t. ``a`` and ``b``
    (envelope-theorem gradients).

    Args:
        a (Tensor): ``(B, H, W)`` non-negative masses summing to 1 per image.
        b (Tensor): ``(B, H, W)`` non-negative masses summing to 1 per image.
        reg (float): Entropic regularisation eps, in squared units of the coordinates
            (no default: it is the blur scale of the problem, ``sqrt(reg)`` a length).
        coords_y (Tensor, optional): ``(H,)`` row coordinates. Defaults to None, i.e.
            ``(r + 0.5) / max(H, W)``.
        coords_x (Tensor, optional): ``(W,)`` column coordinates. Defaults to None, i.e.
            ``(c + 0.5) / max(H, W)``.
        debias (bool): Return the Sinkhorn divergence. Defaults to True.
        max_iter (int): Maximum Sinkhorn iterations. Defaults to 500.
        tol (float): L1 marginal-error stopping threshold. Defaults to 1e-5.
        eps_scaling (float, optional): Warm-start temperature decay in (0, 1); None
            disables it. Defaults to 0.5.
        backend (str): ``'auto'``, ``'matmul'`` or ``'lse'``. Defaults to 'auto'.

    Returns:
        Tensor: ``(B,)`` values in the dtype of ``a``.
    """
    if a.dim() != 3 or a.shape != b.shape:
        raise ValueError('entropic_ot_grid: a and b must both be (B, H, W), got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    check_sinkhorn_args('entropic_ot_grid', reg, max_iter, tol, eps_scaling, backend)
    h, w = a.shape[-2:]
    size = max(h, w)
    if coords_y is None:
        coords_y = grid_axis_coords(h, 1, size, dtype=a.dtype, device=a.device)
    if coords_x is None:
        coords_x = grid_axis_coords(w, 1, size, dtype=a.dtype, device=a.device)
    return _GridEntropicOT.apply(a, b, float(reg), coords_y.to(a), coords_x.to(a),
                                 bool(debias), int(max_iter), float(tol), eps_scaling,
                                 backend)


@torch.no_grad()
def grid_transport_cost(a: Tensor, b: Tensor, f: Tensor, g: Tensor, reg: float,
                        coords_y: Tensor, coords_x: Tensor) -> Tensor:
    """Linear cost ``<T, C>`` of the entropic plan ``T = a_i b_j exp((f_i + g_j - C_ij) / eps)``.

    This is what POT's ``ot.sinkhorn2`` returns (and what ``ot.emd2`` returns as
    eps -> 0), so it validates the solver against POT; exact log-sum-exps, meant for small
    grids. ``a`` and ``b`` must be positive everywhere (their logs are taken).

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
    cost_y, cost_x = axis_cost(coords_y), axis_cost(coords_x)
    log_a = torch.log(a)
    big_f = f / reg + log_a
    big_g = g / reg + torch.log(b)
    # <T, C> = sum_ij T_ij (Cy + Cx)_ij: each axis' cost times the kernel is again
    # separable, log(C K) = log(C) - C / eps (log 0 = -inf on the diagonal).
    log_cky = torch.log(cost_y) - cost_y / reg
    log_ckx = torch.log(cost_x) - cost_x / reg

    def _sep(h, log_ky, log_kx):
        t = torch.logsumexp(h.unsqueeze(-2) + log_kx, dim=-1)
        t = torch.logsumexp(t.transpose(-1, -2).unsqueeze(-2) + log_ky, dim=-1)
        return t.transpose(-1, -2)

    s = torch.logaddexp(_sep(big_g, log_cky, -cost_x / reg), _sep(big_g, -cost_y / reg, log_ckx))
    return torch.exp(big_f + s).flatten(1).sum(1)
