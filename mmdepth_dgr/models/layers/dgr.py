"""Depth Gradient Refinement block (Yao, Wu, Zhang, BMVC 2024, Sec. 3.2, Eq. 5-10, Fig. 4).

Math (``F`` is a ``(B, C, H, W)`` feature map)::

    F_merged      = Concat(F, ∇²F, ∇³F)                                  (Eq. 7)
    w             = σ(FC₂(ReLU(FC₁(GAP(F_merged)))))                     (Eq. 8)
    F_spatial     = Conv(ReLU(F_merged ⊙ w))                             (Eq. 9)
    F_interaction = Conv1×1(F_spatial ⊗ F_merged)                        (Eq. 10)
    out           = F + F_interaction        (residual; last 1×1 zero-initialised)

``∇²``/``∇³`` are the fixed stencils of :mod:`.derivatives` (Eq. 5/6), applied to the
features. The paper leaves the stencils, ``H``, the Eq. 9 convolution and the Eq. 10
product open; every reading is an option, and two presets name coherent sets of them
(the table of all readings, with what the paper's text and the authors' release say, is
in configs/dgr/README.md):

* ``preset='default'``: 5-point ``L``, ``H`` = ``(∂x∇², ∂y∇²)`` (``M = 4C`` merged
  channels), SE on ``M`` with hidden ``≈ M/72``, depthwise 3x3 Eq. 9 conv, Eq. 10 as a
  bounded outer product (both maps projected to ``k = 4`` channels, ``k² = 16`` products,
  then 1×1 to ``C``). Depthwise because a dense ``M -> M`` 3x3 conv costs ``9 M²`` MACs
  per pixel; bounded because a full per-pixel outer product has ``M²`` channels. The
  widths keep the quickstart model within +3 % params / +5 % FLOPs.
* ``preset='authors'``: the reading of the authors' released ``DGR.py`` (github
  Jiawei-Yao0812/PixelFormer_DGR), see :class:`DGRBlock`.

Fused evaluation (``fused=True``, default reading). The literal order (concatenate,
scale, activate, convolve, project) makes one memory pass over the ``M``-channel map per
step. The fused path computes the same function with fewer passes, from exact
identities: channels-last rows ``(B, H·W, M)`` (concat = one copy, 1×1 convs = matrix
products); ``ReLU(F_merged ⊙ w) = w ⊙ ReLU(F_merged)`` for ``w ≥ 0`` (ReLU/LeakyReLU are
positively homogeneous) and a depthwise conv commutes with a per-channel scale, so ``w``
is folded into the ``k x M`` projection weight and ``F_spatial`` is never materialised;
the stencils are shifted-slice sums; the ``∇³`` maps are concatenated per stencil
(``[x, ∇², ∂x∇² of all channels, ∂y∇² of all channels]``) and the downstream weights
are indexed by that permutation, so the parameters (and checkpoints) are those of the
literal order. Tests compare it (outputs and gradients, float64) with a frozen copy of
the original block.

Identity at initialisation: the final 1×1 conv (weight and bias) is zero, so
``out = F + 0`` equals ``F`` bit for bit and a host model with DGR inserted computes
exactly the host's function. Its gradient is nonzero from the first backward; the other
DGR parameters receive gradient once it has moved (after one optimizer step).
"""
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import SELayer
from mmseg.registry import MODELS

from .derivatives import (LAPLACIAN_STENCILS, PADDING_MODES, THIRD_ORDER_OPERATORS,
                          FixedDerivatives, laplacian, third_order)

__all__ = ['INTERACTIONS', 'THIRD_ORDER_READINGS', 'SPATIAL_WIDTHS', 'INTERACTION_OPERANDS',
           'DGR_PRESETS', 'FROM_PRESET', 'dgr_merge', 'pixel_outer_product',
           'dgr_interaction', 'DGRBlock']

INTERACTIONS = ('outer', 'hadamard')
THIRD_ORDER_READINGS = tuple(THIRD_ORDER_OPERATORS) + ('learnable', )
SPATIAL_WIDTHS = ('merged', 'input')
INTERACTION_OPERANDS = ('merged', 'recalibrated')
# Activations with act(w * m) == w * act(m) for w >= 0 (what the fused path relies on).
_POSITIVELY_HOMOGENEOUS = ('ReLU', 'LeakyReLU')
_WHERE = 'mmdepth_dgr/models/layers/dgr.py'


