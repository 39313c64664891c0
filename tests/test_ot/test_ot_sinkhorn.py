"""mmdepth_dgr.ot.sinkhorn: dual potentials against POT (ot.bregman, ot.sinkhorn2, ot.emd2)."""
import inspect

import numpy as np
import ot
import pytest
import torch

from mmdepth_dgr.ot import (DEFAULT_BACKEND, DEFAULT_EPS_SCALING, DEFAULT_MAX_ITER, DEFAULT_TOL,
                            check_sinkhorn_args, entropic_ot_grid, grid_transport_cost,
                            sinkhorn_grid_potentials, sinkhorn_grid_symmetric)
from _ot_helpers import grid_cost_matrix, random_hist


def _centred(x):
    return x - x.mean(dim=(-1, -2), keepdim=True)


def _solved(batch, h, w, reg, same=False):
    """Histograms, grid, dense cost and the potentials converged to a 1e-12 marginal error."""
    a = random_hist(batch, h, w)
    b = a if same else random_hist(batch, h, w)
    cy, cx, cost = grid_cost_matrix(h, w)
    f, g, _, err = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=20000, tol=1e-12)
    assert err < 1e-12
    return a, b, cy, cx, cost, f, g


@pytest.mark.parametrize('reg', [0.05, 0.01])
def test_potentials_equal_pot_sinkhorn_log_scalings(reg):
    # POT's plan is diag(u) K diag(v) with K = exp(-M / reg); ours is
    # a_i b_j exp((f_i + g_j - C_ij) / reg), so f = reg (log u - log a) up to a constant.
    h, w = 5, 7
    a, b, _, _, cost, f, g = _solved(1, h, w, reg)
    ak, bk = a[0].flatten().numpy(), b[0].flatten().numpy()
    _, log = ot.bregman.sinkhorn_log(ak, bk, cost, reg, stopThr=1e-14, numItermax=100000,
                                     log=True)
    f_pot = torch.from_numpy(reg * (log['log_u'] - np.log(ak))).reshape(1, h, w)
    g_pot = torch.from_numpy(reg * (log['log_v'] - np.log(bk))).reshape(1, h, w)
    torch.testing.assert_close(_centred(f), _centred(f_pot), rtol=0, atol=1e-9)
    torch.testing.assert_close(_centred(g), _centred(g_pot), rtol=0, atol=1e-9)


@pytest.mark.parametrize('reg', [0.05, 0.01])
def test_plan_cost_and_dual_value_equal_pot_sinkhorn2(reg):
    a, b, cy, cx, cost, f, g = _solved(2, 7, 9, reg)
    sharp = grid_transport_cost(a, b, f, g, reg, cy, cx)
    dual = entropic_ot_grid(a, b, reg, cy, cx, debias=False, tol=1e-12, max_iter=20000)
    for k in range(2):
        ak, bk = a[k].flatten().numpy(), b[k].flatten().numpy()
        ref = ot.sinkhorn2(ak, bk, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                           numItermax=100000)
        assert float(sharp[k]) == pytest.approx(float(ref), rel=1e-6)
        # dual value = <T, M> + eps KL(T | a x b), computed from POT's plan
        plan = ot.sinkhorn(ak, bk, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                           numItermax=100000)
        kl = np.sum(plan * np.log(plan / np.outer(ak, bk)))
        assert float(dual[k]) == pytest.approx(float(np.sum(plan * cost) + reg * kl),
                                               rel=1e-6)


@pytest.mark.parametrize('reg', [0.05, 0.01])
def test_symmetric_self_transport_matches_alternating_solver_and_pot(reg):
    a, _, cy, cx, cost, f, g = _solved(3, 6, 8, reg, same=True)
    p, _, err = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=20000, tol=1e-12)
    assert err < 1e-12
    # same fixed point: f = g = p up to the additive constant of the dual
    for q in (f, g):
        torch.testing.assert_close(_centred(p), _centred(q), rtol=0, atol=1e-9)
    value = 2 * (a * p).flatten(1).sum(1)
    for k in range(3):
        ak = a[k].flatten().numpy()
        plan = ot.sinkhorn(ak, ak, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                           numItermax=100000)
        ref = np.sum(plan * cost) + reg * np.sum(plan * np.log(plan / np.outer(ak, ak)))
        assert float(value[k]) == pytest.approx(float(ref), rel=1e-8)


