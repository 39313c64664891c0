"""Entropic optimal transport on regular 2-D grids: a separable log-domain Sinkhorn solver.

A small torch library (no mmseg/mmengine import) used by the OTDL loss
(:mod:`mmdepth_dgr.models.losses.otdl`) and usable on its own. For histograms ``a``, ``b``
(``(B, H, W)``, non-negative, each summing to 1) on a grid with coordinates ``y`` (rows)
and ``x`` (columns) and the squared Euclidean cost
``C_ij = (y_i - y_j)^2 + (x_i - x_j)^2``:

* :func:`entropic_ot_grid` - differentiable
  ``OT_eps(a, b) = min_T <T, C> + eps KL(T | a (x) b)`` or the Sinkhorn divergence
  ``S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2``,
  with envelope-theorem gradients (the dual potentials);
* :func:`sinkhorn_grid_potentials` / :func:`sinkhorn_grid_symmetric` - the dual potentials
  ``(f, g)`` of ``OT_eps(a, b)`` (alternating updates) and ``f`` of ``OT_eps(a, a)``
  (averaged symmetric updates), no autograd graph;
* :func:`grid_transport_cost` - the linear cost ``<T, C>`` of the plan, the value POT's
  ``ot.sinkhorn2`` returns (used to validate against POT);
* :func:`grid_axis_coords`, :func:`axis_cost`, :class:`SeparableKernel` - the grid.

Why written here: the cost is separable, so every log-sum-exp over the ``N = H W`` cells is
two per-axis log-sum-exps (``H x H`` and ``W x W``). POT 0.9.7 offers separable
("convolutional") kernels only for Wasserstein barycenters
(``ot.bregman.convolutional_barycenter2d[_debiased]``); its OT-distance solvers
(``ot.sinkhorn2``, ``ot.bregman.sinkhorn_log``, ``ot.bregman.empirical_sinkhorn2``) hold an
``N x N`` cost or kernel matrix (0.8 GB at 104 x 136 in float32) and differentiate through
the iterations. The tests in ``tests/test_ot/`` compare every entry point with POT on small
grids (``ot.sinkhorn2``, ``ot.sinkhorn`` plans, ``ot.emd2`` as eps -> 0).

Defaults (one set for the whole package, :mod:`.sinkhorn`): ``max_iter=500``, ``tol=1e-5``
(L1 marginal error), ``eps_scaling=0.5`` (warm start), ``backend='auto'``; no default for
``reg``, which is the problem's blur scale. Callers with other needs (the OTDL training
loss: ``reg=0.05``, ``tol=1e-4``) pass their own values.
"""
from .entropic import entropic_ot_grid, grid_transport_cost
from .grid import BACKENDS, SeparableKernel, axis_cost, grid_axis_coords, log_mass
from .sinkhorn import (DEFAULT_BACKEND, DEFAULT_EPS_SCALING, DEFAULT_MAX_ITER, DEFAULT_TOL,
                       check_sinkhorn_args, sinkhorn_grid_potentials, sinkhorn_grid_symmetric)

__all__ = [
    'entropic_ot_grid', 'grid_transport_cost', 'sinkhorn_grid_potentials',
    'sinkhorn_grid_symmetric', 'check_sinkhorn_args', 'grid_axis_coords', 'axis_cost',
    'log_mass', 'SeparableKernel', 'BACKENDS', 'DEFAULT_MAX_ITER', 'DEFAULT_TOL',
    'DEFAULT_EPS_SCALING', 'DEFAULT_BACKEND'
]
