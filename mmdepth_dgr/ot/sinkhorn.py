"""Log-domain Sinkhorn on a regular grid with the separable squared-Euclidean cost.

Entropic OT between histograms ``a``, ``b`` on the grid (``C`` as in :mod:`.grid`)::

    OT_eps(a, b) = min_{T >= 0, T 1 = a, T^T 1 = b} <T, C> + eps KL(T | a (x) b)

has the dual ``max_{f, g} <a, f> + <b, g> - eps <a (x) b, exp((f + g - C) / eps) - 1>``,
whose optimal potentials are the fixed point of the log-domain Sinkhorn updates::

    f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)
    g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps)

and then ``OT_eps(a, b) = <a, f> + <b, g>``; the optimal plan is
``T_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``. Each update is one grid log-sum-exp,
evaluated per axis by :class:`~.grid.SeparableKernel`.

Stopping rule: the L1 error of the plan's second marginal, ``sum_j |(T^T 1)_j - b_j|``,
below ``tol`` for every problem of the batch (or ``max_iter`` iterations). Warm start
(``eps_scaling=q``): the first iterations use the temperatures
``max(eps, diameter^2 q^k)`` (Kosowsky-Yuille / Schmitzer eps-scaling); the returned
potentials are always iterated at ``eps`` itself until the stopping rule holds.
"""
import math
from typing import Callable, Iterator, Optional, Tuple

import torch
from torch import Tensor

from .grid import BACKENDS, SeparableKernel, axis_cost, log_mass

__all__ = ['DEFAULT_BACKEND', 'DEFAULT_EPS_SCALING', 'DEFAULT_MAX_ITER', 'DEFAULT_TOL',
           'check_sinkhorn_args', 'sinkhorn_grid_potentials', 'sinkhorn_grid_symmetric']

# The library's defaults, shared by every solver entry point of this package. They favour
# an accurate value over speed (a stand-alone OT value is usually wanted to a few digits);
# a caller that needs speed more than accuracy passes its own tol (the OTDL training loss
# uses 1e-4, see mmdepth_dgr/models/losses/otdl.py). There is no default eps: it is the
# blur scale of the problem, in squared units of the coordinates, and only the caller
# knows it.
DEFAULT_MAX_ITER = 500
DEFAULT_TOL = 1e-5
DEFAULT_EPS_SCALING = 0.5
DEFAULT_BACKEND = 'auto'


def check_sinkhorn_args(where: str, reg: float, max_iter: int = DEFAULT_MAX_ITER,
                        tol: float = DEFAULT_TOL,
                        eps_scaling: Optional[float] = DEFAULT_EPS_SCALING,
                        backend: str = DEFAULT_BACKEND) -> None:
    """Raise a ``ValueError`` naming ``where`` and the bad option, if any.

    Args:
        where (str): Name of the caller used in the message.
        reg (float): Must be a finite number > 0.
        max_iter (int): Must be an integer >= 1. Defaults to 500.
        tol (float): Must be >= 0. Defaults to 1e-5.
        eps_scaling (float, optional): None, or a factor in (0, 1). Defaults to 0.5.
        backend (str): One of ``'auto'``, ``'matmul'``, ``'lse'``. Defaults to 'auto'.
    """
    if backend not in BACKENDS:
        raise ValueError(f'{where}: backend must be one of {BACKENDS}, got {backend!r}')
    try:
        reg_ok = 0 < float(reg) < math.inf
    except (TypeError, ValueError):
        reg_ok = False
    if not reg_ok:
        raise ValueError(f'{where}: reg must be a finite number > 0, got {reg!r}')
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f'{where}: max_iter must be an integer >= 1, got {max_iter!r}')
    if not tol >= 0:
        raise ValueError(f'{where}: tol must be >= 0, got {tol!r}')
    if eps_scaling is not None and not 0 < eps_scaling < 1:
        raise ValueError(f'{where}: eps_scaling must be None or in (0, 1), '
                         f'got {eps_scaling!r}')


def _annealed_kernels(coords_y: Tensor, coords_x: Tensor, reg: float,
                      eps_scaling: Optional[float], backend: str,
                      max_iter: int) -> Iterator[Tuple[float, SeparableKernel]]:
    """Yield ``(eps, kernel)`` for each of at most ``max_iter`` Sinkhorn iterations.

    With ``eps_scaling=q`` the temperatures are ``max(reg, diameter^2 * q^k)`` (a warm
    start; each kernel is built once) and then ``reg`` for every remaining iteration; with
    None, ``reg`` from the start.
    """
    cost_y, cost_x = axis_cost(coords_y), axis_cost(coords_x)
    eps = max(reg, float(cost_y.max() + cost_x.max())) if eps_scaling else reg
    kernels = {}
    for _ in range(max_iter):
        if eps not in kernels:
            kernels[eps] = SeparableKernel(cost_y, cost_x, eps, backend)
        yield eps, kernels[eps]
        if eps != reg:
            eps = max(reg, eps * eps_scaling)


