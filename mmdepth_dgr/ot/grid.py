"""Regular grids and their separable Gibbs kernel.

On a grid with row coordinates ``y`` and column coordinates ``x`` the squared Euclidean cost
between cells ``i = (r, c)`` and ``j = (r', c')`` splits by axis::

    C_ij = (y_r - y_r')^2 + (x_c - x_c')^2 = Cy[r, r'] + Cx[c, c']

so the Gibbs kernel factorises, ``exp(-C / eps) = exp(-Cy / eps) (x) exp(-Cx / eps)``, and
a log-sum-exp over all ``H W`` cells (the core of a log-domain Sinkhorn iteration) is two
per-axis log-sum-exps over ``H x H`` and ``W x W`` matrices: ``O(H W (H + W))`` time and
no ``(H W) x (H W)`` matrix.
"""
import math
from typing import Optional

import torch
from torch import Tensor

__all__ = ['BACKENDS', 'SeparableKernel', 'axis_cost', 'grid_axis_coords', 'log_mass']

BACKENDS = ('auto', 'matmul', 'lse')
# Largest max(cost) / eps for which a max-shifted kernel product is safe: the smallest
# kernel weight exp(-max_cost / eps) must stay far above the dtype's tiny number (per axis
# for the per-row shifted products; for the sum of both axes' maxima in the one-shift
# path). Other dtypes (e.g. float16, whose range ends near exp(-17)) always use the exact
# log-sum-exp under backend='auto'.
_MATMUL_LIMIT = {torch.float64: 500.0, torch.float32: 50.0}


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


def axis_cost(coords: Tensor) -> Tensor:
    """Squared differences of 1-D coordinates, ``C[i, j] = (coords_i - coords_j)^2``.

    Args:
        coords (Tensor): ``(n,)`` coordinates.

    Returns:
        Tensor: ``(n, n)`` cost matrix.
    """
    return (coords[:, None] - coords[None, :]) ** 2


def log_mass(a: Tensor) -> Tensor:
    """``log a`` with ``log 0 = -inf``, so that empty cells take no part in a log-sum-exp.

    Args:
        a (Tensor): Non-negative masses.

    Returns:
        Tensor: ``log a`` elementwise, ``-inf`` where ``a == 0``.
    """
    return torch.where(a > 0, torch.log(a.clamp_min(1e-300)), torch.full_like(a, -math.inf))


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


class SeparableKernel:
    """Per-axis Gibbs kernels ``exp(-C / eps)`` of the separable grid cost at one eps.

    Three ways to evaluate the grid log-sum-exp (:meth:`lse`), all equal in exact
    arithmetic:

    * one max-shift per image and two kernel products (``fused``), when even the farthest
      pair of cells keeps a normal kernel weight, ``(max Cy + max Cx) / eps`` within the
      dtype's limit (500 for float64, 50 for float32);
    * one max-shift per row and axis and a kernel product per axis, when each axis alone
      is within that limit;
    * exact broadcast log-sum-exps otherwise (any eps; memory ``B H W max(H, W)``).

    Args:
        cost_y (Tensor): ``(H, H)`` row cost (:func:`axis_cost`).
        cost_x (Tensor): ``(W, W)`` column cost.
        eps (float): Temperature, in the units of the cost.
        backend (str): ``'auto'`` (the fastest safe one of the three), ``'matmul'`` (kernel
            products whatever eps) or ``'lse'`` (always exact log-sum-exps).
    """

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
        """Grid log-sum-exp against the kernel.

        Args:
            h (Tensor): ``(B, H, W)`` log-weights.

        Returns:
            Tensor: ``(B, H, W)``, ``out[b, i] = log sum_j exp(h[b, j] - C[i, j] / eps)``.
        """
        if self.fused:
            m = h.amax(dim=(-1, -2), keepdim=True)
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            return torch.log(self.ky @ (torch.exp(h - m) @ self.kx.transpose(0, 1))) + m
        t = _lse_lastdim(h, self.log_kx, self.kx)                          # along x
        t = _lse_lastdim(t.transpose(-1, -2), self.log_ky, self.ky)        # along y
        return t.transpose(-1, -2)
