"""Fixed (non-trainable) finite-difference derivative operators, as depthwise convolutions.

These are the ``∇²`` (Eq. 5) and ``∇³`` (Eq. 6) operators of Depth Gradient Refinement
(Yao, Wu, Zhang, "Improving Depth Gradient Continuity in Transformers", BMVC 2024,
Sec. 3.2)::

    ∇²F = L * F                                              (Eq. 5)
    ∇³F = H * F                                              (Eq. 6)

applied to every channel separately (depthwise, ``groups=C``) with kernels stored as
buffers (never Parameters, so optimizers and weight decay never see them).

Conventions
-----------
* ``x`` is the column (width, last) axis and ``y`` the row (height) axis, both increasing
  with the index; the grid spacing is one pixel.
* The stencils below are written as *correlation* weights, exactly as ``F.conv2d`` uses
  them: ``out[i, j] = sum_{a, b} K[a, b] * f[i + a - r, j + b - r]`` (rows ``a``, columns
  ``b``, centre ``r``).
* Borders: the input is padded with ``padding_mode`` ('replicate' by default, or
  'reflect') before a 'valid' convolution. Every stencil sums to zero, so a constant
  image gives exactly zero everywhere, borders included (zero padding would instead make
  a step at the border and light it up). 'reflect' needs ``H, W > r`` (``r`` = 2 for the
  5x5 stencils).

Stencils
--------
``L`` (5-point Laplacian, exact on polynomials of degree <= 3)::

    [[0,  1, 0],
     [1, -4, 1],
     [0,  1, 0]]

``Dx = [-1/2, 0, 1/2]`` (central difference, one row; ``Dy`` is its transpose).

The paper does not give ``H`` (the "corresponding third-order differential operator"),
so several readings are offered, selected by name (``THIRD_ORDER_OPERATORS``):

* ``'laplacian_grad'`` (default of :class:`FixedDerivatives`): the gradient of the
  Laplacian, two maps per channel, ``(∂x∇², ∂y∇²)``. Kernels are the compositions
  ``Dx ∘ L`` (3 rows x 5 columns) and ``Dy ∘ L`` (5 x 3), e.g. ``Dx ∘ L``::

        [[0,    -1/2, 0,  1/2, 0  ],
         [-1/2,  2,   0, -2,   1/2],
         [0,    -1/2, 0,  1/2, 0  ]]

  Exact on polynomials of degree <= 3 (and on ``x²y²``). Evaluated in two steps,
  ``Dx * (L * F)`` (9 + 3 taps), equal to the composite stencil 2+ pixels from the border.
  Linear, and the pair rotates
  as a vector, so no edge direction is invisible.
* ``'laplacian_grad_sum'``: the single map ``(∂x + ∂y)∇²`` (kernel ``Dx∘L + Dy∘L``,
  5 x 5). One map per channel (keeps ``F_merged`` at ``3C`` as Eq. 7 suggests), but it is
  blind to features varying only along the anti-diagonal ``(1, -1)``. (Any *single*
  linear third-order operator is blind to some direction: its symbol is a real cubic.)
* ``'laplacian_grad_mag'``: ``sqrt((∂x∇²)² + (∂y∇²)² + eps²) - eps``, one map per
  channel, rotation invariant but nonlinear (``eps`` keeps the gradient finite at 0 and
  the value exactly 0 on constant input).
* ``'third_pure'``: pure third derivatives ``(∂³/∂x³, ∂³/∂y³)``, two maps, with the
  5-point stencil ``D3x = [-1/2, 1, 0, -1, 1/2]`` (exact for degree <= 4 along the axis).
* ``'third_pure_sum'``: ``∂³/∂x³ + ∂³/∂y³`` (5 x 5 cross), one map (also blind to the
  anti-diagonal).

The multi-map operators output ``m`` maps per input channel, interleaved per channel:
``[c0_a, c0_b, c1_a, c1_b, ...]`` (the natural order of a ``groups=C`` convolution).
"""
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'THIRD_ORDER_OPERATORS', 'PADDING_MODES', 'laplacian_kernel', 'third_order_kernels',
    'depthwise_fixed_conv', 'laplacian', 'third_order', 'FixedDerivatives'
]

PADDING_MODES = ('replicate', 'reflect')

# name -> (number of output maps per channel, short description)
THIRD_ORDER_OPERATORS: Dict[str, Tuple[int, str]] = {
    'laplacian_grad': (2, '(∂x∇², ∂y∇²): gradient of the Laplacian, 2 maps'),
    'laplacian_grad_sum': (1, '(∂x + ∂y)∇²: 1 map'),
    'laplacian_grad_mag': (1, '|∇∇²| = sqrt((∂x∇²)² + (∂y∇²)²): 1 map, nonlinear'),
    'third_pure': (2, '(∂³/∂x³, ∂³/∂y³): 2 maps'),
    'third_pure_sum': (1, '∂³/∂x³ + ∂³/∂y³: 1 map'),
}


