"""OTDL (Sec. 3.3, Eq. 11-14): values against POT and closed forms, gradients, masks."""

import numpy as np
import ot
import pytest
import torch
from mmseg.registry import MODELS

from mmdepth_dgr.models.losses import OTDLoss, entropic_ot_grid, otdl_loss
from mmdepth_dgr.models.losses.otdl import (grid_axis_coords, grid_transport_cost,
                                            sinkhorn_grid_potentials,
                                            sinkhorn_grid_symmetric)

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    # The problems here are tiny: thread hand-offs cost more than they save.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _blob(h, w, cy, cx, sigma=2.5, base=0.0):
    y = torch.arange(h, dtype=F64)[:, None]
    x = torch.arange(w, dtype=F64)[None]
    return (base + torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma ** 2)))[None, None]


def _random_hist(b, h, w, power=3.0):
    x = torch.rand(b, h, w, dtype=F64) ** power + 1e-3
    return x / x.sum(dim=(-1, -2), keepdim=True)


def _grid_cost_matrix(h, w):
    size = max(h, w)
    cy = grid_axis_coords(h, 1, size, dtype=F64, device='cpu')
    cx = grid_axis_coords(w, 1, size, dtype=F64, device='cpu')
    yy, xx = torch.meshgrid(cy, cx, indexing='ij')
    pts = torch.stack([yy.flatten(), xx.flatten()], 1)
    return cy, cx, (torch.cdist(pts, pts) ** 2).numpy()


def _depth_pair(b=2, h=5, w=6):
    target = 1.0 + 3.0 * torch.rand(b, 1, h, w, dtype=F64)
    pred = (target + 0.5 * torch.randn(b, 1, h, w, dtype=F64)).clamp(min=0.2)
    return pred, target


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize('debias', [True, False])
def test_spatial_gradient_matches_finite_differences(debias):
    pred, target = _depth_pair()
    pred.requires_grad_(True)

    def fn(p):
        return otdl_loss(p, target, mode='spatial', reg=0.1, downsample=1, debias=debias,
                         tol=1e-14, max_iter=5000)

    assert torch.autograd.gradcheck(fn, (pred,), atol=1e-7, rtol=1e-4)


def test_spatial_gradient_with_pooling_and_mask_matches_finite_differences():
    pred, target = _depth_pair(b=1, h=6, w=8)
    target[..., 0, :3] = 0   # invalid pixels
    pred.requires_grad_(True)

    def fn(p):
        return otdl_loss(p, target, reg=0.05, downsample=2, tol=1e-14, max_iter=5000)

    assert torch.autograd.gradcheck(fn, (pred,), atol=1e-7, rtol=1e-4)


@pytest.mark.parametrize('weights', ['mass', 'uniform'])
def test_depth_mode_gradient_matches_finite_differences(weights):
    pred, target = _depth_pair()
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p: otdl_loss(p, target, mode='depth', depth_weights=weights), (pred,))


# ---------------------------------------------------------------- values
def test_identical_maps_cost_zero():
    _, target = _depth_pair(b=2, h=8, w=10)
    # The cross term (alternating updates) and the self-terms (symmetric updates) stop at
    # the same marginal tolerance, so they cancel to the solver's accuracy, not bitwise.
    spatial = otdl_loss(target.clone(), target, mode='spatial', debias=True)
    assert abs(float(spatial)) < 1e-7
    spatial = otdl_loss(target.clone(), target, mode='spatial', debias=True, tol=1e-11)
    assert abs(float(spatial)) < 1e-13
    one_px = otdl_loss(torch.roll(target, 1, dims=-1), target, mode='spatial')
    assert float(one_px) > 1e4 * abs(float(spatial)) + 1e-5
    for weights in ('mass', 'uniform'):
        assert float(otdl_loss(target.clone(), target, mode='depth',
                               depth_weights=weights)) == 0.0
    # without debiasing the entropic cost of identical maps is strictly positive
    assert float(otdl_loss(target.clone(), target, mode='spatial', debias=False)) > 0