class _FromPreset:
    """Default of the preset-controlled :class:`DGRBlock` arguments."""

    def __repr__(self) -> str:
        return '<from preset>'


FROM_PRESET = _FromPreset()

# The readings of Eq. 5-10 a preset fixes (explicit DGRBlock arguments override them).
DGR_PRESETS: Dict[str, dict] = {
    'default': dict(laplacian='5-point', third_order='laplacian_grad',
                    padding_mode='replicate', reduction_ratio=72, spatial_depthwise=True,
                    spatial_width='merged', interaction='outer', inter_channels=4,
                    interaction_operand='merged'),
    'authors': dict(laplacian='8-neighbour', third_order='learnable', padding_mode='zeros',
                    reduction_ratio=2, spatial_depthwise=False, spatial_width='input',
                    interaction='hadamard', inter_channels=None,
                    interaction_operand='recalibrated'),
}


def dgr_merge(x: torch.Tensor, third_order_op: str = 'laplacian_grad',
              padding_mode: str = 'replicate', laplacian_stencil: str = '5-point'
              ) -> torch.Tensor:
    """``F_merged = Concat(F, ∇²F, ∇³F)`` (Eq. 5-7) with fixed stencils, functional twin
    of the block's merge (depthwise convolutions, the reference evaluation).

    Args:
        x (torch.Tensor): ``(B, C, H, W)``.
        third_order_op (str): Reading of ``H`` (Eq. 6), see
            :data:`~.derivatives.THIRD_ORDER_OPERATORS`. Defaults to 'laplacian_grad'.
        padding_mode (str): 'replicate', 'reflect' or 'zeros'. Defaults to 'replicate'.
        laplacian_stencil (str): ``L`` of Eq. 5 (and of the 'laplacian_grad*'
            readings), see :data:`~.derivatives.LAPLACIAN_STENCILS`. Defaults to
            '5-point'.

    Returns:
        torch.Tensor: ``(B, (2 + m) C, H, W)``.
    """
    return torch.cat([x, laplacian(x, padding_mode, laplacian_stencil),
                      third_order(x, third_order_op, padding_mode,
                                  laplacian_stencil=laplacian_stencil)], dim=1)


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

    For 'hadamard', ``a`` may have ``P`` channels and ``b`` ``g * P``: ``a`` then
    multiplies each of ``b``'s ``g`` consecutive ``P``-channel groups (the broadcast the
    authors' reading needs, ``F_spatial`` having ``C`` channels and ``F_merged`` ``3C``).

    Args:
        a (torch.Tensor): ``(B, P, H, W)`` (from ``F_spatial``).
        b (torch.Tensor): ``(B, Q, H, W)`` (from ``F_merged``); for Hadamard ``Q`` is a
            multiple of ``P``.
        mode (str): 'outer' or 'hadamard'. Defaults to 'outer'.

    Returns:
        torch.Tensor: ``(B, P * Q, H, W)`` ('outer') or ``(B, Q, H, W)`` ('hadamard').
    """
    if mode == 'outer':
        return pixel_outer_product(a, b)
    if mode == 'hadamard':
        p, q = a.shape[1], b.shape[1]
        if p != q:
            if q % p:
                raise ValueError(f'{_WHERE}: Hadamard product of {p} and {q} channels: '
                                 f'{q} is not a multiple of {p}')
            a = a.repeat(1, q // p, 1, 1)
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


def _in_place_ok() -> bool:
    """In-place updates of saved-for-backward maps and ``out=`` writes are safe only
    without autograd; a traced or compiled graph must not depend on the grad mode."""
    return not (torch.is_grad_enabled() or torch.jit.is_tracing()
                or torch.compiler.is_compiling())


def _add_(t: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``t + other``, in place on the fresh ``t`` when that is safe."""
    return t.add_(other) if _in_place_ok() else t + other


