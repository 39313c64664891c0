"""DGRBlock (Eq. 5-10): identity at init, gradients, options, registry, export, the fused
evaluation against a frozen copy of the original implementation, presets, levers and
activation checkpointing."""
import io
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmdepth_dgr.models.layers import (DGR_PRESETS, THIRD_ORDER_OPERATORS, DGRBlock,
                                       dgr_interaction, dgr_merge, pixel_outer_product)
from _frozen_dgr import FrozenDGRBlock

VARIANTS = [
    dict(),
    dict(interaction='hadamard', inter_channels=None),
    dict(interaction='hadamard', inter_channels=6),
    dict(third_order='laplacian_grad_sum', reduction_ratio=4, spatial_kernel_size=5),
    dict(third_order='third_pure', spatial_depthwise=False, padding_mode='reflect'),
    dict(preset='authors'),
    dict(stencil_channels=3),
    dict(spatial_kernel_size=1),
]


@pytest.mark.parametrize('cfg', VARIANTS, ids=str)
def test_dgr_is_identity_at_init(cfg):
    block = DGRBlock(16, **cfg)
    block.init_weights()
    for x in (torch.randn(2, 16, 9, 12),
              torch.randn(2, 16, 9, 12).contiguous(memory_format=torch.channels_last)):
        assert torch.equal(block(x), x)
        with torch.no_grad():
            assert torch.equal(block(x), x)


def test_init_weights_keeps_zero_init_under_a_generic_init_cfg():
    block = DGRBlock(8, init_cfg=dict(type='Normal', layer='Conv2d', std=1.0))
    block.init_weights()
    assert torch.count_nonzero(block.out_conv.weight) == 0
    assert torch.count_nonzero(block.proj_spatial.weight) > 0
    x = torch.randn(1, 8, 6, 7)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS) + ['learnable'])
def test_merged_width_follows_the_third_order_reading(op):
    block = DGRBlock(5, third_order=op)
    m = THIRD_ORDER_OPERATORS[op][0] if op != 'learnable' else 1
    assert block.merged_channels == (2 + m) * 5
    assert block(torch.randn(1, 5, 7, 8)).shape == (1, 5, 7, 8)


def test_block_merge_equals_functional_twin():
    block = DGRBlock(4).double()
    x = torch.randn(2, 4, 8, 9, dtype=torch.float64)
    lap, third = block.derivatives(x)
    torch.testing.assert_close(torch.cat([x, lap, third], 1), dgr_merge(x),
                               rtol=0, atol=1e-13)


def test_pixel_outer_product_against_einsum():
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 4, 5)
    ref = torch.einsum('bphw,bqhw->bpqhw', a, b).reshape(2, 18, 4, 5)
    assert torch.equal(pixel_outer_product(a, b), ref)


def test_hadamard_broadcasts_the_narrow_operand_over_channel_groups():
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 4, 5)
    out = dgr_interaction(a, b, 'hadamard')
    assert torch.equal(out[:, :3], a * b[:, :3]) and torch.equal(out[:, 3:], a * b[:, 3:])
    with pytest.raises(ValueError, match='multiple'):
        dgr_interaction(a, torch.randn(2, 4, 4, 5), 'hadamard')


@pytest.mark.parametrize('cfg', [dict(), dict(interaction='hadamard', inter_channels=None),
                                 dict(interaction='hadamard', inter_channels=6),
                                 dict(preset='authors'), dict(stencil_channels=2)], ids=str)
def test_gradients_reach_every_dgr_parameter_after_one_step(cfg):
    host = nn.Conv2d(3, 16, 3, padding=1)
    block = DGRBlock(16, **cfg)
    block.init_weights()
    opt = torch.optim.SGD(list(host.parameters()) + list(block.parameters()), lr=0.1)
    x, target = torch.randn(2, 3, 10, 10), torch.randn(2, 16, 10, 10)

    loss = (block(host(x)) - target).pow(2).mean()
    loss.backward()
    # First backward: the zero-init last conv gets gradient, and so does the host.
    assert block.out_conv.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in host.parameters())
    opt.step()
    opt.zero_grad()
    (block(host(x)) - target).pow(2).mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_build_through_registry():
    block = MODELS.build(dict(type='DGRBlock', in_channels=6, reduction_ratio=4,
                              inter_channels=4))
    assert isinstance(block, DGRBlock) and block.out_conv.in_channels == 16
    authors = MODELS.build(dict(type='DGRBlock', in_channels=16, preset='authors'))
    assert authors.preset == 'authors' and authors.reading == DGR_PRESETS['authors']


