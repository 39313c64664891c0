"""AdaBins' bin chamfer loss against a brute-force loop."""
import pytest
import torch
from mmseg.registry import MODELS


def test_bins_chamfer_matches_brute_force():
    target = 1.0 + 5.0 * torch.rand(2, 1, 4, 5, dtype=torch.float64)
    target[0, 0, 1] = 0
    centres = 10.0 * torch.rand(2, 6, dtype=torch.float64)
    per_image = []
    for b in range(2):
        ys = [float(v) for v in target[b].flatten() if v > 0]
        cs = [float(c) for c in centres[b]]
        t1 = sum(min((y - c) ** 2 for c in cs) for y in ys) / len(ys)
        t2 = sum(min((y - c) ** 2 for y in ys) for c in cs) / len(cs)
        per_image.append(t1 + t2)
    loss = MODELS.build(dict(type='BinsChamferLoss', loss_weight=1.0))
    assert loss.loss_name == 'loss_bins_chamfer'
    assert float(loss(centres, target)) == pytest.approx(sum(per_image) / 2, rel=1e-12)
    empty = loss(centres, torch.zeros_like(target))
    assert float(empty) == 0.0


def _pairwise_reference(centres, target, mask):
    """The direct (B, N, K) formulation: values and gradients to compare against."""
    depth = target.flatten(1)
    m = mask.flatten(1)
    d2 = (depth[:, :, None] - centres[:, None, :]) ** 2
    n = m.sum(1)
    t1 = torch.where(m, d2.min(2).values, torch.zeros_like(depth)).sum(1) / n.clamp_min(1)
    t2 = torch.where(m[:, :, None], d2, torch.full_like(d2, float('inf'))).min(1).values
    t2 = torch.where(n[:, None] > 0, t2, torch.zeros_like(t2)).mean(1)
    ok = n > 0
    return torch.where(ok, t1 + t2, torch.zeros_like(t1)).sum() / ok.sum().clamp_min(1)


@pytest.mark.parametrize('k', [1, 2, 16])
def test_sorted_search_equals_pairwise_values_and_gradients(k):
    from mmdepth_dgr.models.losses import bins_chamfer_loss
    g = torch.Generator().manual_seed(k)
    target = 0.5 + 9.0 * torch.rand(4, 1, 6, 7, generator=g, dtype=torch.float64)
    mask = torch.rand(4, 1, 6, 7, generator=g) > 0.4
    mask[1] = False                       # no valid pixel: contributes nothing
    mask[2] = False
    mask[2, 0, 3, 4] = True               # exactly one valid pixel
    target[3, 0, 0, :3] = 0.0             # invalid by value (depth 0)
    # centres outside, inside and between the depths, unsorted
    centres = (12.0 * torch.rand(4, k, generator=g, dtype=torch.float64) - 1.0)
    c1 = centres.clone().requires_grad_(True)
    c2 = centres.clone().requires_grad_(True)
    got = bins_chamfer_loss(c1, target, mask)
    want = _pairwise_reference(c2, target, mask & (target > 0))
    assert float(got) == pytest.approx(float(want), rel=1e-12)
    got.backward()
    want.backward()
    torch.testing.assert_close(c1.grad, c2.grad, rtol=1e-10, atol=1e-12)
    assert float(c1.grad[1].abs().sum()) == 0.0


def test_full_size_targets_give_finite_small_loss():
    """4 images at 416x544 with K=256 (the pairwise formulation would need ~0.9 GB for its
    distance tensor alone; this checks values and gradients at that size, not memory)."""
    from mmdepth_dgr.models.losses import bins_chamfer_loss
    g = torch.Generator().manual_seed(0)
    target = 10.0 * torch.rand(4, 1, 416, 544, generator=g)
    centres = torch.linspace(0.1, 10.0, 256)[None].repeat(4, 1).requires_grad_(True)
    loss = bins_chamfer_loss(centres, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(centres.grad).all()
    # uniform depths on [0, 10) against 256 evenly spaced centres: tiny loss
    assert 0 < float(loss) < 1e-3


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -1.0])
def test_non_finite_or_negative_invalid_pixels_keep_gradients_finite(bad):
    from mmdepth_dgr.models.losses import bins_chamfer_loss
    target = 1.0 + 4.0 * torch.rand(2, 1, 4, 5, dtype=torch.float64)
    clean = target.clone()
    clean[0, 0, 1, 2] = 0.0
    target[0, 0, 1, 2] = bad
    c1 = (6.0 * torch.rand(2, 5, dtype=torch.float64)).requires_grad_(True)
    c2 = c1.detach().clone().requires_grad_(True)
    loss, ref = bins_chamfer_loss(c1, target), bins_chamfer_loss(c2, clean)
    loss.backward()
    ref.backward()
    assert float(loss) == pytest.approx(float(ref), rel=1e-12)
    assert torch.isfinite(c1.grad).all()
    torch.testing.assert_close(c1.grad, c2.grad)
