"""Fixed derivative stencils (Eq. 5/6): exactness on polynomials, borders, buffers."""
import pytest
import torch
import torch.nn.functional as F

from mmdepth_dgr.models.layers.derivatives import (LAPLACIAN_STENCILS, THIRD_ORDER_OPERATORS,
                                                   FixedDerivatives, _pad, laplacian,
                                                   laplacian_kernel, stencil_taps, third_order,
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


@pytest.mark.parametrize('stencil', sorted(LAPLACIAN_STENCILS))
@pytest.mark.parametrize('padding_mode', ['replicate', 'reflect'])
@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS))
def test_constant_image_gives_exact_zero_everywhere_including_borders(op, padding_mode,
                                                                       stencil):
    for dtype in (torch.float32, torch.float64):
        img = torch.full((2, 3, 9, 10), 3.7, dtype=dtype)
        mod = FixedDerivatives(3, op, padding_mode, laplacian=stencil)
        for inp in (img, img.contiguous(memory_format=torch.channels_last)):
            lap, third = mod(inp)
            assert torch.count_nonzero(lap) == 0
            assert torch.count_nonzero(third) == 0


def test_zero_padding_lights_up_only_the_border_of_a_constant_image():
    lap, third = FixedDerivatives(1, 'third_pure', 'zeros')(torch.full((1, 1, 9, 10), 2.0))
    assert torch.count_nonzero(lap[..., 1:-1, 1:-1]) == 0
    assert torch.count_nonzero(lap[..., 0, :]) == 10  # the 1 px ring is not zero
    assert torch.count_nonzero(third[..., 2:-2, 2:-2]) == 0
    assert torch.count_nonzero(third[..., 0, :]) > 0


@pytest.mark.parametrize('stencil', sorted(LAPLACIAN_STENCILS))
@pytest.mark.parametrize('padding_mode', ['replicate', 'reflect', 'zeros'])
@pytest.mark.parametrize('op', sorted(THIRD_ORDER_OPERATORS) + [None])
def test_shifted_slice_evaluation_equals_the_depthwise_convolutions(op, padding_mode,
                                                                     stencil):
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    mod = FixedDerivatives(3, op, padding_mode, laplacian=stencil)
    ref_lap = laplacian(x, padding_mode, stencil)
    ref_third = (None if op is None else
                 third_order(x, op, padding_mode, laplacian_stencil=stencil))
    for inp in (x, x.contiguous(memory_format=torch.channels_last)):
        lap, third = mod(inp)
        torch.testing.assert_close(lap, ref_lap, rtol=0, atol=1e-13)
        if op is None:
            assert third is None and mod.out_channels == [3]
        else:
            torch.testing.assert_close(third, ref_third, rtol=0, atol=1e-13)
            assert mod.out_channels == [3, third.shape[1]]
        assert lap.is_contiguous(memory_format=torch.channels_last) == \
            inp.is_contiguous(memory_format=torch.channels_last)


def test_eight_neighbour_stencil_is_minus_three_laplacians_on_cubics():
    # sum of the 8 neighbours - 8 f = 3 (f_xx + f_yy) on polynomials of degree <= 3
    # (Taylor: the 4 edge neighbours give the 5-point sum, the 4 corners 2 (f_xx + f_yy)).
    x, y = _grid()
    f = 3 * x**3 - x * y**2 + 2 * y + 1
    lap = 18 * x - 2 * x
    out = laplacian(f[None, None], stencil='8-neighbour')[0, 0, 1:-1, 1:-1]
    assert torch.equal(out, -3 * lap[1:-1, 1:-1])
    assert torch.equal(laplacian_kernel('8-neighbour').sum(), torch.tensor(0.,
                                                                          dtype=torch.float64))


def test_stencil_taps_group_equal_weights_and_pair_opposite_ones():
    taps = stencil_taps(laplacian_kernel())
    assert taps == ((1.0, ((0, 1), (1, 0), (1, 2), (2, 1)), ()), (-4.0, ((1, 1), ), ()))
    dx = torch.tensor([[0., 0., 0.], [-0.5, 0., 0.5], [0., 0., 0.]])
    assert stencil_taps(dx) == ((0.5, ((1, 2), ), ((1, 0), )), )


@pytest.mark.parametrize('r', [1, 2])
@pytest.mark.parametrize('padding_mode', ['replicate', 'reflect', 'zeros'])
def test_channels_last_padding_equals_f_pad_and_stays_channels_last(padding_mode, r):
    x = torch.randn(2, 3, 5, 7).contiguous(memory_format=torch.channels_last)
    mode = dict(mode=padding_mode) if padding_mode != 'zeros' else {}
    ref = F.pad(x.contiguous(), (r, r, r, r), **mode)
    out = _pad(x, r, padding_mode)
    assert torch.equal(out, ref) and out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('r', [1, 2])
@pytest.mark.parametrize('padding_mode', ['replicate', 'reflect'])
def test_channels_last_padding_gradient_equals_f_pad_and_traced_slices(padding_mode, r):
    # eager channels-last padding gathers pixels; its backward must sum the border
    # gradients like F.pad's, and a traced graph (slice path) must run at other sizes
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    g = torch.randn(2, 3, 5 + 2 * r, 7 + 2 * r, dtype=torch.float64)
    (_pad(x, r, padding_mode) * g).sum().backward()
    x_ref = x.detach().contiguous().requires_grad_()
    (F.pad(x_ref, (r, r, r, r), mode=padding_mode) * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-12)
    traced = torch.jit.trace(lambda t: _pad(t, r, padding_mode), x.detach())
    x2 = torch.randn(1, 2, 6, 4, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last)
    assert torch.equal(traced(x2), F.pad(x2.contiguous(), (r, r, r, r), mode=padding_mode))


def test_derivatives_hold_no_parameters_and_no_state():
    mod = FixedDerivatives(4)
    assert list(mod.parameters()) == [] and list(mod.buffers()) == []
    assert mod.state_dict() == {}


def test_linear_ramp_has_zero_laplacian_away_from_the_side_borders():
    x, _ = _grid()
    lap = laplacian(x[None, None])
    assert torch.count_nonzero(lap[..., 1:-1]) == 0


def test_bad_names_raise_with_the_file_and_options():
    with pytest.raises(ValueError, match='derivatives.py.*laplacian_grad'):
        third_order_kernels('nabla3')
    with pytest.raises(ValueError, match='padding_mode'):
        FixedDerivatives(2, padding_mode='circular')
    with pytest.raises(ValueError, match='Laplacian stencil'):
        FixedDerivatives(2, laplacian='9-point')
