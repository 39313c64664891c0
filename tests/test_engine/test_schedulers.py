"""The recipe schedulers against the hosts' formulas and torch's OneCycleLR."""
import pytest
import torch

from mmdepth_dgr.engine.schedulers import OneCycleMomentum, OneCycleOptimLR, PolyRatioLR


def _params():
    return [torch.nn.Parameter(torch.zeros(2))]


def _official_poly(lr, step, total, end_ratio=0.1, power=0.9):
    """NeWCRFs/PixelFormer train.py: (lr - end) * (1 - step / total) ** 0.9 + end."""
    end = end_ratio * lr
    return (lr - end) * (1 - step / total)**power + end


@pytest.mark.parametrize('lr', [4e-5, 2e-5])
def test_poly_ratio_lr_equals_the_hosts_formula_at_every_step(lr):
    total = 57
    opt = torch.optim.Adam(_params(), lr=lr)
    sched = PolyRatioLR(opt, eta_min_ratio=0.1, power=0.9, begin=0, end=total + 1,
                        by_epoch=False)
    for step in range(total):
        assert opt.param_groups[0]['lr'] == pytest.approx(
            _official_poly(lr, step, total), rel=1e-12, abs=0)
        opt.step()
        sched.step()


def test_poly_ratio_lr_floor_follows_each_groups_initial_lr():
    opt = torch.optim.SGD([{'params': _params(), 'lr': 1.0},
                           {'params': _params(), 'lr': 3.0}], lr=1.0)
    sched = PolyRatioLR(opt, eta_min_ratio=0.25, power=1.0, begin=0, end=11,
                        by_epoch=False)
    for _ in range(10):
        opt.step()
        sched.step()
    assert [g['lr'] for g in opt.param_groups] == pytest.approx([0.25, 0.75], rel=1e-12)


@pytest.mark.parametrize('total', [37, 100])
def test_one_cycle_lr_and_momentum_equal_torch_one_cycle_on_adamw(total):
    max_lr = 3.57e-4
    ref_opt = torch.optim.AdamW(_params(), lr=max_lr, weight_decay=0.1)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        ref_opt, max_lr, total_steps=total, cycle_momentum=True, base_momentum=0.85,
        max_momentum=0.95, div_factor=25, final_div_factor=100)
    opt = torch.optim.AdamW(_params(), lr=max_lr, weight_decay=0.1)
    lr_s = OneCycleOptimLR(opt, total_steps=total, div_factor=25, final_div_factor=100,
                           begin=0, end=total, by_epoch=False)
    mom_s = OneCycleMomentum(opt, base_momentum=0.85, max_momentum=0.95,
                             total_steps=total, begin=0, end=total, by_epoch=False)
    for step in range(total):
        want, got = ref_opt.param_groups[0], opt.param_groups[0]
        assert got['lr'] == pytest.approx(want['lr'], rel=1e-12), step
        assert got['betas'] == pytest.approx(want['betas'], rel=1e-12), step
        for o in (ref_opt, opt):
            o.step()
        ref.step()
        lr_s.step()
        mom_s.step()


def test_one_cycle_optim_lr_peaks_at_each_groups_lr():
    opt = torch.optim.AdamW([{'params': _params(), 'lr': 1e-3},
                             {'params': _params(), 'lr': 2e-3}])
    OneCycleOptimLR(opt, total_steps=10, begin=0, end=10, by_epoch=False)
    assert [g['max_lr'] for g in opt.param_groups] == [1e-3, 2e-3]
    assert opt.param_groups[0]['lr'] == pytest.approx(1e-3 / 25)


def test_one_cycle_momentum_rejects_bad_arguments():
    opt = torch.optim.AdamW(_params())
    with pytest.raises(ValueError, match='base_momentum'):
        OneCycleMomentum(opt, base_momentum=0.95, max_momentum=0.85, total_steps=5)
    with pytest.raises(ValueError, match='total_steps'):
        OneCycleMomentum(opt, total_steps=0)
