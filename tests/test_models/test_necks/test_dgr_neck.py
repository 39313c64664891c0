"""DGRNeck: registry build, level selection, identity at init, errors."""
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

IN_CHANNELS = [4, 8, 12]


def _inputs():
    return tuple(torch.randn(2, c, 16 // 2**i, 20 // 2**i) for i, c in enumerate(IN_CHANNELS))


def test_build_through_registry_and_identity_at_init():
    neck = MODELS.build(dict(type='DGRNeck', in_channels=IN_CHANNELS,
                             dgr=dict(reduction_ratio=4, inter_channels=4)))
    neck.init_weights()
    assert neck.out_channels == IN_CHANNELS and sorted(neck.dgr) == ['0', '1', '2']
    inputs = _inputs()
    outs = neck(inputs)
    assert isinstance(outs, tuple) and len(outs) == 3
    assert all(torch.equal(o, i) for o, i in zip(outs, inputs))


def test_only_selected_levels_are_refined():
    neck = MODELS.build(dict(type='DGRNeck', in_channels=IN_CHANNELS, levels=[1],
                             dgr=dict(reduction_ratio=4, inter_channels=4)))
    nn.init.normal_(neck.dgr['1'].out_conv.weight)
    inputs = list(_inputs())  # a list works too
    outs = neck(inputs)
    assert outs[0] is inputs[0] and outs[2] is inputs[2]
    assert outs[1].shape == inputs[1].shape and not torch.equal(outs[1], inputs[1])


def test_gradient_reaches_the_last_conv_and_the_inputs():
    neck = MODELS.build(dict(type='DGRNeck', in_channels=IN_CHANNELS))
    neck.init_weights()
    inputs = tuple(t.requires_grad_() for t in _inputs())
    sum(o.square().mean() for o in neck(inputs)).backward()
    assert all(neck.dgr[k].out_conv.weight.grad.abs().sum() > 0 for k in neck.dgr)
    assert all(t.grad.abs().sum() > 0 for t in inputs)


def test_bad_inputs_raise_with_the_file_name():
    neck = MODELS.build(dict(type='DGRNeck', in_channels=IN_CHANNELS))
    with pytest.raises(ValueError, match='dgr_neck.py.*3 levels'):
        neck(_inputs()[:2])
    with pytest.raises(ValueError, match='channels'):
        neck((torch.randn(1, 5, 8, 8),) + _inputs()[1:])
    with pytest.raises(ValueError, match='out of range'):
        MODELS.build(dict(type='DGRNeck', in_channels=IN_CHANNELS, levels=[3]))


@pytest.mark.parametrize('dgr', [dict(preset='authors'), dict(with_cp=True),
                                 dict(stencil_channels=2, spatial_kernel_size=1),
                                 dict(preset='authors', padding_mode='replicate',
                                      with_cp=True),
                                 dict(fused=False, interaction_operand='recalibrated')],
                         ids=str)
def test_every_block_option_builds_trains_and_starts_as_identity(dgr):
    neck = MODELS.build(dict(type='DGRNeck', in_channels=[16, 32], dgr=dgr)).train()
    neck.init_weights()
    for blk in neck.dgr.values():  # the options reached every block
        assert blk.preset == dgr.get('preset', 'default')
        assert blk.with_cp == dgr.get('with_cp', False)
        assert all(blk.reading[k] == dgr[k] for k in set(dgr) & set(blk.reading))
    inputs = tuple(torch.randn(2, c, 8 // (i + 1), 10 // (i + 1), requires_grad=True)
                   for i, c in enumerate([16, 32]))
    outs = neck(inputs)
    assert all(torch.equal(o, i) for o, i in zip(outs, inputs))
    sum(o.square().mean() for o in outs).backward()
    assert all(neck.dgr[k].out_conv.weight.grad.abs().sum() > 0 for k in neck.dgr)