@pytest.mark.parametrize('debias', [True, False])
def test_entropic_ot_is_symmetric(debias):
    a, b = _random_hist(2, 7, 9), _random_hist(2, 7, 9)
    ab = entropic_ot_grid(a, b, 0.02, debias=debias, tol=1e-12, max_iter=5000)
    ba = entropic_ot_grid(b, a, 0.02, debias=debias, tol=1e-12, max_iter=5000)
    torch.testing.assert_close(ab, ba, rtol=1e-9, atol=1e-12)


def test_depth_mode_is_symmetric_for_fully_valid_maps():
    pred, target = _depth_pair()
    torch.testing.assert_close(otdl_loss(pred, target, mode='depth'),
                               otdl_loss(target, pred, mode='depth'))


@pytest.mark.parametrize('reg', [0.05, 0.01])
def test_sinkhorn_matches_pot_dense(reg):
    h, w = 7, 9
    a, b = _random_hist(2, h, w), _random_hist(2, h, w)
    cy, cx, cost = _grid_cost_matrix(h, w)
    f, g, _, _ = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=20000, tol=1e-12)
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
    h, w = 6, 8
    a = _random_hist(3, h, w)
    cy, cx, cost = _grid_cost_matrix(h, w)
    p, n_sym, err = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=20000, tol=1e-12)
    f, g, n_alt, _ = sinkhorn_grid_potentials(a, a, reg, cy, cx, max_iter=20000, tol=1e-12)
    assert err < 1e-12
    # same fixed point: f = g = p up to the additive constant of the dual
    def centred(x):
        return x - x.mean(dim=(-1, -2), keepdim=True)

    for q in (f, g):
        torch.testing.assert_close(centred(p), centred(q), rtol=0, atol=1e-9)
    value = 2 * (a * p).flatten(1).sum(1)
    for k in range(3):
        ak = a[k].flatten().numpy()
        plan = ot.sinkhorn(ak, ak, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                           numItermax=100000)
        ref = np.sum(plan * cost) + reg * np.sum(plan * np.log(plan / np.outer(ak, ak)))
        assert float(value[k]) == pytest.approx(float(ref), rel=1e-8)


@pytest.mark.parametrize('reg', [0.05, 0.002, 0.0012])
def test_kernel_products_agree_with_exact_log_sum_exp(reg):
    """'auto' takes the one-shift kernel product (0.05), the per-axis shifted product
    (0.002: per axis max(C) / eps <= 500 but the sum is not) or exact log-sum-exps (0.0012);
    each must give the exact ('lse') potentials."""
    from mmdepth_dgr.models.losses.otdl import _SeparableKernel, _axis_cost
    h, w = 6, 8
    a, b = _random_hist(2, h, w), _random_hist(2, h, w)
    cy, cx, _ = _grid_cost_matrix(h, w)
    kernel = _SeparableKernel(_axis_cost(cy), _axis_cost(cx), reg, 'auto')
    assert (kernel.fused, kernel.kx is not None) == {0.05: (True, True),
                                                     0.002: (False, True),
                                                     0.0012: (False, False)}[reg]
    exact = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=300, tol=0, backend='lse')
    auto = sinkhorn_grid_potentials(a, b, reg, cy, cx, max_iter=300, tol=0, backend='auto')
    for x, y in zip(exact[:2], auto[:2]):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
    sym_exact = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=300, tol=0, backend='lse')
    sym_auto = sinkhorn_grid_symmetric(a, reg, cy, cx, max_iter=300, tol=0, backend='auto')
    torch.testing.assert_close(sym_exact[0], sym_auto[0], rtol=1e-9, atol=1e-12)


def test_debiased_value_is_the_sinkhorn_divergence_of_pot_terms():
    h, w, reg = 6, 8, 0.03
    a, b = _random_hist(2, h, w), _random_hist(2, h, w)
    cy, cx, cost = _grid_cost_matrix(h, w)
    ours = entropic_ot_grid(a, b, reg, cy, cx, debias=True, tol=1e-12, max_iter=20000)

    def pot_ot(x, y):
        plan = ot.sinkhorn(x, y, cost, reg, method='sinkhorn_log', stopThr=1e-13,
                           numItermax=100000)
        return np.sum(plan * cost) + reg * np.sum(plan * np.log(plan / np.outer(x, y)))

    for k in range(2):
        ak, bk = a[k].flatten().numpy(), b[k].flatten().numpy()
        ref = pot_ot(ak, bk) - pot_ot(ak, ak) / 2 - pot_ot(bk, bk) / 2
        assert float(ours[k]) == pytest.approx(float(ref), rel=1e-7)


