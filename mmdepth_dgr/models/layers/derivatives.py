"""Fixed (non-trainable) finite-difference derivative operators, applied per channel.

These are the ``∇²`` (Eq. 5) and ``∇³`` (Eq. 6) operators of Depth Gradient Refinement
(Yao, Wu, Zhang, "Improving Depth Gradient Continuity in Transformers", BMVC 2024,
Sec. 3.2)::

    ∇²D = D * L                                              (Eq. 5)
    ∇³D = D * H                                              (Eq. 6)

**Features, not depth.** Eq. 5-6 write the depth map ``D``, but DGR sits inside the
encoder, where no depth map exists yet: the operators act on the *feature map* ``F``
(``(B, C, H, W)``), on every channel separately (depthwise), as Fig. 4 draws them. Their
kernels are deterministic constants (never Parameters, so optimizers and weight decay
never see them).

Conventions
-----------
* ``x`` is the column (width, last) axis and ``y`` the row (height) axis, both increasing
  with the index; the grid spacing is one pixel.
* The stencils are written as *correlation* weights, exactly as ``F.conv2d`` uses them:
  ``out[i, j] = sum_{a, b} K[a, b] * f[i + a - r, j + b - r]`` (rows ``a``, columns
  ``b``, centre ``r``).
* **Borders are approximate.** A ``k x k`` stencil needs ``r = k // 2`` pixels outside
  the map, so the input is padded with ``padding_mode`` first: 'replicate' (default)
  repeats the edge value, 'reflect' mirrors the map, 'zeros' (the authors' release) pads
  with 0. In the 1 px border ring of ``∇²`` and the 2 px ring of the ``∇³`` readings the
  results are therefore *not* the derivatives of the map's smooth continuation, only a
  padding-dependent approximation (the exactness below holds in the interior). With
  'replicate' and 'reflect' every stencil (they all sum to zero) maps a constant image to
  exactly zero everywhere, borders included; 'zeros' makes a step at the border and
  lights it up. 'reflect' needs ``H, W > r`` (``r`` = 2 for the 5-wide stencils).

Evaluation. :func:`laplacian`, :func:`third_order` (and :func:`depthwise_fixed_conv`)
apply the stencils as depthwise convolutions of the kernels below: that is the reference
definition. :class:`FixedDerivatives`, which the DGR block uses, computes the same sums as
weighted sums of shifted slices of the padded map (:func:`shifted_stencil`): a handful of
element-wise adds instead of a convolution, which on CPU is several times faster (oneDNN
has no fast kernel for the channel-multiplier-2 depthwise convolution of ``∇³``, and a
depthwise convolution costs ~0.1 ms of fixed overhead at low resolution). Equal taps are
summed first, so the integer-weighted sums stay exact; tests pin both evaluations equal.

Stencils
--------
``L`` (Eq. 5), chosen by name (``LAPLACIAN_STENCILS``):

* ``'5-point'`` (default)::

      [[0,  1, 0],
       [1, -4, 1],
       [0,  1, 0]]

  exact on polynomials of degree <= 3.
* ``'8-neighbour'`` (the authors' released code)::

      [[-1, -1, -1],
       [-1,  8, -1],
       [-1, -1, -1]]

  with the centre positive, i.e. ``-3 ∇²`` on polynomials of degree <= 3 (the
  8-neighbour sum minus 8 times the centre is ``3 ∇² f`` there; the sign and the factor 3
  are the release's).

``Dx = [-1/2, 0, 1/2]`` (central difference, one row; ``Dy`` is its transpose).

The paper does not give ``H`` (the "corresponding third-order differential operator"),
so several readings are offered, selected by name (``THIRD_ORDER_OPERATORS``):

* ``'laplacian_grad'`` (default): the gradient of the 5-point Laplacian, two maps per
  channel, ``(∂x∇², ∂y∇²)``. Kernels are the compositions ``Dx ∘ L`` (3 rows x 5
  columns) and ``Dy ∘ L`` (5 x 3), e.g. ``Dx ∘ L``::

        [[0,    -1/2, 0,  1/2, 0  ],
         [-1/2,  2,   0, -2,   1/2],
         [0,    -1/2, 0,  1/2, 0  ]]

  Exact on polynomials of degree <= 3 (and on ``x²y²``). Evaluated in two steps,
  ``Dx * (L * F)`` (9 + 3 taps), each step padding with ``padding_mode``; equal to the
  composite stencil 2+ pixels from the border. Linear, and the pair rotates as a vector,
  so no edge direction is invisible.
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

(The authors' release reads ``H`` as a *learnable* depthwise 3x3 convolution; that is not
a fixed stencil and lives in :class:`~mmdepth_dgr.models.layers.DGRBlock`
(``third_order='learnable'``).)

The multi-map operators output ``m`` maps per input channel, interleaved per channel:
``[c0_a, c0_b, c1_a, c1_b, ...]`` (the natural order of a ``groups=C`` convolution).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'THIRD_ORDER_OPERATORS', 'LAPLACIAN_STENCILS', 'PADDING_MODES', 'laplacian_kernel',
    'third_order_kernels', 'depthwise_fixed_conv', 'laplacian', 'third_order',
    'stencil_taps', 'shifted_stencil', 'FixedDerivatives'
]

_WHERE = 'mmdepth_dgr/models/layers/derivatives.py'
PADDING_MODES = ('replicate', 'reflect', 'zeros')

# name -> (number of output maps per channel, short description)
THIRD_ORDER_OPERATORS: Dict[str, Tuple[int, str]] = {
    'laplacian_grad': (2, '(∂x∇², ∂y∇²): gradient of the Laplacian, 2 maps'),
    'laplacian_grad_sum': (1, '(∂x + ∂y)∇²: 1 map'),
    'laplacian_grad_mag': (1, '|∇∇²| = sqrt((∂x∇²)² + (∂y∇²)²): 1 map, nonlinear'),
    'third_pure': (2, '(∂³/∂x³, ∂³/∂y³): 2 maps'),
    'third_pure_sum': (1, '∂³/∂x³ + ∂³/∂y³: 1 map'),
}

LAPLACIAN_STENCILS = {
    '5-point': ((0., 1., 0.), (1., -4., 1.), (0., 1., 0.)),
    '8-neighbour': ((-1., -1., -1.), (-1., 8., -1.), (-1., -1., -1.)),
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


def _check_padding(padding_mode: str) -> None:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f'{_WHERE}: padding_mode {padding_mode!r} is not supported; use '
                         f'one of {PADDING_MODES}')


def laplacian_kernel(stencil: str = '5-point') -> torch.Tensor:
    """The Laplacian ``L`` (Eq. 5) named ``stencil`` as a float64 ``(3, 3)`` kernel.

    Args:
        stencil (str): One of ``LAPLACIAN_STENCILS``. Defaults to '5-point'.

    Returns:
        torch.Tensor: float64 ``(3, 3)`` correlation kernel.
    """
    if stencil not in LAPLACIAN_STENCILS:
        raise ValueError(f'{_WHERE}: unknown Laplacian stencil {stencil!r}; choose one of '
                         f'{sorted(LAPLACIAN_STENCILS)}')
    return torch.tensor(LAPLACIAN_STENCILS[stencil], dtype=torch.float64)


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
        raise ValueError(f'{_WHERE}: unknown third-order operator {operator!r}; choose one '
                         f'of {sorted(THIRD_ORDER_OPERATORS)}')
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


# (h, w, r, padding_mode, device) -> flat source pixel of every padded pixel; a handful
# of sizes per model, bounded anyway.
_PAD_INDEX: Dict[tuple, torch.Tensor] = {}


def _pad_index(h: int, w: int, r: int, padding_mode: str,
               device: torch.device) -> torch.Tensor:
    """Row-major index into an ``h x w`` map of each pixel of its ``(h+2r) x (w+2r)``
    'replicate' or 'reflect' padding (int64, cached)."""
    key = (h, w, r, padding_mode, device)
    idx = _PAD_INDEX.get(key)
    if idx is None:

        def axis(n: int) -> torch.Tensor:
            i = torch.arange(-r, n + r)
            if padding_mode == 'replicate':
                return i.clamp(0, n - 1)
            i = i.abs()  # reflect without repeating the edge: -k -> k, n-1+k -> n-1-k
            return torch.where(i > n - 1, 2 * (n - 1) - i, i)

        idx = (axis(h)[:, None] * w + axis(w)[None, :]).flatten().to(device)
        if len(_PAD_INDEX) >= 256:
            _PAD_INDEX.clear()
        _PAD_INDEX[key] = idx
    return idx


def _pad(x: torch.Tensor, r: int, padding_mode: str) -> torch.Tensor:
    """Pad the last two dims of ``(B, C, H, W)`` by ``r`` (``padding_mode``), keeping a
    channels-last layout channels-last."""
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        if padding_mode == 'zeros':
            return F.pad(x, (r, r, r, r))
        return F.pad(x, (r, r, r, r), mode=padding_mode)
    # F.pad turns channels-last into NCHW (and is several times slower on it): gather
    # the padded map's pixels from the rows of the (channels-last) input, or write the
    # map and its border rows/columns into a channels-last buffer.
    b, c, h, w = x.shape
    if padding_mode == 'reflect' and (h <= r or w <= r):
        raise ValueError(f'{_WHERE}: reflect padding by {r} needs H, W > {r}, got {h}x{w}')
    if padding_mode != 'zeros' and not (torch.jit.is_tracing()
                                        or torch.compiler.is_compiling()):
        # One index_select of whole pixels (C contiguous floats each) replaces the buffer,
        # the interior copy and 2r + 2r border copies: the same values (copies only),
        # ~2-5x faster forward and ~4x faster backward (index_add instead of the slice
        # assignments' backward) on the DGR maps. Traced/compiled graphs keep the slice
        # path, whose offsets are relative to the input size (the index is not).
        rows = x.permute(0, 2, 3, 1).reshape(b, h * w, c)  # a view (channels-last)
        idx = _pad_index(h, w, r, padding_mode, x.device)
        return rows.index_select(1, idx).view(b, h + 2 * r, w + 2 * r, c).permute(0, 3, 1, 2)
    out = x.new_empty(b, h + 2 * r, w + 2 * r, c).permute(0, 3, 1, 2)
    out[..., r:h + r, r:w + r] = x
    if padding_mode == 'zeros':
        out[..., :r, :].zero_()
        out[..., h + r:, :].zero_()
        out[..., r:h + r, :r].zero_()
        out[..., r:h + r, w + r:].zero_()
        return out
    for i in range(r):  # rows (inside the column range), then whole columns
        near, far = (0, h - 1) if padding_mode == 'replicate' else (r - i, h - 1 - r + i)
        out[..., i, r:w + r] = x[..., near, :]
        out[..., h + 2 * r - 1 - i, r:w + r] = x[..., far, :]
    for j in range(r):
        near, far = ((r, w + r - 1) if padding_mode == 'replicate'
                     else (2 * r - j, w - 1 + j))
        out[..., j] = out[..., near]
        out[..., w + 2 * r - 1 - j] = out[..., far]
    return out


def depthwise_fixed_conv(x: torch.Tensor, weight: torch.Tensor,
                         padding_mode: str = 'replicate') -> torch.Tensor:
    """Apply a fixed depthwise stencil after border padding (the reference evaluation).

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        weight (torch.Tensor): ``(C * m, 1, k, k)`` with odd ``k``; output channel
            ``c * m + i`` applies stencil ``i`` to input channel ``c``.
        padding_mode (str): 'replicate', 'reflect' or 'zeros'. Defaults to 'replicate'.

    Returns:
        torch.Tensor: ``(B, C * m, H, W)``.
    """
    _check_padding(padding_mode)
    r = weight.shape[-1] // 2
    return F.conv2d(_pad(x, r, padding_mode), weight, groups=x.shape[1])


def _expand(kernels: torch.Tensor, channels: int) -> torch.Tensor:
    """``(m, k, k)`` stencils -> ``(C * m, 1, k, k)`` depthwise weight."""
    return kernels[None].expand(channels, *kernels.shape).reshape(
        channels * kernels.shape[0], 1, *kernels.shape[1:]).contiguous()


def laplacian(x: torch.Tensor, padding_mode: str = 'replicate',
              stencil: str = '5-point') -> torch.Tensor:
    """``∇²F = L * F`` (Eq. 5), per channel, as a depthwise convolution.

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        padding_mode (str): 'replicate', 'reflect' or 'zeros'. Defaults to 'replicate'.
        stencil (str): One of ``LAPLACIAN_STENCILS``. Defaults to '5-point'.

    Returns:
        torch.Tensor: ``(B, C, H, W)``.
    """
    w = _expand(laplacian_kernel(stencil)[None], x.shape[1]).to(x)
    return depthwise_fixed_conv(x, w, padding_mode)


def _first_kernels(operator: str) -> torch.Tensor:
    """First-derivative stencils applied to ``∇²F`` for the 'laplacian_grad*' readings.

    ``∂x∇²F`` is computed as ``Dx * (L * F)`` (two steps, 9 + 3 taps) instead of one 5x5
    composite (25 taps); in the interior (2+ pixels from the border) both are identical,
    and each step pads with ``padding_mode`` so constants still map to exactly 0 at the
    border.

    Returns:
        torch.Tensor: float64 ``(m, 3, 3)``.
    """
    dx = _pad_to(torch.tensor([[-0.5, 0., 0.5]], dtype=torch.float64), 3)
    dy = dx.t().contiguous()
    if operator.endswith('_sum'):
        return (dx + dy)[None]
    return torch.stack([dx, dy])


def _stage_kernels(operator: str) -> torch.Tensor:
    """The stencils convolved in ``operator``'s ``∇³F`` step (on ``∇²F`` or ``F``)."""
    if operator.startswith('laplacian_grad'):
        return _first_kernels(operator)
    return third_order_kernels(operator)