@pytest.mark.parametrize('bad,match', [
    (dict(interaction='kron'), 'interaction'),
    (dict(inter_channels=None), 'inter_channels'),
    (dict(third_order='nabla3'), 'third_order'),
    (dict(laplacian='9-point'), 'laplacian'),
    (dict(padding_mode='circular'), 'padding_mode'),
    (dict(spatial_kernel_size=4), 'odd'),
    (dict(preset='paper'), 'preset'),
    (dict(spatial_width='input'), 'spatial_depthwise=False'),
    (dict(stencil_channels=0), 'stencil_channels'),
    (dict(preset='authors', stencil_channels=3), 'multiple of C'),
])
def test_bad_options_raise_naming_the_option(bad, match):
    with pytest.raises(ValueError, match=match):
        DGRBlock(4, **bad)


@pytest.mark.parametrize('cfg', [dict(interaction='outer'), dict(interaction='hadamard'),
                                 dict(stencil_channels=2), dict(spatial_kernel_size=1)],
                         ids=str)
def test_the_block_fits_a_toy_edge_task(cfg):
    # Toy task: recover the (scaled) Laplacian of a smooth random field from the field
    # itself, a target the host-free block can only reach through its DGR branch.
    torch.manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.randn(8, 4, 20, 20), 3, 1, 1)
    target = x + 0.5 * dgr_merge(x)[:, 4:8]
    block = DGRBlock(4, inter_channels=4, reduction_ratio=2, **cfg)
    block.init_weights()
    opt = torch.optim.Adam(block.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = (block(x) - target).pow(2).mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_jit_trace_matches_eager():
    block = DGRBlock(6).eval()
    nn.init.normal_(block.out_conv.weight)  # non-trivial output
    x = torch.randn(1, 6, 8, 10)
    traced = torch.jit.trace(block, x)
    x2 = torch.randn(2, 6, 12, 9)
    torch.testing.assert_close(traced(x2), block(x2))


@pytest.mark.parametrize('dynamo', [True, False], ids=['dynamo', 'torchscript'])
def test_onnx_export_runs_and_matches_eager(dynamo):
    """Both exporters of torch.onnx (dynamo, the default since torch 2.9, needs onnxscript;
    the legacy TorchScript one is dynamo=False); numerics checked with onnx's reference
    evaluator (pure numpy, no onnxruntime needed) and onnxruntime when installed."""
    onnx = pytest.importorskip('onnx', reason='torch.onnx.export needs the onnx package')
    if dynamo:
        pytest.importorskip('onnxscript', reason='the dynamo exporter needs onnxscript')
    from onnx.reference import ReferenceEvaluator
    block = DGRBlock(6).eval()
    nn.init.normal_(block.out_conv.weight, std=0.1)
    x = torch.randn(1, 6, 8, 10)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # deprecation / verbose notes of the exporters
        if dynamo:
            model = torch.onnx.export(block, (x, ), dynamo=True, input_names=['feat'],
                                      output_names=['refined'], opset_version=18,
                                      verbose=False).model_proto
        else:
            buf = io.BytesIO()
            torch.onnx.export(block, (x, ), buf, dynamo=False, input_names=['feat'],
                              output_names=['refined'], opset_version=17)
            model = onnx.load_from_string(buf.getvalue())
        expected = block(x)
    onnx.checker.check_model(model)
    assert 'Conv' in {n.op_type for n in model.graph.node}  # the depthwise Eq. 9 conv
    feed = {model.graph.input[0].name: x.numpy()}
    got = ReferenceEvaluator(model).run(None, feed)[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-5)
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(model.SerializeToString())
    got = sess.run(None, feed)[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------- exactness against the frozen original block
FUSABLE = [
    dict(),
    dict(reduction_ratio=4, inter_channels=3),
    dict(interaction='hadamard', inter_channels=6),
    dict(third_order='laplacian_grad_sum', spatial_kernel_size=5),
    dict(third_order='third_pure', padding_mode='reflect'),
    dict(third_order='laplacian_grad_mag', act_cfg=dict(type='LeakyReLU',
                                                         negative_slope=0.2)),
    dict(spatial_kernel_size=1),
]
NOT_FUSABLE = [
    dict(interaction='hadamard', inter_channels=None),
    dict(spatial_depthwise=False),
    dict(act_cfg=dict(type='GELU')),
]
# Options that exist only in the new block (no frozen counterpart): fused vs literal.
NEW_FUSABLE = [
    dict(stencil_channels=3),
    dict(stencil_channels=1, third_order='third_pure_sum'),
    dict(laplacian='8-neighbour', padding_mode='zeros'),
    dict(interaction_operand='recalibrated'),
    dict(interaction_operand='recalibrated', interaction='hadamard', inter_channels=5,
         padding_mode='reflect', stencil_channels=4, spatial_kernel_size=1),
]


def _busy(block: nn.Module, dtype=torch.float64) -> nn.Module:
    """Every parameter random (non-zero last conv, non-zero biases)."""
    block = block.to(dtype)
    torch.manual_seed(1)
    for p in block.parameters():
        nn.init.normal_(p, std=0.1)
    return block


def _pair(cfg, channels=8):
    """(frozen original, new block) with the same state_dict, float64."""
    old = _busy(FrozenDGRBlock(channels, **cfg))
    new = DGRBlock(channels, **cfg).double()
    new.load_state_dict(old.state_dict())  # strict: same keys and shapes
    return old, new


def _layouts(x):
    """NCHW, channels-last, and MiT's (B, N, C) -> (B, C, H, W) view at batch one."""
    b, c, h, w = x.shape
    mit = x[:1].flatten(2).transpose(1, 2).contiguous().transpose(1, 2).reshape(1, c, h, w)
    return [x, x.contiguous(memory_format=torch.channels_last), mit]


def _out_and_grads(fn, block, x, target):
    x = x.detach().clone().requires_grad_(True)
    block.zero_grad()
    out = fn(x)
    (out - target[:x.shape[0]]).pow(2).sum().backward()
    return [out.detach(), x.grad] + [p.grad for p in block.parameters()]


def _assert_all_close(got, ref, tol):
    for g, r in zip(got, ref, strict=True):
        torch.testing.assert_close(g, r, rtol=tol, atol=tol)


@pytest.mark.parametrize('cfg', FUSABLE + NOT_FUSABLE, ids=str)
def test_state_dict_keys_and_shapes_are_unchanged(cfg):
    old, new = FrozenDGRBlock(8, **cfg), DGRBlock(8, **cfg)
    assert {k: v.shape for k, v in old.state_dict().items()} == \
        {k: v.shape for k, v in new.state_dict().items()}


@pytest.mark.parametrize('cfg', FUSABLE, ids=str)
def test_fused_flag_is_set_exactly_when_the_identities_hold(cfg):
    assert DGRBlock(8, **cfg).can_fuse
    for bad in NOT_FUSABLE + [dict(preset='authors')]:
        assert not DGRBlock(8, **bad).can_fuse


@pytest.mark.parametrize('cfg', FUSABLE + NOT_FUSABLE, ids=str)
def test_outputs_and_gradients_equal_the_frozen_block_in_float64(cfg):
    old, new = _pair(cfg)
    x = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    target = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    for inp in _layouts(x):
        ref = _out_and_grads(old, old, inp, target)
        for path in (new, new._forward_literal):
            _assert_all_close(_out_and_grads(path, new, inp, target), ref, 1e-11)
        with torch.no_grad():  # the in-place / no-autograd branch of the fused path
            torch.testing.assert_close(new(inp), ref[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('grad', [False, True], ids=['no_grad', 'grad'])
@pytest.mark.parametrize('cfg', FUSABLE, ids=str)
def test_float32_forward_matches_the_frozen_block_within_1e_5(cfg, grad):
    old, new = _pair(cfg)
    old, new = old.float(), new.float()
    x = torch.randn(2, 8, 9, 13)
    with torch.set_grad_enabled(grad):
        ref = old(x)
        for inp in _layouts(x):
            torch.testing.assert_close(new(inp), ref[:inp.shape[0]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('cfg', NEW_FUSABLE, ids=str)
def test_fused_equals_literal_for_the_new_options_in_float64(cfg):
    block = _busy(DGRBlock(8, **cfg))
    assert block.can_fuse
    x = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    target = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    for inp in _layouts(x):
        ref = _out_and_grads(block._forward_literal, block, inp, target)
        _assert_all_close(_out_and_grads(block._forward_fused, block, inp, target), ref,
                          1e-11)
        with torch.no_grad():
            torch.testing.assert_close(block(inp), ref[0], rtol=1e-12, atol=1e-12)


def test_fused_false_forces_the_literal_evaluation():
    block = _busy(DGRBlock(8, fused=False))
    x = torch.randn(1, 8, 6, 7, dtype=torch.float64)
    assert block.can_fuse and torch.equal(block(x), block._forward_literal(x))


def test_fused_output_keeps_the_memory_format_and_identity_at_init():
    block = DGRBlock(8)
    block.init_weights()
    x = torch.randn(2, 8, 9, 12)
    xcl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out, out_cl = block(x), block(xcl)
    assert out.is_contiguous() and torch.equal(out, x)
    assert out_cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(out_cl, x)
    block = _busy(DGRBlock(8), torch.float32)
    with torch.no_grad():
        assert block(x).is_contiguous()
        assert block(xcl).is_contiguous(memory_format=torch.channels_last)


def test_fused_block_keeps_the_exact_strides_of_its_input_at_batch_one():
    # MiT hands stages on as a (B, N, C) -> (B, C, H, W) view: channels-last, with a
    # batch stride of C at B = 1. The next conv's rounding depends on those strides, so
    # the block must return them unchanged for bit-identical hosts at initialisation.
    block = DGRBlock(8).eval()
    x = torch.randn(1, 6 * 5, 8).transpose(1, 2).reshape(1, 8, 6, 5)
    assert x.stride() == (8, 1, 40, 8)
    with torch.no_grad():
        out = block(x)
    assert out.stride() == x.stride() and torch.equal(out, x)
    x.requires_grad_(True)
    out = block(x)
    assert out.stride() == x.stride()
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


# --------------------------------------------------------------- activation checkpointing
@pytest.mark.parametrize('cfg', [dict(), dict(fused=False), dict(preset='authors'),
                                 dict(stencil_channels=3)], ids=str)
def test_checkpointing_gives_identical_outputs_and_gradients(cfg):
    torch.manual_seed(0)
    plain = _busy(DGRBlock(16, **cfg), torch.float32).train()
    ckpt = DGRBlock(16, with_cp=True, **cfg).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 16, 9, 10).contiguous(memory_format=torch.channels_last)
    target = torch.randn(2, 16, 9, 10)
    got = _out_and_grads(ckpt, ckpt, x, target)
    ref = _out_and_grads(plain, plain, x, target)
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)


def test_checkpointing_stores_fewer_tensors_for_backward():
    counts = []
    x = torch.randn(2, 16, 12, 12, requires_grad=True)
    for with_cp in (False, True):
        block = DGRBlock(16, with_cp=with_cp).train()
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t,
                                                      lambda t: t):
            block(x).sum()
        counts.append(sum(t.numel() for t in saved))
    assert counts[1] < counts[0] / 4


def test_checkpointing_is_off_in_eval_mode():
    block = DGRBlock(8, with_cp=True).eval()
    x = torch.randn(1, 8, 6, 6, requires_grad=True)
    out = block(x)
    assert 'Checkpoint' not in type(out.grad_fn).__name__ and out.grad_fn is not None


# ------------------------------------------------------------------------------ presets
def _authors_reading(x, blk):
    """The authors' released DGR.py, written out with plain torch ops on ``blk``'s
    parameters, with the three documented shape fixes and the added zero-init residual:
    8-neighbour Laplacian (zero padding, depthwise), learnable depthwise 3x3 (zero
    padding, no bias), SE with reduction 2 on the 3C pooled map, dense 3x3 conv 3C -> C
    on ReLU(F_merged * w), F_spatial broadcast over the three C-channel groups times
    F_merged * w, 1x1 conv 3C -> C, plus x."""
    c = x.shape[1]
    lap_k = torch.tensor([[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]],
                         dtype=x.dtype).expand(c, 1, 3, 3)
    nabla2 = F.conv2d(x, lap_k, padding=1, groups=c)
    nabla3 = F.conv2d(x, blk.third_conv.weight, padding=1, groups=c)
    merged = torch.cat([x, nabla2, nabla3], dim=1)
    se = blk.channel_attention
    gap = merged.mean((2, 3))
    hidden = F.relu(gap @ se.conv1.conv.weight.flatten(1).t() + se.conv1.conv.bias)
    wc = torch.sigmoid(hidden @ se.conv2.conv.weight.flatten(1).t() + se.conv2.conv.bias)
    recal = merged * wc[:, :, None, None]
    f_spatial = F.conv2d(F.relu(recal), blk.spatial_conv.conv.weight,
                         blk.spatial_conv.conv.bias, padding=1)
    interaction = torch.cat([f_spatial] * 3, dim=1) * recal
    return x + F.conv2d(interaction, blk.out_conv.weight, blk.out_conv.bias)


def test_authors_preset_equals_a_direct_implementation_of_the_release():
    blk = _busy(DGRBlock(16, preset='authors'))
    # shapes of the release after the fixes: SE 48 -> 24 -> 48, dense 3x3 48 -> 16,
    # learnable 3x3 depthwise without bias, 1x1 48 -> 16
    assert blk.channel_attention.conv1.conv.weight.shape == (24, 48, 1, 1)
    assert blk.spatial_conv.conv.weight.shape == (16, 48, 3, 3)
    assert blk.third_conv.weight.shape == (16, 1, 3, 3) and blk.third_conv.bias is None
    assert blk.out_conv.weight.shape == (16, 48, 1, 1)
    assert not blk.can_fuse
    x = torch.randn(2, 16, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(blk(x), _authors_reading(x, blk), rtol=1e-12, atol=1e-12)


def test_authors_preset_is_identity_at_init_and_its_laplacian_is_fixed():
    blk = DGRBlock(16, preset='authors')
    blk.init_weights()
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(blk(x), x)
    names = {n for n, _ in blk.named_parameters()}
    assert 'third_conv.weight' in names and not any('lap' in n for n in names)


def test_explicit_arguments_override_the_preset():
    blk = DGRBlock(16, preset='authors', padding_mode='replicate', reduction_ratio=3)
    assert blk.reading == dict(DGR_PRESETS['authors'], padding_mode='replicate',
                               reduction_ratio=3)
    assert blk.third_conv.padding_mode == 'replicate'
    assert blk.channel_attention.conv1.conv.out_channels == 48 // 3
    # explicitly passing the default reading's value is an override too
    assert DGRBlock(16, preset='authors', third_order='laplacian_grad').merged_channels == 64


def test_default_preset_equals_the_documented_defaults():
    assert DGRBlock(8).reading == DGR_PRESETS['default']
    assert DGRBlock(8, preset='default').state_dict().keys() == \
        FrozenDGRBlock(8).state_dict().keys()


# ------------------------------------------------------------------------------- levers
def test_stencil_channels_project_before_the_stencils():
    blk = _busy(DGRBlock(8, stencil_channels=2))
    assert blk.merged_channels == 8 + 2 * 3 and blk.stencil_proj.weight.shape == (2, 8, 1, 1)
    x = torch.randn(1, 8, 6, 7, dtype=torch.float64)
    p = F.conv2d(x, blk.stencil_proj.weight)  # F -> r = 2 channels, no bias
    merged = torch.cat([x, dgr_merge(p)[:, 2:]], 1)  # Concat(F, ∇²PF, ∇³PF)
    a = blk.proj_spatial(blk.spatial_conv(blk.channel_attention(merged)))
    expected = x + blk.out_conv(pixel_outer_product(a, blk.proj_merged(merged)))
    torch.testing.assert_close(blk(x), expected, rtol=1e-12, atol=1e-12)


def test_spatial_kernel_size_one_has_no_spatial_extent():
    blk = _busy(DGRBlock(8, spatial_kernel_size=1))
    x = torch.randn(1, 8, 6, 7, dtype=torch.float64)
    assert blk.spatial_conv.conv.weight.shape == (32, 1, 1, 1)
    torch.testing.assert_close(blk(x), blk._forward_literal(x), rtol=1e-12, atol=1e-12)