def test_sinkhorn_cost_tends_to_exact_emd_for_small_eps():
    # grid spacing^2 = 1/64 >> eps = 1e-3: the entropic plan is essentially the exact one.
    h, w = 6, 8
    a, b = _random_hist(1, h, w), _random_hist(1, h, w)
    cy, cx, cost = _grid_cost_matrix(h, w)
    f, g, _, _ = sinkhorn_grid_potentials(a, b, 1e-3, cy, cx, max_iter=20000, tol=1e-11)
    sharp = float(grid_transport_cost(a, b, f, g, 1e-3, cy, cx)[0])
    exact = ot.emd2(a[0].flatten().numpy(), b[0].flatten().numpy(), cost)
    assert sharp == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize('weights', ['mass', 'uniform'])
def test_depth_mode_matches_pot_emd2(weights):
    pred, target = _depth_pair(b=2, h=4, w=5)
    target[0, 0, 0, :2] = 0
    got = otdl_loss(pred, target, mode='depth', depth_weights=weights)
    refs = []
    for k in range(2):
        m = (target[k, 0] > 0).flatten()
        p, q = pred[k, 0].flatten()[m].numpy(), target[k, 0].flatten()[m].numpy()
        wp = p / p.sum() if weights == 'mass' else np.full(len(p), 1 / len(p))
        wq = q / q.sum() if weights == 'mass' else np.full(len(q), 1 / len(q))
        refs.append(ot.emd2(wp, wq, (p[:, None] - q[None, :]) ** 2))
        # and POT's own 1-D solver on the valid pixels only
        w1d = ot.wasserstein_1d(torch.from_numpy(p), torch.from_numpy(q),
                                torch.from_numpy(wp), torch.from_numpy(wq), p=2)
        assert float(w1d) == pytest.approx(refs[-1], rel=1e-9)
    assert float(got) == pytest.approx(float(np.mean(refs)), rel=1e-9)


@pytest.mark.parametrize('shape,shift,downsample', [((32, 32), (3, 0), 1),
                                                    ((32, 32), (4, 4), 1),
                                                    ((24, 40), (0, 4), 1),
                                                    ((64, 64), (8, 4), 4)])
def test_shifted_blob_costs_squared_normalised_shift(shape, shift, downsample):
    # Sinkhorn divergence of a translate = squared shift (entropic bias cancels); coordinates
    # are normalised by the longer side S, so a shift by k pixels costs (k / S)^2.
    # Tolerance: 1e-3 relative (boundary/quantisation effects are ~1e-7 here).
    h, w = shape
    target = _blob(h, w, h / 2 - 2, w / 2 - 2)
    pred = _blob(h, w, h / 2 - 2 + shift[0], w / 2 - 2 + shift[1])
    got = otdl_loss(pred, target, reg=2e-3, downsample=downsample, tol=1e-9, max_iter=5000)
    expected = (shift[0] ** 2 + shift[1] ** 2) / max(h, w) ** 2
    assert float(got) == pytest.approx(expected, rel=1e-3)


# ---------------------------------------------------------------- masks
@pytest.mark.parametrize('mode', ['spatial', 'depth'])
def test_invalid_pixels_carry_no_mass(mode):
    pred, target = _depth_pair(b=2, h=8, w=8)
    sparse = torch.rand_like(target) < 0.3           # KITTI-like sparse ground truth
    target = torch.where(sparse, target, torch.zeros_like(target))
    pred.requires_grad_(True)
    loss = otdl_loss(pred, target, mode=mode)
    loss.backward()
    assert torch.all(pred.grad[~sparse] == 0)
    assert torch.any(pred.grad[sparse] != 0)
    changed = torch.where(sparse, pred.detach(), torch.full_like(pred, 50.0))
    assert float(otdl_loss(changed, target, mode=mode)) == pytest.approx(
        float(loss.detach()), rel=1e-12)