def _compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation kernel of "correlate with ``a``, then with ``b``".

    For centred odd-sized correlation kernels the composite is
    ``K[s] = sum_{p + q = s} a[p] b[q]`` over offsets (a full, unflipped convolution of
    the offset arrays). Written out because the kernels are tiny and this is the
    definition, not an approximation.
    """
    ah, aw = a.shape
    bh, bw = b.shape
    out = torch.zeros(ah + bh - 1, aw + bw - 1, dtype=torch.float64)
    for i in range(ah):
        for j in range(aw):
            out[i:i + bh, j:j + bw] += a[i, j] * b
    return out


def _pad_to(k: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad a centred odd kernel to ``size x size``."""
    ph, pw = (size - k.shape[0]) // 2, (size - k.shape[1]) // 2
    return F.pad(k, (pw, pw, ph, ph))


def laplacian_kernel() -> torch.Tensor:
    """The 5-point Laplacian ``L`` (Eq. 5) as a float64 ``(3, 3)`` correlation kernel."""
    return torch.tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]], dtype=torch.float64)


def third_order_kernels(operator: str = 'laplacian_grad') -> torch.Tensor:
    """Stencils of the third-order operator ``H`` (Eq. 6) named ``operator``.

    Args:
        operator (str): One of ``THIRD_ORDER_OPERATORS``. For
            ``'laplacian_grad_mag'`` the two linear kernels ``(Dx∘L, Dy∘L)`` are
            returned (the magnitude is taken after the convolution).
            Defaults to 'laplacian_grad'.

    Returns:
        torch.Tensor: float64 ``(m, 5, 5)`` correlation kernels, ``m`` = 1 or 2.
    """
    if operator not in THIRD_ORDER_OPERATORS:
        raise ValueError(f'mmdepth_dgr/models/layers/derivatives.py: unknown third-order '
                         f'operator {operator!r}; choose one of '
                         f'{sorted(THIRD_ORDER_OPERATORS)}')
    lap = laplacian_kernel()
    dx = torch.tensor([[-0.5, 0., 0.5]], dtype=torch.float64)
    d3x = torch.tensor([[-0.5, 1., 0., -1., 0.5]], dtype=torch.float64)
    if operator.startswith('laplacian_grad'):
        kx = _pad_to(_compose(lap, dx), 5)
        ky = _pad_to(_compose(lap, dx.t()), 5)
    else:
        kx, ky = _pad_to(d3x, 5), _pad_to(d3x.t(), 5)
    if operator.endswith('_sum'):
        return (kx + ky)[None]
    return torch.stack([kx, ky])


def depthwise_fixed_conv(x: torch.Tensor, weight: torch.Tensor,
                         padding_mode: str = 'replicate') -> torch.Tensor:
    """Apply a fixed depthwise stencil with border padding (no zero padding).

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        weight (torch.Tensor): ``(C * m, 1, k, k)`` with odd ``k``; output channel
            ``c * m + i`` applies stencil ``i`` to input channel ``c``.
        padding_mode (str): 'replicate' or 'reflect'. Defaults to 'replicate'.

    Returns:
        torch.Tensor: ``(B, C * m, H, W)``.
    """
    if padding_mode not in PADDING_MODES:
        raise ValueError(f'mmdepth_dgr/models/layers/derivatives.py: padding_mode '
                         f'{padding_mode!r} is not supported; use one of {PADDING_MODES} '
                         '(zero padding would light up the borders)')
    r = weight.shape[-1] // 2
    x = F.pad(x, (r, r, r, r), mode=padding_mode)
    return F.conv2d(x, weight, groups=x.shape[1])


def _expand(kernels: torch.Tensor, channels: int) -> torch.Tensor:
    """``(m, k, k)`` stencils -> ``(C * m, 1, k, k)`` depthwise weight."""
    return kernels[None].expand(channels, *kernels.shape).reshape(
        channels * kernels.shape[0], 1, *kernels.shape[1:]).contiguous()


def laplacian(x: torch.Tensor, padding_mode: str = 'replicate') -> torch.Tensor:
    """``∇²F = L * F`` (Eq. 5), per channel.

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        padding_mode (str): 'replicate' or 'reflect'. Defaults to 'replicate'.

    Returns:
        torch.Tensor: ``(B, C, H, W)``.
    """
    w = _expand(laplacian_kernel()[None], x.shape[1]).to(x)
    return depthwise_fixed_conv(x, w, padding_mode)


