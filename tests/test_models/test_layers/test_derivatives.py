"""Fixed derivative stencils (Eq. 5/6): exactness on polynomials, borders, buffers."""
import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.layers.derivatives import (THIRD_ORDER_OPERATORS, FixedDerivatives,
                                                   laplacian, third_order,
                                                   third_order_kernels)

H, W = 11, 13


def _grid():
    y, x = torch.meshgrid(torch.arange(H, dtype=torch.float64) - 3.0,
                          torch.arange(W, dtype=torch.float64) - 5.0, indexing='ij')
    return x, y


# (name, f, f_xx + f_yy, (∂x∇²f, ∂y∇²f), (f_xxx, f_yyy)) — derivatives by hand.
POLYS = [
    ('x^2', lambda x, y: x**2, lambda x, y: 2 + 0 * x, (0., 0.), (0., 0.)),
    ('x^3', lambda x, y: x**3, lambda x, y: 6 * x, (6., 0.), (6., 0.)),
    ('y^3', lambda x, y: y**3, lambda x, y: 6 * y, (0., 6.), (0., 6.)),
    ('x^2 y', lambda x, y: x**2 * y, lambda x, y: 2 * y, (0., 2.), (0., 0.)),
    ('x y^2', lambda x, y: x * y**2, lambda x, y: 2 * x, (2., 0.), (0., 0.)),
    ('x^2 y^2', lambda x, y: x**2 * y**2, lambda x, y: 2 * y**2 + 2 * x**2,
     ('4x', '4y'), (0., 0.)),
    ('3x^3 - x y^2 + 2y + 1', lambda x, y: 3 * x**3 - x * y**2 + 2 * y + 1,
     lambda x, y: 18 * x - 2 * x, (16., 0.), (18., 0.)),
]


def _val(v, x, y):
    if isinstance(v, str):
        return 4 * (x if v == '4x' else y)
    return torch.full_like(x, v)


@pytest.mark.parametrize('name,f,lap,grad_lap,pure3', POLYS, ids=[p[0] for p in POLYS])
def test_stencils_are_exact_on_polynomials_in_the_interior(name, f, lap, grad_lap, pure3):
    x, y = _grid()
    img = f(x, y)[None, None].repeat(1, 2, 1, 1)  # 2 channels: depthwise per channel
    inner = (Ellipsis, slice(2, -2), slice(2, -2))
    xi, yi = x[2:-2, 2:-2], y[2:-2, 2:-2]

    assert torch.equal(laplacian(img)[inner][0, 0], lap(x, y)[2:-2, 2:-2])
    gx, gy = _val(grad_lap[0], xi, yi), _val(grad_lap[1], xi, yi)
    px, py = _val(pure3[0], xi, yi), _val(pure3[1], xi, yi)
    expected = {
        'laplacian_grad': torch.stack([gx, gy]),
        'laplacian_grad_sum': (gx + gy)[None],
        'laplacian_grad_mag': (torch.sqrt(gx**2 + gy**2 + 1e-12) - 1e-6)[None],
        'third_pure': torch.stack([px, py]),
        'third_pure_sum': (px + py)[None],
    }
    for op, exp in expected.items():
        out = third_order(img, op)[inner][0]
        m = THIRD_ORDER_OPERATORS[op][0]
        assert out.shape[0] == 2 * m
        for c in range(2):  # both channels identical, maps interleaved per channel
            got = out[c * m:(c + 1) * m]
            if op == 'laplacian_grad_mag':
                torch.testing.assert_close(got, exp, rtol=0, atol=1e-12)
            else:
                assert torch.equal(got, exp), (op, got, exp)


@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS))
def test_two_step_evaluation_matches_the_documented_single_stencil(op):
    img = torch.randn(2, 3, 12, 15, dtype=torch.float64)
    k = third_order_kernels(op)  # (m, 5, 5) composite stencils of the docstring
    ref = F.conv2d(img.reshape(6, 1, 12, 15), k[:, None]).reshape(2, 3 * k.shape[0], 8, 11)
    out = third_order(img, op)[..., 2:-2, 2:-2]
    if op == 'laplacian_grad_mag':
        ref = ref.reshape(2, 3, 2, 8, 11).pow(2).sum(2).add(1e-12).sqrt() - 1e-6
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('padding_mode', ['replicate', 'reflect'])
@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS))
def test_constant_image_gives_exact_zero_everywhere_including_borders(op, padding_mode):
    img = torch.full((2, 3, 9, 10), 3.7)
    mod = FixedDerivatives(3, op, padding_mode)
    lap, third = mod(img)
    assert torch.count_nonzero(lap) == 0
    assert torch.count_nonzero(third) == 0


def test_kernels_are_buffers_not_parameters_and_stay_out_of_checkpoints():
    mod = FixedDerivatives(4)
    assert list(mod.parameters()) == []
    assert {n for n, _ in mod.named_buffers()} == {'lap_weight', 'third_weight'}
    assert mod.state_dict() == {}
    assert mod.lap_weight.shape == (4, 1, 3, 3)


def test_linear_ramp_has_zero_laplacian_away_from_the_side_borders():
    x, _ = _grid()
    lap = laplacian(x[None, None])
    assert torch.count_nonzero(lap[..., 1:-1]) == 0


def test_bad_names_raise_with_the_file_and_options():
    with pytest.raises(ValueError, match='derivatives.py.*laplacian_grad'):
        third_order_kernels('nabla3')
    with pytest.raises(ValueError, match='padding_mode'):
        FixedDerivatives(2, padding_mode='zeros')
