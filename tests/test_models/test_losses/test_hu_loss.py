"""Hu et al.'s loss (Eq. 18): offset convention, independent Sobel check, masks, grads."""
import math

import cv2
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from mmdepth_dgr.models.losses import hu_depth_loss


def _pair(b=1, h=7, w=9):
    target = 1.0 + 3.0 * torch.rand(b, 1, h, w, dtype=torch.float64)
    pred = target + 0.3 * torch.randn_like(target)
    return pred, target


def test_identical_maps_give_zero_or_hu_constant():
    _, target = _pair()
    assert float(hu_depth_loss(target, target)) == pytest.approx(0.0, abs=1e-12)
    assert float(hu_depth_loss(target, target, subtract_offset=False)) == pytest.approx(
        3 * math.log(0.5), rel=1e-12)


def test_hu_loss_matches_independent_opencv_sobel_computation():
    pred, target = _pair()
    p, t = pred[0, 0].numpy(), target[0, 0].numpy()
    f = lambda x: np.log(np.abs(x) + 0.5)  # noqa: E731
    l_depth = f(p - t).mean()
    # cv2's Sobel is the negated Hu kernel; the loss is invariant to that sign.
    dx = lambda d: cv2.Sobel(d, cv2.CV_64F, 1, 0, ksize=3)[1:-1, 1:-1]  # noqa: E731
    dy = lambda d: cv2.Sobel(d, cv2.CV_64F, 0, 1, ksize=3)[1:-1, 1:-1]  # noqa: E731
    l_grad = (f(dx(p) - dx(t)) + f(dy(p) - dy(t))).mean()
    n_p = np.stack([-dx(p), -dy(p), np.ones_like(dx(p))])
    n_t = np.stack([-dx(t), -dy(t), np.ones_like(dx(t))])
    cos = (n_p * n_t).sum(0) / np.linalg.norm(n_p, axis=0) / np.linalg.norm(n_t, axis=0)
    l_normal = (1 - cos).mean()
    expected = 1.0 * l_depth + 0.7 * l_grad + 2.0 * l_normal
    loss = MODELS.build(dict(type='HuDepthLoss', grad_weight=0.7, normal_weight=2.0,
                             subtract_offset=False, loss_name='loss_hu_wacv'))
    assert loss.loss_name == 'loss_hu_wacv'
    assert float(loss(pred, target)) == pytest.approx(expected, rel=1e-10)


def test_gradient_terms_ignore_pixels_near_invalid_ground_truth():
    pred, target = _pair(h=8, w=8)
    target[..., 3, 3] = 0
    loss = hu_depth_loss(pred, target)
    # pred at the invalid pixel only enters Sobel supports that touch it: all masked out
    pred2 = pred.clone()
    pred2[..., 3, 3] = 42.0
    assert float(hu_depth_loss(pred2, target)) == pytest.approx(float(loss), rel=1e-12)


def test_hu_loss_grads_are_finite_for_identical_and_empty_inputs():
    _, target = _pair()
    pred = target.clone().requires_grad_(True)
    hu_depth_loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all()
    pred.grad = None
    empty = hu_depth_loss(pred, torch.zeros_like(target))
    empty.backward()
    assert float(empty) == 0.0 and torch.isfinite(pred.grad).all()