def _activate_(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``act(x)``, computed in place for the ReLU family when that is safe."""
    if _in_place_ok():
        if isinstance(act, nn.ReLU):
            return x.relu_()
        if isinstance(act, nn.LeakyReLU):
            return F.leaky_relu_(x, act.negative_slope)
    return act(x)


@MODELS.register_module()
class DGRBlock(BaseModule):
    """Depth Gradient Refinement: ``out = F + Conv1×1(F_spatial ⊗ F_merged)`` (Eq. 5-10).

    A preset fills the reading arguments (those defaulting to ``FROM_PRESET``); any of
    them given explicitly overrides the preset's value (e.g.
    ``dict(preset='authors', padding_mode='replicate')`` is the authors' reading with
    replicate borders). The other arguments are independent of the preset.

    ``preset='authors'`` reproduces the released ``DGR.py`` of the authors as far as it
    can run: a fixed 8-neighbour Laplacian ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` and a
    *learnable* depthwise 3x3 conv as ``H`` (no bias, PyTorch's default init; the
    release defines a fixed third-order kernel but never uses it), both with zero
    padding, so ``M = 3C``; SE with reduction 2 on the merged map; a dense 3x3 conv
    ``3C -> C`` (with bias) as Eq. 9; the element-wise product
    ``F_spatial ⊙ (F_merged ⊙ w)`` as Eq. 10, then a 1×1 conv. As released it does not
    run; the smallest fix for each shape error is made:

    1. FC₁ is sized ``C -> C/2`` but fed the ``3C`` pooled merged map, and FC₂'s ``C``
       gates cannot scale the ``3C`` channels: the SE runs on ``M = 3C`` with reduction
       2 (``3C -> 3C/2 -> 3C``; mmseg's ``SELayer`` rounds the hidden width to a
       multiple of 8, equal to ``3C/2`` whenever ``C`` is a multiple of 16, as on every
       supported host).
    2. The ``(1, 1, 3, 3)`` Laplacian is assigned to the weight of a ``groups=C`` conv,
       which needs ``(C, 1, 3, 3)``: the kernel is repeated per channel (and held fixed,
       as a buffer; in the release it would be a trainable initial value).
    3. ``F_spatial`` (``C`` channels) times ``F_merged ⊙ w`` (``3C``) does not
       broadcast: ``F_spatial`` multiplies each of the three ``C``-channel groups (``F``,
       ``∇²F``, ``∇³F`` of the same channel), giving ``3C`` products, and the final 1×1
       conv is ``3C -> C`` instead of ``C -> C``.

    The release has **no residual** (``out = F_interaction``), which makes the block
    replace the features it refines: inserted into a pretrained host it would destroy
    the host's function at initialisation. This block always adds the residual with the
    final 1×1 conv zero-initialised, so a host with DGR inserted starts as the host.

    Args:
        in_channels (int): Channels ``C`` of the refined feature map (in = out).
        preset (str): 'default' or 'authors' (:data:`DGR_PRESETS`). Defaults to
            'default'.
        laplacian (str): ``L`` stencil of Eq. 5, '5-point' or '8-neighbour'
            (:data:`~.derivatives.LAPLACIAN_STENCILS`). Defaults to the preset's
            ('5-point' / '8-neighbour').
        third_order (str): Reading of ``H`` (Eq. 6): a fixed stencil of
            :data:`~.derivatives.THIRD_ORDER_OPERATORS` or 'learnable' (depthwise 3x3
            conv). Defaults to the preset's ('laplacian_grad' / 'learnable').
        padding_mode (str): Border padding of the stencils, 'replicate', 'reflect' or
            'zeros'. Defaults to the preset's ('replicate' / 'zeros').
        reduction_ratio (int): Channel-attention squeeze ratio (Eq. 8) relative to the
            merged width ``M``; the hidden width is ``make_divisible(M // ratio, 8)``.
            Defaults to the preset's (72 / 2).
        spatial_depthwise (bool): Depthwise (``groups=M``) Eq. 9 convolution instead of
            a dense one. Defaults to the preset's (True / False).
        spatial_width (str): Output width of the Eq. 9 conv, 'merged' (``M``) or
            'input' (``C``, dense only). Defaults to the preset's ('merged' / 'input').
        interaction (str): 'outer' or 'hadamard' (Eq. 10). Defaults to the preset's
            ('outer' / 'hadamard').
        inter_channels (int, optional): Projection width ``k`` of both Eq. 10 operands
            (1×1 convs) before the product. Required for 'outer'; ``None`` means no
            projection for 'hadamard'. Defaults to the preset's (4 / None).
        interaction_operand (str): Second operand of Eq. 10: 'merged' (``F_merged``, the
            equation) or 'recalibrated' (``F_merged ⊙ w``, the release). Defaults to the
            preset's ('merged' / 'recalibrated').
        stencil_channels (int, optional): Model-level lever: project ``F`` to this many
            channels (1×1 conv, no bias) and apply the stencils to the projection, so
            ``F_merged = Concat(F, ∇²PF, ∇³PF)`` has ``M = C + (1 + m) r`` channels
            instead of ``(2 + m) C``. ``1`` is the literal "derivatives of a (learned)
            depth map" of Eq. 5-6. Defaults to None (stencils on ``F``).
        spatial_kernel_size (int): Kernel size of the Eq. 9 convolution; ``1`` (a
            per-channel scale when depthwise) is a model-level lever that removes the
            spatial conv. Defaults to 3.
        act_cfg (dict): Activation of Eq. 8/9. Defaults to ``dict(type='ReLU')``.
        fused (bool): Use the fused channels-last evaluation (module docstring) when the
            options allow it; False always runs the literal Eq. 7-10 order. Same
            parameters and function either way. Defaults to True.
        with_cp (bool): Activation checkpointing in training
            (``torch.utils.checkpoint``, non-reentrant): the block's intermediate maps
            are recomputed in backward instead of stored. Same outputs and gradients.
            Defaults to False.
        init_cfg (dict | list[dict], optional): mmengine init config; the final 1×1 conv
            is zeroed after it in :meth:`init_weights`. Defaults to None.

    Attributes:
        channel_attention (SELayer): The Eq. 8 module (returns ``F_merged ⊙ w``); a
            wrapper may replace it by a module shared between blocks.
        reading (dict): The resolved reading arguments.
        merged_channels (int): ``M``.
    """

    def __init__(self,
                 in_channels: int,
                 preset: str = 'default',
                 laplacian: str = FROM_PRESET,
                 third_order: str = FROM_PRESET,
                 padding_mode: str = FROM_PRESET,
                 reduction_ratio: int = FROM_PRESET,
                 spatial_depthwise: bool = FROM_PRESET,
                 spatial_width: str = FROM_PRESET,
                 interaction: str = FROM_PRESET,
                 inter_channels: Optional[int] = FROM_PRESET,
                 interaction_operand: str = FROM_PRESET,
                 stencil_channels: Optional[int] = None,
                 spatial_kernel_size: int = 3,
                 act_cfg: dict = dict(type='ReLU'),
                 fused: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if preset not in DGR_PRESETS:
            raise ValueError(f'{_WHERE}: DGRBlock preset={preset!r} is unknown; use one of '
                             f'{sorted(DGR_PRESETS)}')
        given = dict(laplacian=laplacian, third_order=third_order,
                     padding_mode=padding_mode, reduction_ratio=reduction_ratio,
                     spatial_depthwise=spatial_depthwise, spatial_width=spatial_width,
                     interaction=interaction, inter_channels=inter_channels,
                     interaction_operand=interaction_operand)
        reading = {k: (DGR_PRESETS[preset][k] if v is FROM_PRESET else v)
                   for k, v in given.items()}
        self._check(in_channels, reading, stencil_channels, spatial_kernel_size)
        self.preset = preset
        self.reading = reading
        self.in_channels = in_channels
        self.interaction = reading['interaction']
        self.inter_channels = reading['inter_channels']
        self.interaction_operand = reading['interaction_operand']
        self.with_cp = bool(with_cp)

        # Eq. 5-6 (optionally on a channel-reduced projection), fixed stencils.
        r = in_channels if stencil_channels is None else stencil_channels
        self.stencil_proj = (None if stencil_channels is None else
                             nn.Conv2d(in_channels, stencil_channels, 1, bias=False))
        learnable = reading['third_order'] == 'learnable'
        self.derivatives = FixedDerivatives(
            r, None if learnable else reading['third_order'], reading['padding_mode'],
            laplacian=reading['laplacian'])
        # The authors' reading of H: a learnable depthwise 3x3 conv (no bias).
        self.third_conv = (nn.Conv2d(r, r, 3, padding=1, groups=r, bias=False,
                                     padding_mode=reading['padding_mode'])
                           if learnable else None)
        third_maps = r if learnable else self.derivatives.out_channels[1]
        merged = in_channels + r + third_maps
        self.merged_channels = merged

        act_cfg = copy.deepcopy(act_cfg)
        if act_cfg.get('type') in ('ReLU', 'LeakyReLU', 'ReLU6', 'ELU', 'SiLU', 'Swish'):
            act_cfg.setdefault('inplace', False)
        # Eq. 8: w = σ(FC₂(ReLU(FC₁(GAP(F_merged))))), returns F_merged ⊙ w.
        self.channel_attention = SELayer(
            merged, ratio=reading['reduction_ratio'],
            act_cfg=(act_cfg, dict(type='Sigmoid')))
        # Eq. 9: F_spatial = Conv(ReLU(F_merged ⊙ w)) (activation first, then conv).
        spatial_out = merged if reading['spatial_width'] == 'merged' else in_channels
        self.spatial_conv = ConvModule(
            merged, spatial_out, spatial_kernel_size, padding=spatial_kernel_size // 2,
            groups=merged if reading['spatial_depthwise'] else 1, norm_cfg=None,
            act_cfg=act_cfg, order=('act', 'conv', 'norm'))
        # Eq. 10: bounded ⊗ then 1x1 back to C.
        k = self.inter_channels
        if k:
            self.proj_spatial = nn.Conv2d(spatial_out, k, 1)
            self.proj_merged = nn.Conv2d(merged, k, 1)
            prod = k**2 if self.interaction == 'outer' else k
        else:
            self.proj_spatial = self.proj_merged = None
            prod = merged
        self.out_conv = nn.Conv2d(prod, in_channels, 1)
        self._zero_out_conv()
        self.fused = bool(fused)
        # The fused path's identities hold for a depthwise zero-padded Eq. 9 conv, a
        # positively homogeneous activation and projected maps; else: literal order.
        self.can_fuse = (reading['spatial_depthwise'] and k is not None and not learnable
                         and act_cfg.get('type') in _POSITIVELY_HOMOGENEOUS
                         and self.spatial_conv.conv.padding_mode == 'zeros'
                         and not self.spatial_conv.with_norm
                         and not self.channel_attention.conv1.with_norm
                         and not self.channel_attention.conv2.with_norm)
        # Fused channel order -> stored (literal) channel index: the ∇³ maps come per
        # stencil ([∂x of every channel, ∂y of every channel]) instead of interleaved.
        m = len(self.derivatives._third_taps) if not learnable else 1
        if self.can_fuse and m > 1 and reading['third_order'] != 'laplacian_grad_mag':
            base = in_channels + r
            perm = list(range(base)) + [base + c * m + i for i in range(m) for c in range(r)]
            self.register_buffer('_fused_perm', torch.tensor(perm), persistent=False)
        else:
            self._fused_perm = None

    @staticmethod
    def _check(in_channels, reading, stencil_channels, spatial_kernel_size) -> None:
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f'{_WHERE}: DGRBlock in_channels must be a positive int, '
                             f'got {in_channels!r}')
        choices = dict(laplacian=tuple(LAPLACIAN_STENCILS), third_order=THIRD_ORDER_READINGS,
                       padding_mode=PADDING_MODES, interaction=INTERACTIONS,
                       spatial_width=SPATIAL_WIDTHS,
                       interaction_operand=INTERACTION_OPERANDS)
        for key, allowed in choices.items():
            if reading[key] not in allowed:
                raise ValueError(f'{_WHERE}: DGRBlock {key}={reading[key]!r} is unknown; '
                                 f'use one of {list(allowed)}')
        if reading['interaction'] == 'outer' and not reading['inter_channels']:
            raise ValueError(f'{_WHERE}: DGRBlock interaction="outer" needs '
                             'inter_channels (k) > 0: a full outer product has M² channels')
        if spatial_kernel_size % 2 != 1:
            raise ValueError(f'{_WHERE}: DGRBlock spatial_kernel_size must be odd, got '
                             f'{spatial_kernel_size}')
        if stencil_channels is not None and (not isinstance(stencil_channels, int)
                                             or stencil_channels <= 0):
            raise ValueError(f'{_WHERE}: DGRBlock stencil_channels must be a positive int '
                             f'or None, got {stencil_channels!r}')
        if reading['spatial_width'] == 'input':
            if reading['spatial_depthwise']:
                raise ValueError(f'{_WHERE}: DGRBlock spatial_width="input" (M -> C) needs '
                                 'a dense Eq. 9 conv: set spatial_depthwise=False')
            if (reading['interaction'] == 'hadamard' and not reading['inter_channels']
                    and stencil_channels is not None):
                raise ValueError(
                    f'{_WHERE}: DGRBlock: a Hadamard product of F_spatial (C channels) '
                    'and F_merged needs M to be a multiple of C, which stencil_channels '
                    'breaks; set inter_channels or spatial_width="merged"')

    def _zero_out_conv(self) -> None:
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def init_weights(self) -> None:
        """Run the mmengine init (``init_cfg``), then zero the final 1×1 conv."""
        super().init_weights()
        self._zero_out_conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x`` ``(B, C, H, W)`` -> ``(B, C, H, W)`` (same memory format as ``x``)."""
        fwd = self._forward_fused if self.fused and self.can_fuse else self._forward_literal
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(fwd, x, use_reentrant=False)
        return fwd(x)

    def _stencil_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.stencil_proj is None else self.stencil_proj(x)

    def _forward_literal(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 7-10 in the paper's order (every intermediate map materialised)."""
        src = self._stencil_input(x)
        lap, third = self.derivatives(src)
        if self.third_conv is not None:
            third = self.third_conv(src)
        merged = torch.cat([x, lap, third], dim=1)  # Eq. 7
        recalibrated = self.channel_attention(merged)  # Eq. 8: F_merged ⊙ w
        spatial = self.spatial_conv(recalibrated)  # Eq. 9
        a = spatial
        b = recalibrated if self.interaction_operand == 'recalibrated' else merged
        if self.proj_spatial is not None:
            a, b = self.proj_spatial(a), self.proj_merged(b)
        return x + self.out_conv(dgr_interaction(a, b, self.interaction))  # Eq. 10

    def _merge_rows(self, xc: torch.Tensor, x_rows: torch.Tensor):
        """``F_merged`` as rows ``(B, L, M)`` in the fused channel order, and the weights
        that read it, indexed by ``_fused_perm`` into that order."""
        bsz, c, h, w = xc.shape
        src = xc
        if self.stencil_proj is not None:  # 1x1 conv C -> r as a matrix product
            src = F.linear(x_rows, self.stencil_proj.weight.flatten(1))
            src = src.view(bsz, h, w, -1).permute(0, 3, 1, 2)
        lap = self.derivatives.lap(src)
        maps = [xc, lap] + self.derivatives.third_parts(src, lap)
        merged = torch.cat([t.permute(0, 2, 3, 1) for t in maps], dim=3).view(bsz, h * w, -1)
        se = self.channel_attention
        # weights reading F_merged's channels: columns (w1, p_m, p_sp), rows (w2, b2, dw)
        cols = [se.conv1.conv.weight.flatten(1), self.proj_merged.weight.flatten(1),
                self.proj_spatial.weight.flatten(1)]
        dw = self.spatial_conv.conv.weight
        rows = [se.conv2.conv.weight.flatten(1), se.conv2.conv.bias.unsqueeze(1),
                dw.flatten(1)]
        perm = self._fused_perm
        if perm is not None:  # one gather for each kind
            cols = torch.cat(cols, 0).index_select(1, perm).split(
                [t.shape[0] for t in cols], 0)
            rows = torch.cat(rows, 1).index_select(0, perm).split(
                [t.shape[1] for t in rows], 1)
        # the Eq. 9 weight contiguous: oneDNN is markedly slower with the strided gathered one
        return merged, dict(w1=cols[0], p_m=cols[1], p_sp=cols[2], w2=rows[0],
                            b2=rows[1].squeeze(1), dw=rows[2].contiguous().view_as(dw))

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        """Same function as :meth:`_forward_literal`, fewer passes (module docstring).

        Shapes: ``L = H·W``; "rows" are channels-last ``(B, L, channels)`` views.
        """
        bsz, c, h, w = x.shape
        n = h * w
        xc = x.contiguous(memory_format=torch.channels_last)
        x_rows = xc.permute(0, 2, 3, 1).reshape(bsz, n, c)  # a view
        merged, wts = self._merge_rows(xc, x_rows)  # Eq. 5-7
        # Eq. 8: w = σ(FC₂(act(FC₁(GAP(F_merged))))), SELayer's own 1×1 convs as linears;
        # GAP as a matrix product with 1/L (faster than a reduction over rows).
        se = self.channel_attention
        gap = torch.matmul(merged.new_full((1, 1, n), 1.0 / n), merged).squeeze(1)
        hidden = se.conv1.activate(F.linear(gap, wts['w1'], se.conv1.conv.bias))
        gate = se.conv2.activate(F.linear(hidden, wts['w2'], wts['b2']))  # (B, M)
        # Eq. 10's second operand, before F_merged is activated in place below:
        # proj_merged(F_merged) or proj_merged(F_merged ⊙ w) = (P·diag w) F_merged.
        p_m = wts['p_m']
        if self.interaction_operand == 'recalibrated':
            b = torch.baddbmm(self.proj_merged.bias.view(1, 1, -1), merged,
                              (p_m.unsqueeze(0) * gate.unsqueeze(1)).transpose(1, 2))
        else:
            b = F.linear(merged, p_m, self.proj_merged.bias)
        # Eq. 9 without the gate: DWConv_nobias(act(F_merged)) (act(w·m) = w·act(m), w ≥ 0).
        act = _activate_(self.spatial_conv.activate, merged)
        dw = self.spatial_conv.conv
        scale = gate
        if dw.kernel_size == (1, 1):  # a per-channel scale: fold it into the gate too
            scale = gate * wts['dw'].flatten()
            s = act
        else:
            s = F.conv2d(act.view(bsz, h, w, -1).permute(0, 3, 1, 2), wts['dw'], None,
                         dw.stride, dw.padding, dw.dilation, dw.groups)
            s = s.permute(0, 2, 3, 1).reshape(bsz, n, -1)
        # Eq. 10 projection of F_spatial = (P·diag w) DWConv_nobias(act) + (P b_dw + b_P);
        # P b_dw is a sum over channels, taken in the stored order on both sides.
        bias_a = self.proj_spatial.bias
        if dw.bias is not None:
            bias_a = F.linear(dw.bias, self.proj_spatial.weight.flatten(1), bias_a)
        a = torch.baddbmm(bias_a.view(1, 1, -1), s,
                          (wts['p_sp'].unsqueeze(0) * scale.unsqueeze(1)).transpose(1, 2))
        if self.interaction == 'outer':  # channel p*k + q = a_p b_q (pixel_outer_product)
            k = a.shape[2]
            prod = (a.unsqueeze(3) * b.unsqueeze(2)).reshape(bsz, n, k * k)
        else:
            prod = a * b
        w_out = self.out_conv.weight.flatten(1)  # (C, k²)
        if x.is_contiguous():  # NCHW host: produce the result directly as (B, C, L)
            out = torch.baddbmm(x.view(bsz, c, n), w_out.expand(bsz, -1, -1),
                                prod.transpose(1, 2))
            out = _add_(out, self.out_conv.bias.view(c, 1))
            return _with_strides_of(out.view(bsz, c, h, w), x)
        # channels-last (MiT, Swin tokens): x + prod W^T as rows = NHWC
        out = torch.baddbmm(x_rows, prod, w_out.t().expand(bsz, -1, -1))
        out = _add_(out, self.out_conv.bias).view(bsz, h, w, c).permute(0, 3, 1, 2)
        if not x.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous()
        return _with_strides_of(out, x)
