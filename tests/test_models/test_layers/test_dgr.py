"""DGRBlock (Eq. 5-10): identity at init, gradients, options, registry, export."""
import io

import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmdepth_dgr.models.layers import (THIRD_ORDER_OPERATORS, DGRBlock, dgr_merge,
                                       pixel_outer_product)

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


def test_onnx_export():
    pytest.importorskip('onnx', reason='torch.onnx.export needs the onnx package')
    block = DGRBlock(6).eval()
    nn.init.normal_(block.out_conv.weight)
    buf = io.BytesIO()
    torch.onnx.export(block, (torch.randn(1, 6, 8, 10),), buf, dynamo=False,
                      input_names=['feat'], output_names=['refined'], opset_version=17)
    import onnx
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert 'Conv' in ops and 'Pad' in ops
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(buf.getvalue())
    x = torch.randn(1, 6, 8, 10)
    got = sess.run(None, {'feat': x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), block(x).detach(), rtol=1e-4,
                               atol=1e-5)
