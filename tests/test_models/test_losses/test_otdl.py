"""OTDL (Sec. 3.3, Eq. 11-14): values against POT and closed forms, gradients, masks.

The Sinkhorn solver itself is tested against POT in tests/test_ot/."""

import numpy as np
import ot
import pytest
import torch
from mmseg.registry import MODELS

from mmdepth_dgr.models.losses import OTDLoss, otdl_loss

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


def test_depth_mode_is_symmetric_for_fully_valid_maps():
    pred, target = _depth_pair()
    torch.testing.assert_close(otdl_loss(pred, target, mode='depth'),
                               otdl_loss(target, pred, mode='depth'))


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
                                        (dict(loss_name='otdl'), 'loss_name'),
                                        (dict(nonfinite='ignore'), 'nonfinite'),
                                        (dict(downsample=1.5), 'downsample'),
                                        (dict(compute_dtype='int32'), 'compute_dtype'),
                                        (dict(min_mass=0.0), 'min_mass'),
                                        (dict(reg=-0.1), 'reg'),
                                        (dict(backend='cuda'), 'backend'),
                                        (dict(reduction='avg'), 'reduction')])
def test_bad_options_raise_naming_the_option_when_built_and_when_called(kwargs, key):
    with pytest.raises(ValueError, match=f'OTDLoss: {key}'):
        OTDLoss(**kwargs)
    if key not in ('loss_name', 'reduction'):
        pred, target = _depth_pair()
        with pytest.raises(ValueError, match=f'otdl_loss: {key}'):
            otdl_loss(pred, target, **kwargs)


def test_unknown_option_raises_listing_the_options():
    with pytest.raises(TypeError, match="OTDLoss: unknown option.*'epsilon'.*'reg'"):
        OTDLoss(epsilon=0.05)


def test_compute_dtype_and_min_mass_are_reachable_from_the_module():
    pred, target = _depth_pair(b=2, h=8, w=8)
    f32 = OTDLoss(compute_dtype='float32')(pred, target)
    assert torch.equal(f32, otdl_loss(pred, target, compute_dtype=torch.float32))
    f64 = OTDLoss()(pred, target)
    assert not torch.equal(f32, f64)
    assert float(f32) == pytest.approx(float(f64), rel=1e-3)
    # image 1 with a total valid mass below min_mass (metres x pixels) is left out
    low = target.clone()
    low[1] = low[1] / low[1].sum() * 0.5            # total mass 0.5
    alone = otdl_loss(pred[:1], target[:1])
    got = OTDLoss(min_mass=1.0)(pred, low)
    torch.testing.assert_close(got, alone, rtol=1e-9, atol=0)
    assert float(OTDLoss(min_mass=0.1)(pred, low)) != pytest.approx(float(alone), rel=1e-6)


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
def test_reductions_and_image_weights(mode):
    pred, target = _depth_pair(b=3, h=8, w=8)
    target[2] = 0                                      # image 2 has no valid pixel
    loss = OTDLoss(mode=mode, reduction='none')
    per_image = loss(pred, target)
    assert per_image.shape == (3,) and float(per_image[2]) == 0.0
    assert torch.equal(otdl_loss(pred, target, mode=mode),
                       per_image.sum() / 2)            # mean over the two that count
    torch.testing.assert_close(loss(pred, target, reduction_override='sum'),
                               per_image.sum())
    w = torch.tensor([2.0, 0.5, 7.0], dtype=pred.dtype)
    torch.testing.assert_close(loss(pred, target, weight=w, reduction_override='mean'),
                               (2.0 * per_image[0] + 0.5 * per_image[1]) / 2)
    torch.testing.assert_close(
        loss(pred, target, weight=w, avg_factor=4.0, reduction_override='mean'),
        (2.0 * per_image[0] + 0.5 * per_image[1]) / (4.0 + torch.finfo(torch.float32).eps))


# ---------------------------------------------------------------- non-finite predictions
NONFINITE = {'nan': float('nan'), '+inf': float('inf'), '-inf': float('-inf')}


def _broken(pred, value, *pixels):
    """A copy of ``pred`` with ``NONFINITE[value]`` at the (b, y, x) ``pixels``."""
    out = pred.clone()
    for b, y, x in pixels:
        out[b, 0, y, x] = NONFINITE[value]
    return out


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
@pytest.mark.parametrize('value', list(NONFINITE))
def test_nonfinite_prediction_drops_its_image_with_exactly_zero_gradient(mode, value):
    pred, target = _depth_pair(b=3, h=8, w=8)
    broken = _broken(pred, value, (1, 2, 3)).requires_grad_(True)
    loss = otdl_loss(broken, target, mode=mode)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(broken.grad[1] == 0)
    # the other two images give what they give alone, value and gradient
    rest = pred[[0, 2]].clone().requires_grad_(True)
    alone = otdl_loss(rest, target[[0, 2]], mode=mode)
    alone.backward()
    torch.testing.assert_close(loss, alone, rtol=1e-9, atol=0)
    torch.testing.assert_close(broken.grad[[0, 2]], rest.grad, rtol=1e-7, atol=1e-15)
    assert torch.any(rest.grad != 0)
    # per image: NaN nowhere while another image counts
    per_image = otdl_loss(broken.detach(), target, mode=mode, reduction='none')
    assert torch.isfinite(per_image).all() and float(per_image[1]) == 0.0


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
@pytest.mark.parametrize('value', list(NONFINITE))
def test_every_image_left_out_with_a_nonfinite_one_gives_nan_and_zero_gradients(mode,
                                                                                 value):
    pred, target = _depth_pair(b=2, h=8, w=8)
    target[0] = 0                                     # image 0: no valid pixel
    broken = _broken(pred, value, (1, 5, 5)).requires_grad_(True)   # image 1: non-finite
    loss = OTDLoss(mode=mode)(broken, target)
    loss.backward()
    assert torch.isnan(loss)
    assert torch.all(broken.grad == 0)
    # left out for missing mass only, the loss stays 0: not a problem of the model
    empty = otdl_loss(broken.detach(), torch.zeros_like(target), mode=mode)
    assert float(empty) == 0.0


@pytest.mark.parametrize('mode', ['spatial', 'depth'])
@pytest.mark.parametrize('value', list(NONFINITE))
def test_raise_mode_names_the_loss_and_the_image(mode, value):
    pred, target = _depth_pair(b=3, h=8, w=8)
    broken = _broken(pred, value, (2, 1, 1), (2, 4, 1))
    with pytest.raises(FloatingPointError, match=r'otdl_loss .*image 2 \(2 pixels\)'):
        OTDLoss(mode=mode, nonfinite='raise')(broken, target)
    # at an invalid pixel it is no problem in either mode
    target[2, 0, 1, 1] = target[2, 0, 4, 1] = 0
    assert torch.isfinite(otdl_loss(broken, target, mode=mode, nonfinite='raise'))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match='otdl_loss'):
        otdl_loss(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 5))
