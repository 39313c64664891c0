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