@pytest.mark.parametrize('reg', [0.05, 0.002, 0.0012])
def test_auto_backend_gives_the_exact_log_sum_exp_potentials(reg):
    h, w = 6, 8
    a, b = random_hist(2, h, w), random_hist(2, h, w)
    cy, cx, _ = grid_cost_matrix(h, w)
    exact = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=300, tol=0, backend='lse')
    auto = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=300, tol=0, backend='auto')
    for x, y in zip(exact[:2], auto[:2]):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
    sym_exact = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=300, tol=0, backend='lse')
    sym_auto = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=300, tol=0, backend='auto')
    torch.testing.assert_close(sym_exact[0], sym_auto[0], rtol=1e-9, atol=1e-12)


def test_plan_cost_tends_to_exact_emd_for_small_eps():
    # grid spacing^2 = 1/64 >> eps = 1e-3: the entropic plan is essentially the exact one.
    h, w = 6, 8
    a, b = random_hist(1, h, w), random_hist(1, h, w)
    cy, cx, cost = grid_cost_matrix(h, w)
    f, g, _, _ = sinkhorn_grid_potentials(a, b, 1e-3, cy, cx, max_iter=20000, tol=1e-11)
    sharp = float(grid_transport_cost(a, b, f, g, 1e-3, cy, cx)[0])
    exact = ot.emd2(a[0].flatten().numpy(), b[0].flatten().numpy(), cost)
    assert sharp == pytest.approx(exact, rel=1e-3)


def test_stopping_rule_is_the_l1_error_of_the_second_marginal():
    # Iteration n computes f_n from g_(n-1), then g_n; the reported error is that of the
    # plan built from (f_n, g_(n-1)), whose column sums are the only ones not exact.
    h, w, reg = 6, 8, 0.02
    a, b = random_hist(2, h, w), random_hist(2, h, w)
    cy, cx, cost = grid_cost_matrix(h, w)
    f, g, n_iter, err = sinkhorn_grid_potentials(a, b, reg, cy, cx, tol=1e-6)
    assert err < 1e-6 and 1 < n_iter < DEFAULT_MAX_ITER
    _, g_prev, _, _ = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=n_iter - 1, tol=0)
    worst = 0.0
    for k in range(2):
        fk, gk = f[k].flatten().numpy(), g_prev[k].flatten().numpy()
        ak, bk = a[k].flatten().numpy(), b[k].flatten().numpy()
        plan = np.outer(ak, bk) * np.exp((fk[:, None] + gk[None, :] - cost) / reg)
        np.testing.assert_allclose(plan.sum(1), ak, rtol=1e-10)   # rows exact after f_n
        worst = max(worst, np.abs(plan.sum(0) - bk).sum())
    assert worst == pytest.approx(err, rel=1e-6)


def test_every_solver_entry_point_shares_the_package_defaults():
    want = dict(max_iter=DEFAULT_MAX_ITER, tol=DEFAULT_TOL, eps_scaling=DEFAULT_EPS_SCALING,
                backend=DEFAULT_BACKEND)
    for fn in (sinkhorn_grid_potentials, sinkhorn_grid_symmetric, entropic_ot_grid):
        params = inspect.signature(fn).parameters
        assert {k: params[k].default for k in want} == want, fn.__name__
        assert params['reg'].default is inspect.Parameter.empty, fn.__name__


@pytest.mark.parametrize('kwargs,key', [(dict(reg=0.0), 'reg'),
                                        (dict(reg=float('nan')), 'reg'),
                                        (dict(backend='gpu'), 'backend'),
                                        (dict(max_iter=0), 'max_iter'),
                                        (dict(tol=-1.0), 'tol'),
                                        (dict(eps_scaling=1.5), 'eps_scaling')])
def test_bad_solver_options_raise_naming_the_caller_and_option(kwargs, key):
    args = dict(reg=0.05, max_iter=10, tol=1e-5, eps_scaling=0.5, backend='auto')
    args.update(kwargs)
    with pytest.raises(ValueError, match=f'my_caller: {key}'):
        check_sinkhorn_args('my_caller', **args)
    a = random_hist(1, 3, 4)
    cy, cx, _ = grid_cost_matrix(3, 4)
    with pytest.raises(ValueError, match=f'sinkhorn_grid_potentials: {key}'):
        sinkhorn_grid_potentials(a, a, coords_y=cy, coords_x=cx, **args)