def test_explicit_valid_mask_is_intersected_with_target_validity():
    pred, target = _depth_pair(b=1, h=8, w=8)
    extra = torch.zeros_like(target, dtype=torch.bool)
    extra[..., 2:6, 2:6] = True
    masked_target = torch.where(extra, target, torch.zeros_like(target))
    torch.testing.assert_close(otdl_loss(pred, target, valid_mask=extra),
                               otdl_loss(pred, masked_target))


# ---------------------------------------------------------------- degenerate inputs
def _cases(h=8, w=8):
    _, target = _depth_pair(b=2, h=h, w=w)
    return {
        'all_invalid': (torch.rand(2, 1, h, w, dtype=F64), torch.zeros(2, 1, h, w, dtype=F64)),
        'one_image_invalid': (torch.rand(2, 1, h, w, dtype=F64),
                              torch.cat([target[:1], torch.zeros_like(target[1:])])),
        'zero_pred': (torch.zeros(2, 1, h, w, dtype=F64), target),
        'negative_pred': (-torch.rand(2, 1, h, w, dtype=F64), target),
        'constant_maps': (torch.full((2, 1, h, w), 2.0, dtype=F64),
                          torch.full((2, 1, h, w), 3.0, dtype=F64)),
        'nan_target_outside_mask': (torch.rand(2, 1, h, w, dtype=F64),
                                    torch.where(target > 2, target,
                                                torch.full_like(target, float('nan')))),
    }


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
@pytest.mark.parametrize('mass_fn', ['relu', 'softplus'])
@pytest.mark.parametrize('case', list(_cases()))
def test_degenerate_inputs_give_finite_loss_and_grads(mode, mass_fn, case):
    pred, target = _cases()[case]
    pred = pred.clone().requires_grad_(True)
    loss = otdl_loss(pred, target, mode=mode, mass_fn=mass_fn)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(pred.grad).all()
    if case == 'all_invalid':
        assert float(loss) == 0.0
    if case == 'constant_maps' and mode == 'spatial':
        assert abs(float(loss)) < 1e-12   # same normalised mass P' = Q'


def test_float32_input_gives_float32_loss():
    pred, target = _depth_pair(b=2, h=16, w=20)
    loss = otdl_loss(pred.float(), target.float())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_gradient_descent_on_prediction_reduces_spatial_otdl():
    target = _blob(16, 16, 6, 6, sigma=2.0, base=0.5)
    pred = _blob(16, 16, 9, 10, sigma=2.0, base=0.5).requires_grad_(True)
    opt = torch.optim.SGD([pred], lr=300.0)
    first = None
    for _ in range(6):
        opt.zero_grad()
        loss = otdl_loss(pred, target, reg=0.01, downsample=1)
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(otdl_loss(pred, target, reg=0.01, downsample=1)) < 0.25 * first


# ---------------------------------------------------------------- module
def test_registry_build_with_loss_name_and_weight():
    loss = MODELS.build(dict(type='OTDLoss', loss_weight=2.5, loss_name='loss_ot_spatial',
                             reg=0.05))
    assert isinstance(loss, OTDLoss)
    assert loss.loss_name == 'loss_ot_spatial'
    pred, target = _depth_pair()
    torch.testing.assert_close(loss(pred, target), 2.5 * otdl_loss(pred, target, reg=0.05))


@pytest.mark.parametrize('kwargs,key', [(dict(mode='pixels'), 'mode'),
                                        (dict(mass_fn='abs'), 'mass_fn'),
                                        (dict(depth_weights='x'), 'depth_weights'),
                                        (dict(loss_name='otdl'), 'loss_name')])
def test_bad_options_raise_naming_the_option(kwargs, key):
    with pytest.raises(ValueError, match=key):
        OTDLoss(**kwargs)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match='otdl_loss'):
        otdl_loss(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 5))