def _magnitude(y: torch.Tensor, eps: float) -> torch.Tensor:
    """``sqrt(a² + b² + eps²) - eps`` of interleaved pairs ``(B, 2C, H, W) -> (B, C, H, W)``."""
    b, cm, h, w = y.shape
    y = y.reshape(b, cm // 2, 2, h, w)
    return torch.sqrt((y * y).sum(2) + eps * eps) - eps


def third_order(x: torch.Tensor, operator: str = 'laplacian_grad',
                padding_mode: str = 'replicate', eps: float = 1e-6,
                laplacian_stencil: str = '5-point') -> torch.Tensor:
    """``∇³F = H * F`` (Eq. 6), per channel, for the named reading of ``H``.

    Depthwise convolutions; the 'laplacian_grad*' readings are evaluated as
    ``D * (L * F)`` (see :func:`_first_kernels`) and, with the 5-point ``L``, equal
    ``third_order_kernels(operator) * F`` away from the border.

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        operator (str): One of ``THIRD_ORDER_OPERATORS``. Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate', 'reflect' or 'zeros'. Defaults to 'replicate'.
        eps (float): Only for 'laplacian_grad_mag'. Defaults to 1e-6.
        laplacian_stencil (str): The ``L`` the 'laplacian_grad*' readings differentiate
            (``LAPLACIAN_STENCILS``). Defaults to '5-point'.

    Returns:
        torch.Tensor: ``(B, C * m, H, W)`` with ``m = THIRD_ORDER_OPERATORS[operator][0]``.
    """
    w = _expand(_stage_kernels(operator), x.shape[1]).to(x)
    src = (laplacian(x, padding_mode, laplacian_stencil)
           if operator.startswith('laplacian_grad') else x)
    y = depthwise_fixed_conv(src, w, padding_mode)
    return _magnitude(y, eps) if operator == 'laplacian_grad_mag' else y


# ------------------------------------------------------------ shifted-slice evaluation
Taps = Tuple[Tuple[float, Tuple[Tuple[int, int], ...], Tuple[Tuple[int, int], ...]], ...]


def stencil_taps(kernel: torch.Tensor) -> Taps:
    """The non-zero taps of a correlation kernel, grouped for exact evaluation.

    Taps are grouped by weight; a weight ``v > 0`` whose negative also occurs is paired
    with it, so that the group contributes ``v * (sum(plus taps) - sum(minus taps))``.

    Args:
        kernel (torch.Tensor): ``(kh, kw)`` kernel.

    Returns:
        tuple: ``((v, plus_positions, minus_positions), ...)`` with positions
        ``(row, col)`` in row-major order; ``minus_positions`` is empty for an unpaired
        weight. Paired groups come first, then by decreasing number of taps.
    """
    groups: Dict[float, List[Tuple[int, int]]] = {}
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            v = float(kernel[i, j])
            if v != 0.0:
                groups.setdefault(v, []).append((i, j))
    out = []
    for v in sorted(groups, key=lambda w: (-abs(w), -w)):
        if v not in groups:
            continue  # consumed as the minus side of a pair
        plus = groups.pop(v)
        minus = groups.pop(-v, []) if v > 0 else []
        out.append((v, tuple(plus), tuple(minus)))
    out.sort(key=lambda g: (not g[2], -(len(g[1]) + len(g[2]))))
    return tuple(out)


def _pairwise_sum(views: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, bool]:
    """Sum of maps in a balanced tree; returns ``(sum, made_here)``.

    Equal values then add exactly (``(a + a) + (a + a) = 4a``), which keeps constants
    mapping to exactly zero. Only sums made here are updated in place; a single map is
    returned as is (``made_here`` False).
    """
    parts = [(v, False) for v in views]
    while len(parts) > 1:
        nxt = []
        for (a, fresh), (b, _) in zip(parts[0::2], parts[1::2]):
            nxt.append((a.add_(b) if fresh else a + b, True))
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def shifted_stencil(xp: torch.Tensor, taps: Taps, r: int) -> torch.Tensor:
    """``sum_{a, b} K[a, b] * xp[..., a:a+H, b:b+W]`` for a map padded by ``r`` pixels.

    The correlation of a stencil of at most ``(2r+1) x (2r+1)`` taps (given by
    :func:`stencil_taps` of the kernel zero-padded to that size) with the padded map
    ``xp`` (``(..., H + 2r, W + 2r)``), as element-wise sums of shifted slices: equal
    taps are summed in a balanced tree, paired weights ``±v`` subtracted, then each group
    is added with its weight. With weights that are powers of two (all stencils here)
    every product is exact, and a constant map gives exactly zero for any zero-sum
    stencil. Slices end at offsets relative to the padded size, so a traced graph works
    for other input sizes.

    Args:
        xp (torch.Tensor): Padded map; the last two dims are (height, width).
        taps (tuple): :func:`stencil_taps` of the ``(2r+1) x (2r+1)`` kernel.
        r (int): Padding on every side of ``xp``.

    Returns:
        torch.Tensor: ``(..., H, W)``, a fresh tensor.
    """

    def view(pos: Tuple[int, int]) -> torch.Tensor:
        (a, b), d = pos, 2 * r
        return xp[..., a:(a - d if a < d else None), b:(b - d if b < d else None)]

    acc = None
    for v, plus, minus in taps:
        s, fresh = _pairwise_sum([view(p) for p in plus])
        if minus:
            m, _ = _pairwise_sum([view(p) for p in minus])
            s, fresh = (s.sub_(m) if fresh else s - m), True
        if acc is None:
            acc = (s.mul_(v) if fresh else s * v) if v != 1.0 or not fresh else s
        else:
            acc = acc.add_(s, alpha=v)
    return acc


def _interleave(parts: List[torch.Tensor]) -> torch.Tensor:
    """``m`` maps ``(B, C, H, W)`` -> ``(B, m*C, H, W)`` with channel ``c*m + i`` = part
    ``i`` of channel ``c`` (a channels-last input stays channels-last)."""
    if len(parts) == 1:
        return parts[0]
    if parts[0].is_contiguous(memory_format=torch.channels_last):
        rows = torch.stack([p.permute(0, 2, 3, 1) for p in parts], dim=-1)
        return rows.flatten(-2).permute(0, 3, 1, 2)
    return torch.stack(parts, dim=2).flatten(1, 2)


class FixedDerivatives(nn.Module):
    """``[∇²F, ∇³F]`` for a fixed channel count (Eq. 5-6), by shifted-slice sums.

    Computes what :func:`laplacian` and :func:`third_order` compute (same stencils,
    padding and two-step evaluation; only the float summation order differs), in the
    memory format of the input. The 'laplacian_grad*' readings differentiate the chosen
    ``L``.

    Args:
        channels (int): Input channels ``C``.
        third_order (str, optional): Reading of ``H`` (Eq. 6), one of
            ``THIRD_ORDER_OPERATORS``; None computes ``∇²F`` only (``∇³F`` comes from
            elsewhere, e.g. the learnable reading). Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate', 'reflect' or 'zeros'. Defaults to 'replicate'.
        eps (float): Only for 'laplacian_grad_mag'. Defaults to 1e-6.
        laplacian (str): ``L`` stencil, one of ``LAPLACIAN_STENCILS``. Defaults to
            '5-point'.

    Attributes:
        out_channels (List[int]): ``[C, m * C]`` (``[C]`` without ``∇³``), channels of
            ``∇²F`` and ``∇³F``.
    """

    def __init__(self, channels: int, third_order: Optional[str] = 'laplacian_grad',
                 padding_mode: str = 'replicate', eps: float = 1e-6,
                 laplacian: str = '5-point') -> None:
        super().__init__()
        _check_padding(padding_mode)
        self.channels = channels
        self.third_order = third_order
        self.padding_mode = padding_mode
        self.eps = eps
        self.laplacian = laplacian
        self._lap_taps = stencil_taps(laplacian_kernel(laplacian))
        self.out_channels: List[int] = [channels]
        self._third_taps: Tuple[Taps, ...] = ()
        if third_order is not None:
            kernels = _stage_kernels(third_order)  # validates the name
            self._third_radius = kernels.shape[-1] // 2
            self._third_taps = tuple(stencil_taps(k) for k in kernels)
            self.out_channels.append(THIRD_ORDER_OPERATORS[third_order][0] * channels)

    def lap(self, x: torch.Tensor) -> torch.Tensor:
        """``∇²F`` ``(B, C, H, W)``."""
        return shifted_stencil(_pad(x, 1, self.padding_mode), self._lap_taps, 1)

    def third_parts(self, x: torch.Tensor, lap: torch.Tensor) -> List[torch.Tensor]:
        """``∇³F`` as ``m`` separate ``(B, C, H, W)`` maps, one per stencil.

        Stencil ``i`` of every channel is part ``i`` (the interleaved order of
        :meth:`forward` is ``stack(parts, dim=2).flatten(1, 2)``); 'laplacian_grad_mag'
        gives one part, the magnitude.
        """
        if self.third_order is None:
            raise ValueError(f'{_WHERE}: FixedDerivatives built with third_order=None '
                             'computes no ∇³F')
        r = self._third_radius
        src = lap if self.third_order.startswith('laplacian_grad') else x
        src = _pad(src, r, self.padding_mode)
        if self.third_order == 'laplacian_grad_mag':
            gx, gy = (shifted_stencil(src, t, r) for t in self._third_taps)
            return [torch.sqrt(gx * gx + gy * gy + self.eps * self.eps) - self.eps]
        return [shifted_stencil(src, t, r) for t in self._third_taps]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Return ``(∇²F (B, C, H, W), ∇³F (B, m*C, H, W))`` (``∇³F`` None if not built).

        ``∇³F``'s maps are interleaved per channel, as a ``groups=C`` convolution orders
        them.
        """
        lap = self.lap(x)
        if self.third_order is None:
            return lap, None
        return lap, _interleave(self.third_parts(x, lap))

    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per output pixel: the non-zero stencil taps of ``∇²`` and
        ``∇³`` over all channels (what a FLOP counter would count for the equivalent
        depthwise convolutions restricted to their non-zero taps; FLOP counters skip
        the element-wise ops the stencils are evaluated with)."""
        def taps(t):
            return sum(len(plus) + len(minus) for _, plus, minus in t)
        return self.channels * (taps(self._lap_taps) + sum(taps(t) for t in self._third_taps))

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, laplacian={self.laplacian!r}, '
                f'third_order={self.third_order!r}, padding_mode={self.padding_mode!r}')
