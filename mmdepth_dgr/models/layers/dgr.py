"""Depth Gradient Refinement block (Yao, Wu, Zhang, BMVC 2024, Sec. 3.2, Eq. 5-10, Fig. 4).

Math (``F`` is a ``(B, C, H, W)`` feature map)::

    F_merged      = Concat(F, ∇²F, ∇³F)                                  (Eq. 7)
    w             = σ(FC₂(ReLU(FC₁(GAP(F_merged)))))                     (Eq. 8)
    F_spatial     = Conv(ReLU(F_merged ⊙ w))                             (Eq. 9)
    F_interaction = Conv1×1(F_spatial ⊗ F_merged)                        (Eq. 10)
    out           = F + F_interaction        (residual; last 1×1 zero-initialised)

``∇²``/``∇³`` are the fixed stencils of :mod:`.derivatives` (Eq. 5/6). With the default
``third_order='laplacian_grad'`` the merged map has ``M = 4C`` channels (``∇³F`` is the
2-vector ``(∂x∇²F, ∂y∇²F)`` per channel); single-map readings give ``M = 3C``.

Interpretations (the paper is ambiguous; all are options):

* Eq. 9 ``Conv``: a ``k x k`` convolution ``M -> M``, depthwise by default
  (``spatial_depthwise=True``); a dense ``M -> M`` 3x3 conv costs ``9 M²`` MACs per pixel
  (e.g. ~27x the whole DGR block on Swin-T), which is far off a few-percent budget.
* Eq. 10 ``⊗``: a per-pixel outer product of two ``M``-vectors has ``M²`` channels
  (``(4·768)² ≈ 9.4 M`` channels on Swin-T's last stage), so it is made bounded:

  - ``interaction='outer'`` (default): project both maps to ``k`` channels with 1×1
    convs, take the per-pixel outer product (``k²`` channels, a low-rank bilinear form
    ``out_c = Σ_ij W_cij a_i b_j``), then 1×1 to ``C``.
  - ``interaction='hadamard'``: element-wise product. With ``inter_channels=None``
    ``Conv1×1_{M->C}(F_spatial ⊙ F_merged)``; with an int ``k`` both are first projected
    to ``k`` channels (factorised bilinear pooling), then 1×1 ``k -> C``.

  Why 'outer' with ``k = 4`` and ``reduction_ratio = 72`` is the default: measured with
  tools/analysis_tools/dgr_overhead.py (numbers in configs/dgr/README.md), full-width
  Hadamard costs ``M·C`` (= 4C²) per pixel: +17 % params on both the quickstart MiT-B0
  model and Swin-T, +6 % / +10.6 % FLOPs, far off the +3 % / +5 % budgets. 'outer' at
  ``k = 4`` costs ``2Mk + k²C`` and meets them (params +2.75 % / +1.76 %, FLOPs +1.8 % /
  +1.3 %); projected Hadamard at the same feature width (``k = 16``) costs more (+4.4 % /
  +2.4 % params) for only ``k`` diagonal products instead of all ``k²`` cross terms. Both
  learn the toy edge task of tests/test_models/test_layers/test_dgr.py.

  ``reduction_ratio``: the SE hidden width is ``make_divisible(M // r, 8)`` (at least 8).
  ``r = 64`` (hidden ``≈ C/16``, the usual SE ratio 16 relative to ``C``) put the
  quickstart model at +3.04 % params, just over the +3 % budget. The smallest settings
  change that meets it is ``r = 72`` (+2.75 %; any ``r`` in 72..113 builds the same
  quickstart model): it only narrows the SE bottleneck of MiT-B0's stage 2 from 16 to 8
  (640 -> 8 -> 640) and leaves FLOPs and latency unchanged, whereas ``k = 3`` (+2.82 %)
  would cut the Eq. 10 interaction from 16 to 9 cross terms, the part of DGR the paper is
  about. Hence the default ``r = 72`` (hidden ``≈ C/18``).

Evaluation (``fused=True``, the default). The literal order above (concatenate, scale,
activate, convolve, project) is memory-bound on CPU: every step is a pass over a
``4C``-channel map, and oneDNN runs the depthwise and narrow (``M -> k``) convolutions of
an NCHW map through layout reorders. The fused path computes the same function with fewer
passes, using three exact identities:

* channels-last ("rows" ``(B, H·W, M)``): ``Concat`` is one copy into rows, the 1×1
  convolutions are matrix products on the rows, the depthwise conv runs on an NHWC view;
* ``ReLU(F_merged ⊙ w) = w ⊙ ReLU(F_merged)`` because ``w = σ(·) ≥ 0`` and ReLU (and
  LeakyReLU) are positively homogeneous, and a depthwise zero-padded conv commutes with a
  per-channel scale, so ``F_spatial = w ⊙ DWConv_nobias(ReLU(F_merged)) + b_dw``;
* hence the Eq. 10 projection of ``F_spatial`` is ``(P · diag w) DWConv_nobias(...) +
  (P b_dw + b_P)``: ``w`` is folded into the ``k x M`` projection weight (per sample) and
  ``F_spatial`` itself is never materialised.

It applies when the spatial conv is depthwise, the activation is ReLU/LeakyReLU and both
maps are projected (``inter_channels`` set); other options (and ``fused=False``) use the
literal evaluation. The two agree to float rounding (tests compare them and a frozen copy
of the original implementation); ``tools/analysis_tools/dgr_overhead.py`` times both.

Identity at initialisation: the final 1×1 conv (weight and bias) is zero, so
``out = F + 0`` equals ``F`` bit for bit and a host model with DGR inserted computes
exactly the host's function. Its gradient is nonzero from the first backward; the other
DGR parameters receive gradient once it has moved (after one optimizer step).
"""
import copy
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import SELayer
from mmseg.registry import MODELS

from .derivatives import THIRD_ORDER_OPERATORS, FixedDerivatives, laplacian, third_order

__all__ = ['INTERACTIONS', 'dgr_merge', 'pixel_outer_product', 'dgr_interaction',
           'DGRBlock']

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


@MODELS.register_module()
class DGRBlock(BaseModule):
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
