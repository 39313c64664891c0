"""DGRBlock (Eq. 5-10): identity at init, gradients, options, registry, export, and the
fused evaluation against a frozen copy of the original (literal) implementation."""
import io
import warnings

import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmdepth_dgr.models.layers import (THIRD_ORDER_OPERATORS, DGRBlock, dgr_merge,
                                       pixel_outer_product)
from mmdepth_dgr.models.layers.derivatives import depthwise_fixed_conv

VARIANTS = [
    dict(),
    dict(interaction='hadamard', inter_channels=None),
    dict(interaction='hadamard', inter_channels=6),
    dict(third_order='laplacian_grad_sum', reduction_ratio=4, spatial_kernel_size=5),
    dict(third_order='third_pure', spatial_depthwise=False, padding_mode='reflect'),
]


@pytest.mark.parametrize('cfg', VARIANTS)
def test_dgr_is_identity_at_init(cfg):
    block = DGRBlock(8, **cfg)
    block.init_weights()
    x = torch.randn(2, 8, 9, 12)
    assert torch.equal(block(x), x)


def test_init_weights_keeps_zero_init_under_a_generic_init_cfg():
    block = DGRBlock(8, init_cfg=dict(type='Normal', layer='Conv2d', std=1.0))
    block.init_weights()
    assert torch.count_nonzero(block.out_conv.weight) == 0
    assert torch.count_nonzero(block.proj_spatial.weight) > 0
    x = torch.randn(1, 8, 6, 7)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS))
def test_merged_width_follows_the_third_order_reading(op):
    block = DGRBlock(5, third_order=op)
    m = THIRD_ORDER_OPERATORS[op][0]
    assert block.merged_channels == (2 + m) * 5
    assert block(torch.randn(1, 5, 7, 8)).shape == (1, 5, 7, 8)


def test_block_merge_equals_functional_twin():
    block = DGRBlock(4).double()
    x = torch.randn(2, 4, 8, 9, dtype=torch.float64)
    lap, third = block.derivatives(x)
    assert torch.equal(torch.cat([x, lap, third], 1), dgr_merge(x))


def test_pixel_outer_product_against_einsum():
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 6, 4, 5)
    ref = torch.einsum('bphw,bqhw->bpqhw', a, b).reshape(2, 18, 4, 5)
    assert torch.equal(pixel_outer_product(a, b), ref)


@pytest.mark.parametrize('cfg', VARIANTS[:3])
def test_gradients_reach_every_dgr_parameter_after_one_step(cfg):
    host = nn.Conv2d(3, 8, 3, padding=1)
    block = DGRBlock(8, **cfg)
    block.init_weights()
    opt = torch.optim.SGD(list(host.parameters()) + list(block.parameters()), lr=0.1)
    x, target = torch.randn(2, 3, 10, 10), torch.randn(2, 8, 10, 10)

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


@pytest.mark.parametrize('bad,match', [
    (dict(interaction='kron'), 'interaction'),
    (dict(inter_channels=None), 'inter_channels'),
    (dict(third_order='nabla3'), 'third_order'),
    (dict(spatial_kernel_size=4), 'odd'),
])
def test_bad_options_raise_naming_the_option(bad, match):
    with pytest.raises(ValueError, match=match):
        DGRBlock(4, **bad)


@pytest.mark.parametrize('interaction', ['outer', 'hadamard'])
def test_both_interactions_fit_a_toy_edge_task(interaction):
    # Toy task: recover the (scaled) Laplacian of a smooth random field from the field
    # itself, a target the host-free block can only reach through its DGR branch.
    torch.manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.randn(8, 4, 20, 20), 3, 1, 1)
    target = x + 0.5 * dgr_merge(x)[:, 4:8]
    block = DGRBlock(4, interaction=interaction, inter_channels=4, reduction_ratio=2)
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
    ops = {n.op_type for n in model.graph.node}
    assert 'Conv' in ops and 'Pad' in ops
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


