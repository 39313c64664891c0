"""FROZEN reference: DGRBlock and its derivative stencils exactly as they were at commit
85cfca8 (before the #18 speed-ups), copied verbatim from mmdepth_dgr/models/layers/{dgr,
derivatives}.py with only the module docstrings dropped, the registry decorator removed and
the class renamed ``FrozenDGRBlock``. The exactness tests compare the current block with
this copy (same state_dict, float64, outputs and gradients). Do not edit or "optimise" it.
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import SELayer

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

INTERACTIONS = ('outer', 'hadamard')
# Activations with act(w * m) == w * act(m) for w >= 0 (what the fused path relies on).
_POSITIVELY_HOMOGENEOUS = ('ReLU', 'LeakyReLU')
_WHERE = 'mmdepth_dgr/models/layers/dgr.py'

def dgr_merge(x: torch.Tensor, third_order_op: str = 'laplacian_grad',
              padding_mode: str = 'replicate') -> torch.Tensor:
    """``F_merged = Concat(F, ∇²F, ∇³F)`` (Eq. 5-7), functional twin of the block's merge.

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        third_order_op (str): Reading of ``H`` (Eq. 6), see
            :data:`THIRD_ORDER_OPERATORS`. Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate' or 'reflect'. Defaults to 'replicate'.

    Returns:
        torch.Tensor: ``(B, (2 + m) C, H, W)``.
    """
    return torch.cat([x, laplacian(x, padding_mode),
                      third_order(x, third_order_op, padding_mode)], dim=1)

def pixel_outer_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel outer product ``a ⊗ b`` flattened to channels.

    Args:
        a (torch.Tensor): ``(B, P, H, W)``.
        b (torch.Tensor): ``(B, Q, H, W)``.

    Returns:
        torch.Tensor: ``(B, P * Q, H, W)``, channel ``p * Q + q`` is ``a_p * b_q``.
    """
    bsz, p, h, w = a.shape
    return (a.unsqueeze(2) * b.unsqueeze(1)).reshape(bsz, p * b.shape[1], h, w)

def dgr_interaction(a: torch.Tensor, b: torch.Tensor,
                    mode: str = 'outer') -> torch.Tensor:
    """The ``⊗`` of Eq. 10 on (already projected) maps: outer or Hadamard product.

    Args:
        a (torch.Tensor): ``(B, P, H, W)`` (from ``F_spatial``).
        b (torch.Tensor): ``(B, Q, H, W)`` (from ``F_merged``); ``Q == P`` for Hadamard.
        mode (str): 'outer' or 'hadamard'. Defaults to 'outer'.

    Returns:
        torch.Tensor: ``(B, P * Q, H, W)`` ('outer') or ``(B, P, H, W)`` ('hadamard').
    """
    if mode == 'outer':
        return pixel_outer_product(a, b)
    if mode == 'hadamard':
        return a * b
    raise ValueError(f'{_WHERE}: unknown interaction {mode!r}; use one of {INTERACTIONS}')

