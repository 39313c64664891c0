"""SILog presets and the masked MSE against hand computations (numpy)."""
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from mmdepth_dgr.models.losses import masked_mse_loss, silog_depth_loss


def _pair(b=2, h=4, w=5):
    target = 1.0 + 4.0 * torch.rand(b, 1, h, w, dtype=torch.float64)
    target[0, 0, 0, :3] = 0                       # invalid
    pred = target * torch.exp(0.2 * torch.randn_like(target)) + 0.05
    return pred, target


def test_silog_bts_preset_matches_hand_computation():
    pred, target = _pair()
    m = (target > 0).numpy()
    g = np.log(pred.numpy()[m]) - np.log(target.numpy()[m])
    expected = 10.0 * np.sqrt(np.mean(g ** 2) - 0.85 * np.mean(g) ** 2)
    got = MODELS.build(dict(type='SILogDepthLoss'))(pred, target)
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_silog_adabins_preset_uses_unbiased_variance():
    pred, target = _pair()
    m = (target > 0).numpy()
    g = np.log(pred.numpy()[m]) - np.log(target.numpy()[m])
    expected = 10.0 * np.sqrt(np.var(g, ddof=1) + 0.15 * np.mean(g) ** 2)
    got = silog_depth_loss(pred, target, form='adabins')
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_silog_variance_focus_and_scale_are_used():
    pred, target = _pair()
    m = (target > 0).numpy()
    g = np.log(pred.numpy()[m]) - np.log(target.numpy()[m])
    expected = 3.0 * np.sqrt(np.mean(g ** 2) - 0.5 * np.mean(g) ** 2)
    got = silog_depth_loss(pred, target, variance_focus=0.5, scale=3.0)
    assert float(got) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize('form', ['bts', 'adabins'])
def test_silog_identical_and_empty_inputs_have_finite_grads(form):
    _, target = _pair()
    pred = target.clone().clamp(min=0.5).requires_grad_(True)
    loss = silog_depth_loss(pred, pred.detach(), form=form)
    loss.backward()
    # the radicand is clamped at eps = 1e-8, so the floor is 10 * sqrt(1e-8) = 1e-3
    assert float(loss) <= 1e-3 * (1 + 1e-9) and torch.isfinite(pred.grad).all()
    pred.grad = None
    empty = silog_depth_loss(pred, torch.zeros_like(target), form=form)
    empty.backward()
    assert float(empty) == 0.0 and torch.isfinite(pred.grad).all()


def test_masked_mse_matches_hand_computation_and_ignores_invalid_pixels():
    pred, target = _pair()
    m = (target > 0).numpy()
    expected = np.mean((pred.numpy()[m] - target.numpy()[m]) ** 2)
    loss = MODELS.build(dict(type='MaskedMSELoss', loss_weight=2.0, loss_name='loss_l2'))
    assert loss.loss_name == 'loss_l2'
    assert float(loss(pred, target)) == pytest.approx(2.0 * expected, rel=1e-12)
    pred2 = torch.where(target > 0, pred, torch.full_like(pred, 99.0))
    assert float(masked_mse_loss(pred2, target)) == pytest.approx(expected, rel=1e-12)
    assert float(masked_mse_loss(pred, torch.zeros_like(target))) == 0.0


def test_silog_registered_under_a_distinct_name():
    assert MODELS.get('SILogDepthLoss') is not MODELS.get('SiLogLoss')
    with pytest.raises(ValueError, match='form'):
        MODELS.build(dict(type='SILogDepthLoss', form='eigen'))