def _first_kernels(operator: str) -> torch.Tensor:
    """First-derivative stencils applied to ``∇²F`` for the 'laplacian_grad*' readings.

    ``∂x∇²F`` is computed as ``Dx * (L * F)`` (two cheap depthwise convs, 9 + 3 taps)
    instead of one 5x5 composite (25 taps); in the interior (2+ pixels from the border)
    both are identical, and each step pads with ``padding_mode`` so constants still map
    to exactly 0 at the border.

    Returns:
        torch.Tensor: float64 ``(m, 3, 3)``.
    """
    dx = _pad_to(torch.tensor([[-0.5, 0., 0.5]], dtype=torch.float64), 3)
    dy = dx.t().contiguous()
    if operator.endswith('_sum'):
        return (dx + dy)[None]
    return torch.stack([dx, dy])


def _stage_kernels(operator: str) -> torch.Tensor:
    """The stencils :class:`FixedDerivatives` convolves for ``operator``'s ``∇³F`` step."""
    if operator.startswith('laplacian_grad'):
        return _first_kernels(operator)
    return third_order_kernels(operator)


def _third_from(x: torch.Tensor, lap: torch.Tensor, weight: torch.Tensor,
                operator: str, padding_mode: str, eps: float) -> torch.Tensor:
    """``∇³F`` from ``F`` (pure third derivatives) or from ``∇²F`` (gradient readings)."""
    src = lap if operator.startswith('laplacian_grad') else x
    y = depthwise_fixed_conv(src, weight, padding_mode)
    if operator != 'laplacian_grad_mag':
        return y
    b, cm, h, w = y.shape
    y = y.reshape(b, cm // 2, 2, h, w)
    return torch.sqrt((y * y).sum(2) + eps * eps) - eps


def third_order(x: torch.Tensor, operator: str = 'laplacian_grad',
                padding_mode: str = 'replicate', eps: float = 1e-6) -> torch.Tensor:
    """``∇³F = H * F`` (Eq. 6), per channel, for the named reading of ``H``.

    The 'laplacian_grad*' readings are evaluated as ``D * (L * F)`` (see
    :func:`_first_kernels`); they equal ``third_order_kernels(operator) * F`` away from
    the border.

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        operator (str): One of ``THIRD_ORDER_OPERATORS``. Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate' or 'reflect'. Defaults to 'replicate'.
        eps (float): Only for 'laplacian_grad_mag'. Defaults to 1e-6.

    Returns:
        torch.Tensor: ``(B, C * m, H, W)`` with ``m = THIRD_ORDER_OPERATORS[operator][0]``.
    """
    w = _expand(_stage_kernels(operator), x.shape[1]).to(x)
    lap = laplacian(x, padding_mode) if operator.startswith('laplacian_grad') else None
    return _third_from(x, lap, w, operator, padding_mode, eps)


class FixedDerivatives(nn.Module):
    """``[∇²F, ∇³F]`` for a fixed channel count, kernels held as (non-persistent) buffers.

    Args:
        channels (int): Input channels ``C``.
        third_order (str): Reading of ``H`` (Eq. 6), one of ``THIRD_ORDER_OPERATORS``.
            Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate' or 'reflect'. Defaults to 'replicate'.
        eps (float): Only for 'laplacian_grad_mag'. Defaults to 1e-6.

    Attributes:
        out_channels (List[int]): ``[C, m * C]``, channels of ``∇²F`` and ``∇³F``.
    """

    def __init__(self, channels: int, third_order: str = 'laplacian_grad',
                 padding_mode: str = 'replicate', eps: float = 1e-6) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f'mmdepth_dgr/models/layers/derivatives.py: padding_mode '
                             f'{padding_mode!r} is not supported; use one of '
                             f'{PADDING_MODES}')
        third_order_kernels(third_order)  # validates the name
        self.channels = channels
        self.third_order = third_order
        self.padding_mode = padding_mode
        self.eps = eps
        m = THIRD_ORDER_OPERATORS[third_order][0]
        self.out_channels: List[int] = [channels, m * channels]
        # Deterministic constants: not Parameters (never trained) and not persistent
        # (kept out of checkpoints, so changing a stencil never breaks loading).
        self.register_buffer('lap_weight',
                             _expand(laplacian_kernel()[None], channels).float(),
                             persistent=False)
        self.register_buffer('third_weight',
                             _expand(_stage_kernels(third_order), channels).float(),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``(∇²F (B, C, H, W), ∇³F (B, m*C, H, W))``."""
        lap = depthwise_fixed_conv(x, self.lap_weight, self.padding_mode)
        third = _third_from(x, lap, self.third_weight, self.third_order,
                            self.padding_mode, self.eps)
        return lap, third

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, third_order={self.third_order!r}, '
                f'padding_mode={self.padding_mode!r}')