def _with_strides_of(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``out`` laid out with exactly ``ref``'s strides (a copy only when they differ).

    Strides of size-1 dimensions (e.g. the batch stride at B = 1) do not change a
    tensor's values but do change which kernel the next convolution picks, and so its
    rounding: a host whose stage output is handed on with the original strides then
    computes bit-identically with DGR inserted at initialisation. ``copy_`` keeps the
    autograd graph.
    """
    if out.stride() == ref.stride() or out.shape != ref.shape:
        return out
    return torch.empty_strided(ref.shape, ref.stride(), dtype=out.dtype,
                               device=out.device).copy_(out)

def _activate_(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)`` computed in place for the ReLU family (else out of place)."""
    if isinstance(act, nn.ReLU):
        return x.relu_()
    if isinstance(act, nn.LeakyReLU):
        return F.leaky_relu_(x, act.negative_slope)
    return act(x)

class FrozenDGRBlock(BaseModule):
    """Depth Gradient Refinement: ``out = F + Conv1×1(F_spatial ⊗ F_merged)`` (Eq. 5-10).

    Args:
        in_channels (int): Channels ``C`` of the refined feature map (in = out).
        third_order (str): Reading of the third-order operator ``H`` (Eq. 6), one of
            :data:`~.derivatives.THIRD_ORDER_OPERATORS`. Defaults to 'laplacian_grad'.
        padding_mode (str): Border padding of the fixed stencils, 'replicate' or
            'reflect'. Defaults to 'replicate'.
        reduction_ratio (int): Channel-attention squeeze ratio (Eq. 8) relative to the
            merged width ``M``; the hidden width is ``make_divisible(M // ratio, 8)``.
            Defaults to 72 (see the module docstring).
        spatial_kernel_size (int): Kernel size of the Eq. 9 convolution. Defaults to 3.
        spatial_depthwise (bool): Depthwise (``groups=M``) Eq. 9 convolution instead of
            a dense one. Defaults to True.
        interaction (str): 'outer' or 'hadamard' (Eq. 10, see module docstring).
            Defaults to 'outer'.
        inter_channels (int, optional): Projection width ``k`` before the product.
            Required for 'outer'; ``None`` means no projection for 'hadamard'.
            Defaults to 4.
        act_cfg (dict): Activation of Eq. 8/9. Defaults to ``dict(type='ReLU')``.
        fused (bool): Use the fused channels-last evaluation (module docstring) when the
            options allow it; False always runs the literal Eq. 7-10 order. Same
            parameters and function either way. Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine init config; the final 1×1 conv
            is zeroed after it in :meth:`init_weights`. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 third_order: str = 'laplacian_grad',
                 padding_mode: str = 'replicate',
                 reduction_ratio: int = 72,
                 spatial_kernel_size: int = 3,
                 spatial_depthwise: bool = True,
                 interaction: str = 'outer',
                 inter_channels: Optional[int] = 4,
                 act_cfg: dict = dict(type='ReLU'),
                 fused: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f'{_WHERE}: DGRBlock in_channels must be a positive int, '
                             f'got {in_channels!r}')
        if third_order not in THIRD_ORDER_OPERATORS:
            raise ValueError(f'{_WHERE}: DGRBlock third_order={third_order!r} is unknown; '
                             f'use one of {sorted(THIRD_ORDER_OPERATORS)}')
        if interaction not in INTERACTIONS:
            raise ValueError(f'{_WHERE}: DGRBlock interaction={interaction!r} is unknown; '
                             f'use one of {INTERACTIONS}')
        if interaction == 'outer' and not inter_channels:
            raise ValueError(f'{_WHERE}: DGRBlock interaction="outer" needs '
                             'inter_channels (k) > 0: a full outer product has M² channels')
        if spatial_kernel_size % 2 != 1:
            raise ValueError(f'{_WHERE}: DGRBlock spatial_kernel_size must be odd, got '
                             f'{spatial_kernel_size}')
        self.in_channels = in_channels
        self.interaction = interaction
        self.inter_channels = inter_channels

        # Eq. 5-7: fixed derivative stencils (buffers).
        self.derivatives = FixedDerivatives(in_channels, third_order, padding_mode)
        merged = in_channels + sum(self.derivatives.out_channels)
        self.merged_channels = merged

        act_cfg = copy.deepcopy(act_cfg)
        if act_cfg.get('type') in ('ReLU', 'LeakyReLU', 'ReLU6', 'ELU', 'SiLU', 'Swish'):
            act_cfg.setdefault('inplace', False)
        # Eq. 8: w = σ(FC₂(ReLU(FC₁(GAP(F_merged))))), returns F_merged ⊙ w.
        self.channel_attention = SELayer(
            merged, ratio=reduction_ratio, act_cfg=(act_cfg, dict(type='Sigmoid')))
        # Eq. 9: F_spatial = Conv(ReLU(F_merged ⊙ w)) (activation first, then conv).
        self.spatial_conv = ConvModule(
            merged, merged, spatial_kernel_size, padding=spatial_kernel_size // 2,
            groups=merged if spatial_depthwise else 1, norm_cfg=None, act_cfg=act_cfg,
            order=('act', 'conv', 'norm'))
        # Eq. 10: bounded ⊗ then 1x1 back to C.
        if inter_channels:
            self.proj_spatial = nn.Conv2d(merged, inter_channels, 1)
            self.proj_merged = nn.Conv2d(merged, inter_channels, 1)
            prod = inter_channels**2 if interaction == 'outer' else inter_channels
        else:
            self.proj_spatial = self.proj_merged = None
            prod = merged
        self.out_conv = nn.Conv2d(prod, in_channels, 1)
        self._zero_out_conv()
        self.fused = bool(fused)
        # The fused path's identities hold for a depthwise zero-padded Eq. 9 conv, a
        # positively homogeneous activation and projected maps; else: literal order.
        self.can_fuse = (spatial_depthwise and inter_channels is not None
                         and act_cfg.get('type') in _POSITIVELY_HOMOGENEOUS
                         and self.spatial_conv.conv.padding_mode == 'zeros'
                         and not self.spatial_conv.with_norm
                         and not self.channel_attention.conv1.with_norm
                         and not self.channel_attention.conv2.with_norm)

    def _zero_out_conv(self) -> None:
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def init_weights(self) -> None:
        """Run the mmengine init (``init_cfg``), then zero the final 1×1 conv."""
        super().init_weights()
        self._zero_out_conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x`` ``(B, C, H, W)`` -> ``(B, C, H, W)`` (same memory format as ``x``)."""
        if self.fused and self.can_fuse:
            return self._forward_fused(x)
        return self._forward_literal(x)

    def _forward_literal(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 7-10 in the paper's order (every intermediate map materialised)."""
        lap, third = self.derivatives(x)
        merged = torch.cat([x, lap, third], dim=1)  # Eq. 7
        spatial = self.spatial_conv(self.channel_attention(merged))  # Eq. 8-9
        a, b = spatial, merged
        if self.proj_spatial is not None:
            a, b = self.proj_spatial(a), self.proj_merged(b)
        return x + self.out_conv(dgr_interaction(a, b, self.interaction))  # Eq. 10

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        """Same function as :meth:`_forward_literal`, fewer passes (module docstring).

        Shapes: ``L = H·W``; "rows" are channels-last ``(B, L, channels)`` views.
        """
        bsz, c, h, w = x.shape
        n = h * w
        # Eq. 5-6 on a channels-last copy (oneDNN's depthwise kernels want NHWC).
        xc = x.contiguous(memory_format=torch.channels_last)
        lap, third = self.derivatives(xc)
        # Eq. 7: one copy into rows (B, L, M); permute+reshape of NHWC data is a view.
        merged = torch.cat([t.permute(0, 2, 3, 1).reshape(bsz, n, t.shape[1])
                            for t in (xc, lap, third)], dim=2)
        m = merged.shape[2]
        # Eq. 8: w = σ(FC₂(act(FC₁(GAP(F_merged))))), SELayer's own 1×1 convs as linears.
        se = self.channel_attention
        hidden = se.conv1.activate(F.linear(merged.mean(1), se.conv1.conv.weight.flatten(1),
                                            se.conv1.conv.bias))
        gate = se.conv2.activate(F.linear(hidden, se.conv2.conv.weight.flatten(1),
                                          se.conv2.conv.bias))  # (B, M)
        # Eq. 10's second operand, before F_merged is overwritten below.
        b = F.linear(merged, self.proj_merged.weight.flatten(1), self.proj_merged.bias)
        # Eq. 9 without the gate: DWConv_nobias(act(F_merged)) (act(w·m) = w·act(m), w ≥ 0).
        # Without autograd the activation overwrites F_merged (saves a 4C-map allocation,
        # whose page faults cost as much as the pass itself on CPU); with autograd
        # F_merged is saved for proj_merged's weight gradient and must stay (and a traced
        # graph must not depend on the grad mode).
        dw = self.spatial_conv.conv
        if torch.is_grad_enabled() or torch.jit.is_tracing():
            act = self.spatial_conv.activate(merged)
        else:
            act = _activate_(self.spatial_conv.activate, merged)
        s = F.conv2d(act.view(bsz, h, w, m).permute(0, 3, 1, 2), dw.weight, None,
                     dw.stride, dw.padding, dw.dilation, dw.groups)
        s = s.permute(0, 2, 3, 1).reshape(bsz, n, m)
        # Eq. 10 projections: proj_spatial(F_spatial) = (P·diag w) s + (P b_dw + b_P).
        p_sp = self.proj_spatial.weight.flatten(1)  # (k, M)
        a = torch.matmul(s, (p_sp.unsqueeze(0) * gate.unsqueeze(1)).transpose(1, 2))
        a = a + (self.proj_spatial.bias + p_sp @ dw.bias if dw.bias is not None
                 else self.proj_spatial.bias)  # (B, L, k)
        if self.interaction == 'outer':  # channel p*k + q = a_p b_q (pixel_outer_product)
            k = a.shape[2]
            prod = (a.unsqueeze(3) * b.unsqueeze(2)).reshape(bsz, n, k * k)
        else:
            prod = a * b
        w_out = self.out_conv.weight.flatten(1)  # (C, k²)
        if x.is_contiguous():  # NCHW host: produce the residual directly as (B, C, L)
            delta = torch.matmul(w_out, prod.transpose(1, 2))
            delta = delta + self.out_conv.bias.view(c, 1)
            return _with_strides_of(x + delta.view(bsz, c, h, w), x)
        delta = F.linear(prod, w_out, self.out_conv.bias)  # (B, L, C) = NHWC
        out = x + delta.view(bsz, h, w, c).permute(0, 3, 1, 2)
        out = out.contiguous(memory_format=torch.channels_last) if x.is_contiguous(
            memory_format=torch.channels_last) else out
        return _with_strides_of(out, x)
