"""mmdepth_dgr.ot.entropic: values against POT, envelope-theorem gradients, divergence."""
import numpy as np
import ot
import pytest
import torch

from mmdepth_dgr.ot import entropic_ot_grid, grid_axis_coords
from _ot_helpers import F64, grid_cost_matrix, random_hist


def _pot_entropic(x, y, cost, reg):
    """<T, M> + eps KL(T | x y^T) of POT's log-domain Sinkhorn plan."""
    plan = ot.sinkhorn(x, y, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                       numItermax=100000)
    return np.sum(plan * cost) + reg * np.sum(plan * np.log(plan / np.outer(x, y)))


def test_debiased_value_is_the_sinkhorn_divergence_of_three_pot_solves():
    h, w, reg = 6, 8, 0.03
    a, b = random_hist(2, h, w), random_hist(2, h, w)
    cy, cx, cost = grid_cost_matrix(h, w)
    ours = entropic_ot_grid(a, b, reg, cy, cx, debias=True, tol=1e-12, max_iter=20000)
    for k in range(2):
        ak, bk = a[k].flatten().numpy(), b[k].flatten().numpy()
        ref = (_pot_entropic(ak, bk, cost, reg) - _pot_entropic(ak, ak, cost, reg) / 2
               - _pot_entropic(bk, bk, cost, reg) / 2)
        assert float(ours[k]) == pytest.approx(float(ref), rel=1e-7)


def test_default_coordinates_are_cell_centres_over_the_longer_side():
    h, w, reg = 5, 7, 0.05
    a, b = random_hist(1, h, w), random_hist(1, h, w)
    cy = grid_axis_coords(h, 1, w, dtype=F64, device='cpu')
    cx = grid_axis_coords(w, 1, w, dtype=F64, device='cpu')
    torch.testing.assert_close(entropic_ot_grid(a, b, reg),
                               entropic_ot_grid(a, b, reg, cy, cx), rtol=0, atol=0)


@pytest.mark.parametrize('debias', [True, False])
def test_value_is_symmetric_in_its_arguments(debias):
    a, b = random_hist(2, 7, 9), random_hist(2, 7, 9)
    ab = entropic_ot_grid(a, b, 0.02, debias=debias, tol=1e-12, max_iter=5000)
    ba = entropic_ot_grid(b, a, 0.02, debias=debias, tol=1e-12, max_iter=5000)
    torch.testing.assert_close(ab, ba, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('debias', [True, False])
def test_gradient_is_the_directional_derivative_on_the_simplex(debias):
    # The centred potentials are the gradient projected on the simplex's tangent space:
    # for any direction d with sum(d) = 0, <grad, d> = d/dt OT(a + t d, b).
    h, w, reg = 5, 6, 0.05
    a, b = random_hist(1, h, w), random_hist(1, h, w)
    d = torch.randn(1, h, w, dtype=F64)
    d = (d - d.mean()) * 1e-2

    def value(x):
        return entropic_ot_grid(x, b, reg, debias=debias, tol=1e-14, max_iter=20000)

    aa = a.clone().requires_grad_(True)
    value(aa).sum().backward()
    step = 1e-5
    numeric = (value(a + step * d) - value(a - step * d)) / (2 * step)
    assert float((aa.grad * d).sum()) == pytest.approx(float(numeric), rel=1e-6)
    assert float(aa.grad.sum()) == pytest.approx(0.0, abs=1e-12)


def test_divergence_of_identical_histograms_is_zero_and_raw_cost_is_positive():
    a = random_hist(2, 6, 8)
    div = entropic_ot_grid(a, a.clone(), 0.05, debias=True, tol=1e-12, max_iter=5000)
    raw = entropic_ot_grid(a, a.clone(), 0.05, debias=False)
    assert float(div.abs().max()) < 1e-12
    assert bool((raw > 0).all())


def test_shape_mismatch_raises_naming_the_function():
    with pytest.raises(ValueError, match='entropic_ot_grid'):
        entropic_ot_grid(random_hist(1, 3, 4), random_hist(1, 4, 3), 0.05)