def _marginal_error(mass: Tensor, old: Tensor, new: Tensor, reg: float) -> float:
    """Largest per-image L1 marginal error ``sum_i mass_i |exp((old_i - new_i) / reg) - 1|``
    of a plan whose potential ``old`` the update replaced by ``new`` (empty cells skipped)."""
    ratio = torch.exp((old - new) / reg) - 1.0
    viol = torch.where(mass > 0, mass * ratio.abs(), torch.zeros_like(mass))
    return float(viol.flatten(1).sum(1).max())


def _iterate(where: str, step: Callable[[float, SeparableKernel, bool], float],
             reg: float, coords_y: Tensor, coords_x: Tensor, max_iter: int, tol: float,
             eps_scaling: Optional[float], backend: str) -> Tuple[int, float]:
    """Run ``step(eps, kernel, measure)`` over the annealed schedule until the error that
    it returns when ``measure`` (only at ``eps == reg``) is below ``tol``.

    Returns:
        tuple: The number of iterations and the last measured marginal error.
    """
    check_sinkhorn_args(where, reg, max_iter, tol, eps_scaling, backend)
    err, n_iter = math.inf, 0
    steps = _annealed_kernels(coords_y, coords_x, reg, eps_scaling, backend, max_iter)
    for n_iter, (eps_k, kernel) in enumerate(steps, 1):
        measured = step(eps_k, kernel, eps_k == reg)
        if eps_k == reg:
            err = measured
        if err < tol:
            break
    return n_iter, err


@torch.no_grad()
def sinkhorn_grid_potentials(a: Tensor, b: Tensor, reg: float, coords_y: Tensor,
                             coords_x: Tensor, max_iter: int = DEFAULT_MAX_ITER,
                             tol: float = DEFAULT_TOL,
                             eps_scaling: Optional[float] = DEFAULT_EPS_SCALING,
                             backend: str = DEFAULT_BACKEND
                             ) -> Tuple[Tensor, Tensor, int, float]:
    """Dual potentials of ``OT_eps(a, b)`` by alternating log-domain Sinkhorn updates.

    See the module docstring for the updates and the stopping rule; batched over ``B``.
    No autograd graph is built.

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
    log_a, log_b = log_mass(a), log_mass(b)
    f, g = torch.zeros_like(a), torch.zeros_like(b)

    def step(eps: float, kernel: SeparableKernel, measure: bool) -> float:
        nonlocal f, g
        f = -eps * kernel.lse(log_b + g / eps)
        g_new = -eps * kernel.lse(log_a + f / eps)
        # Column sums of the plan built from (f, g) are b * exp((g - g_new) / eps).
        err = _marginal_error(b, g, g_new, reg) if measure else math.inf
        g = g_new
        return err

    n_iter, err = _iterate('sinkhorn_grid_potentials', step, reg, coords_y, coords_x,
                           max_iter, tol, eps_scaling, backend)
    return f, g, n_iter, err


@torch.no_grad()
def sinkhorn_grid_symmetric(a: Tensor, reg: float, coords_y: Tensor, coords_x: Tensor,
                            max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL,
                            eps_scaling: Optional[float] = DEFAULT_EPS_SCALING,
                            backend: str = DEFAULT_BACKEND) -> Tuple[Tensor, int, float]:
    """Potential of the self-transport ``OT_eps(a, a)`` by symmetric (averaged) Sinkhorn.

    For ``b = a`` the optimal dual pair is symmetric, ``f = g``, and satisfies
    ``f = T(f) := -eps log sum_j a_j exp((f_j - C_ij) / eps)``. Iterating
    ``f <- (f + T(f)) / 2`` (the averaged update of Feydy et al., AISTATS 2019) converges
    to it in fewer iterations than the alternating updates, each costing one grid
    log-sum-exp instead of two. Then ``OT_eps(a, a) = 2 <a, f>`` and its gradient w.r.t.
    ``a`` is ``2 f``. Stops when the L1 error of the plan's marginal,
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
    log_a = log_mass(a)
    f = torch.zeros_like(a)

    def step(eps: float, kernel: SeparableKernel, measure: bool) -> float:
        nonlocal f
        t_f = -eps * kernel.lse(log_a + f / eps)
        # Row sums of the plan built from (f, f) are a * exp((f - T(f)) / eps).
        err = _marginal_error(a, f, t_f, reg) if measure else math.inf
        f = 0.5 * (f + t_f)
        return err

    n_iter, err = _iterate('sinkhorn_grid_symmetric', step, reg, coords_y, coords_x,
                           max_iter, tol, eps_scaling, backend)
    return f, n_iter, err