# ----------------------------------------------------------------- fused evaluation
def _frozen_reference_forward(block: DGRBlock, x: torch.Tensor) -> torch.Tensor:
    """DGRBlock.forward as first written (before the fused path), kept verbatim in
    functional form: every intermediate of Eq. 7-10 materialised, NCHW, the paper's order.
    Uses the block's parameters; do not "optimise" this copy."""
    d = block.derivatives
    lap = depthwise_fixed_conv(x, d.lap_weight, d.padding_mode)
    third = depthwise_fixed_conv(lap, d.third_weight, d.padding_mode)
    if d.third_order == 'laplacian_grad_mag':
        bsz, cm, h, w = third.shape
        third = third.reshape(bsz, cm // 2, 2, h, w)
        third = torch.sqrt((third * third).sum(2) + d.eps * d.eps) - d.eps
    elif not d.third_order.startswith('laplacian_grad'):
        third = depthwise_fixed_conv(x, d.third_weight, d.padding_mode)
    merged = torch.cat([x, lap, third], dim=1)  # Eq. 7
    se = block.channel_attention
    gate = se.conv2(se.conv1(se.global_avgpool(merged)))  # Eq. 8
    spatial = block.spatial_conv(merged * gate)  # Eq. 9: conv(act(.)), order act-conv
    a, b = spatial, merged
    if block.proj_spatial is not None:
        a, b = block.proj_spatial(a), block.proj_merged(b)
    if block.interaction == 'outer':
        prod = (a.unsqueeze(2) * b.unsqueeze(1)).flatten(1, 2)
    else:
        prod = a * b
    return x + block.out_conv(prod)  # Eq. 10


FUSABLE = [
    dict(),
    dict(reduction_ratio=4, inter_channels=3),
    dict(interaction='hadamard', inter_channels=6),
    dict(third_order='laplacian_grad_sum', spatial_kernel_size=5),
    dict(third_order='third_pure', padding_mode='reflect'),
    dict(third_order='laplacian_grad_mag', act_cfg=dict(type='LeakyReLU',
                                                         negative_slope=0.2)),
]
NOT_FUSABLE = [
    dict(interaction='hadamard', inter_channels=None),
    dict(spatial_depthwise=False),
    dict(act_cfg=dict(type='GELU')),
]


def _busy_block(cfg, channels=8, dtype=torch.float32):
    """A block with every parameter random (non-zero last conv, non-zero biases)."""
    block = DGRBlock(channels, **cfg).to(dtype)
    torch.manual_seed(1)
    for p in block.parameters():
        nn.init.normal_(p, std=0.1)
    return block


@pytest.mark.parametrize('cfg', FUSABLE + NOT_FUSABLE, ids=str)
def test_fused_flag_is_set_exactly_when_the_identities_hold(cfg):
    assert DGRBlock(8, **cfg).can_fuse == (cfg in FUSABLE)


@pytest.mark.parametrize('grad', [False, True], ids=['no_grad', 'grad'])
@pytest.mark.parametrize('cfg', FUSABLE + NOT_FUSABLE, ids=str)
def test_forward_matches_the_frozen_reference_within_1e_5(cfg, grad):
    block = _busy_block(cfg)
    x = torch.randn(2, 8, 9, 13)
    with torch.set_grad_enabled(grad):
        ref = _frozen_reference_forward(block, x)
        for inp in (x, x.contiguous(memory_format=torch.channels_last)):
            out = block(inp)
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(block._forward_literal(x), ref)  # the literal path is the original


@pytest.mark.parametrize('cfg', FUSABLE, ids=str)
def test_fused_path_equals_the_reference_in_float64(cfg):
    # Exact identities (gate folded into the projection, act(w·m) = w·act(m)) leave only
    # float64 rounding between the two evaluations.
    block = _busy_block(cfg, dtype=torch.float64)
    x = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    torch.testing.assert_close(block._forward_fused(x), _frozen_reference_forward(block, x),
                               rtol=1e-12, atol=1e-12)


def test_fused_gradients_match_the_reference_in_float64():
    block = _busy_block({}, dtype=torch.float64)
    x = torch.randn(2, 8, 7, 11, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 8, 7, 11, dtype=torch.float64)
    grads = []
    for fwd in (block._forward_fused, lambda t: _frozen_reference_forward(block, t)):
        block.zero_grad()
        x.grad = None
        (fwd(x) - target).pow(2).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in block.parameters()])
    for g_fused, g_ref in zip(*grads):
        torch.testing.assert_close(g_fused, g_ref, rtol=1e-10, atol=1e-10)


def test_fused_output_keeps_the_memory_format_and_identity_at_init():
    block = DGRBlock(8)
    block.init_weights()
    x = torch.randn(2, 8, 9, 12)
    xcl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out, out_cl = block(x), block(xcl)
    assert out.is_contiguous() and torch.equal(out, x)
    assert out_cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(out_cl, x)
    block = _busy_block({})
    with torch.no_grad():
        assert block(x).is_contiguous()
        assert block(xcl).is_contiguous(memory_format=torch.channels_last)


def test_fused_false_forces_the_literal_evaluation():
    block = _busy_block(dict(fused=False))
    x = torch.randn(1, 8, 6, 7)
    assert block.can_fuse and torch.equal(block(x), _frozen_reference_forward(block, x))


def test_fused_block_keeps_the_exact_strides_of_its_input_at_batch_one():
    # MiT hands stages on as a (B, N, C) -> (B, C, H, W) view: channels-last, with a
    # batch stride of C at B = 1. The next conv's rounding depends on those strides, so
    # the block must return them unchanged for bit-identical hosts at initialisation.
    from mmdepth_dgr.models.layers import DGRBlock
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
