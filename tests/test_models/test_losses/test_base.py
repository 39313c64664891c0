"""BaseDepthLoss: name, weight, mask, mmseg's reduction interface, and the twin plumbing."""
import pytest
import torch
from mmseg.models.losses.utils import weight_reduce_loss
from mmseg.registry import MODELS

from mmdepth_dgr.models.losses import (BaseDepthLoss, BinsChamferLoss, HuDepthLoss, MaskedMSELoss,
                                       OTDLoss, SILogDepthLoss, bins_chamfer_loss, depth_loss,
                                       hu_depth_loss, masked_mse_loss, otdl_loss, reduce_depth_loss,
                                       silog_depth_loss)

F64 = torch.float64
LOSSES = [(MaskedMSELoss, masked_mse_loss, 'loss_mse'),
          (SILogDepthLoss, silog_depth_loss, 'loss_silog'),
          (HuDepthLoss, hu_depth_loss, 'loss_hu'),
          (OTDLoss, otdl_loss, 'loss_otdl'),
          (BinsChamferLoss, bins_chamfer_loss, 'loss_bins_chamfer')]


def _pair(b=2, h=6, w=7):
    target = 1.0 + 4.0 * torch.rand(b, 1, h, w, dtype=F64)
    target[0, 0, 0, :3] = 0                       # invalid
    pred = target * torch.exp(0.2 * torch.randn_like(target)) + 0.05
    return pred, target


def _inputs(cls, b=2):
    pred, target = _pair(b)
    if cls is BinsChamferLoss:
        pred = 6.0 * torch.rand(b, 8, dtype=F64)
    return pred, target


@pytest.mark.parametrize('cls,fn,name', LOSSES)
def test_module_default_call_is_its_weighted_functional_twin_bit_for_bit(cls, fn, name):
    pred, target = _inputs(cls)
    extra = torch.rand_like(target) > 0.3
    loss = MODELS.build(dict(type=cls.__name__, loss_weight=0.7))
    assert loss.loss_name == name and loss.reduction == 'mean'
    assert torch.equal(loss(pred, target, valid_mask=extra), 0.7 * fn(pred, target, extra))


@pytest.mark.parametrize('cls,fn,name', LOSSES)
def test_options_and_defaults_are_the_functional_twins(cls, fn, name):
    import inspect
    loss = cls()
    params = inspect.signature(fn).parameters
    assert set(loss.options) == set(cls.option_defaults())
    for key, value in loss.options.items():
        assert value == params[key].default and getattr(loss, key) == value
    for key in ('weight', 'reduction', 'avg_factor'):
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize('cls,fn,name', LOSSES)
def test_loss_name_must_start_with_loss_and_reduction_must_be_known(cls, fn, name):
    with pytest.raises(ValueError, match=f'{cls.__name__}: loss_name must start'):
        cls(loss_name='otdl')
    with pytest.raises(ValueError, match=f'{cls.__name__}: reduction must be one of'):
        cls(reduction='avg')
    pred, target = _inputs(cls)
    with pytest.raises(ValueError, match=f'{fn.__name__}: reduction must be one of'):
        cls()(pred, target, reduction_override='avg')


def test_per_pixel_reductions_follow_mmseg_except_the_masked_mean():
    pred, target = _pair()
    valid = target > 0
    loss = MaskedMSELoss(reduction='none')
    terms = loss(pred, target)
    want = torch.where(valid, (pred - target) ** 2, torch.zeros_like(pred))
    torch.testing.assert_close(terms, want, rtol=0, atol=0)
    # 'mean' averages over valid pixels only (mmseg's 'mean' would divide by numel)
    torch.testing.assert_close(loss(pred, target, reduction_override='mean'),
                               want.sum() / valid.sum())
    torch.testing.assert_close(loss(pred, target, reduction_override='sum'), want.sum())
    weight = torch.rand(2, 1, 1, 1, dtype=F64)             # per-image, broadcast to pixels
    torch.testing.assert_close(loss(pred, target, weight=weight, reduction_override='mean'),
                               (want * weight).sum() / valid.sum())
    for reduction in ('sum', 'none'):
        torch.testing.assert_close(
            loss(pred, target, weight=weight, reduction_override=reduction),
            weight_reduce_loss(want, weight.expand_as(want), reduction))
    torch.testing.assert_close(
        loss(pred, target, weight=weight, avg_factor=5.0, reduction_override='mean'),
        (want * weight).sum() / (5.0 + torch.finfo(torch.float32).eps))


@pytest.mark.parametrize('cls', [SILogDepthLoss, HuDepthLoss])
def test_batch_pooled_losses_have_one_term_and_take_a_scalar_weight(cls):
    pred, target = _pair()
    loss = cls()
    value = loss(pred, target)
    assert loss(pred, target, reduction_override='none').shape == ()
    assert torch.equal(loss(pred, target, reduction_override='sum'), value)
    torch.testing.assert_close(loss(pred, target, weight=torch.tensor(3.0, dtype=F64)),
                               3.0 * value)
    with pytest.raises(ValueError, match='weight of shape .* must be broadcastable'):
        loss(pred, target, weight=torch.ones_like(pred))


def test_bins_chamfer_rejects_a_depth_map_pointing_to_loss_bins():
    pred, target = _pair()
    with pytest.raises(ValueError, match='loss_bins'):
        BinsChamferLoss()(pred, target)
    # (B, K, 1, 1) bin centres are accepted as (B, K)
    centres = 6.0 * torch.rand(2, 8, dtype=F64)
    assert torch.equal(BinsChamferLoss()(centres[:, :, None, None], target),
                       BinsChamferLoss()(centres, target))


def test_unknown_option_is_a_type_error_listing_the_options():
    with pytest.raises(TypeError, match=r"SILogDepthLoss: unknown option\(s\) \['focus'\]"):
        SILogDepthLoss(focus=0.5)


def test_reduce_depth_loss_counts_only_the_counted_terms():
    terms = torch.tensor([2.0, 0.0, 4.0])
    counted = torch.tensor([True, False, True])
    assert float(reduce_depth_loss(terms, counted)) == 3.0
    assert float(reduce_depth_loss(torch.zeros(3), torch.zeros(3, dtype=torch.bool))) == 0.0


class _MaskedL1Loss(BaseDepthLoss):
    """The README's worked example: a masked L1 loss in a few lines."""

    @staticmethod
    def loss_fn(pred, target, valid_mask=None, *, weight=None, reduction='mean',
                avg_factor=None):
        def terms(p, t, mask):
            return torch.where(mask, (p - t).abs(), torch.zeros_like(p)), mask

        return depth_loss(terms, pred, target, valid_mask, where='masked_l1_loss',
                          weight=weight, reduction=reduction, avg_factor=avg_factor)

    default_loss_name = 'loss_l1'


def test_a_new_loss_is_its_math_plus_a_few_lines():
    pred, target = _pair()
    extra = torch.rand_like(target) > 0.3
    valid = (target > 0) & extra
    loss = _MaskedL1Loss(loss_weight=2.0)
    assert loss.loss_name == 'loss_l1' and loss.options == {}
    want = 2.0 * (pred - target).abs()[valid].mean()
    torch.testing.assert_close(loss(pred, target, valid_mask=extra), want)
    with pytest.raises(ValueError, match='masked_l1_loss: pred must be'):
        loss(pred[:, 0], target)


def test_a_subclass_without_a_functional_twin_is_refused():
    class _NoTwin(BaseDepthLoss):
        pass

    with pytest.raises(TypeError, match='_NoTwin: a BaseDepthLoss subclass must set loss_fn'):
        _NoTwin()
