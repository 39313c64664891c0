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

  Why 'outer' with ``k = 4`` and ``reduction_ratio = 64`` is the default: measured with
  tools/analysis_tools/dgr_overhead.py (numbers in configs/dgr/README.md), full-width
  Hadamard costs ``M·C`` (= 4C²) per pixel: +17 % params on both the quickstart MiT-B0
  model and Swin-T, +6 % / +10.6 % FLOPs, far off the +3 % / +5 % budgets. 'outer' at
  ``k = 4`` costs ``2Mk + k²C`` and meets them (params +3.0 % / +1.9 %, FLOPs +1.9 % /
  +1.4 %); projected Hadamard at the same feature width (``k = 16``) costs more (+4.4 % /
  +2.4 % params) for only ``k`` diagonal products instead of all ``k²`` cross terms. Both
  learn the toy edge task of tests/test_models/test_layers/test_dgr.py. ``r = 64`` on
  ``M = 4C`` gives a hidden width of ``C/16``, i.e. the usual SE ratio 16 relative to C.

Identity at initialisation: the final 1×1 conv (weight and bias) is zero, so
``out = F + 0`` equals ``F`` bit for bit and a host model with DGR inserted computes
exactly the host's function. Its gradient is nonzero from the first backward; the other
DGR parameters receive gradient once it has moved (after one optimizer step).
"""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import SELayer
from mmseg.registry import MODELS

from .derivatives import THIRD_ORDER_OPERATORS, FixedDerivatives, laplacian, third_order

__all__ = ['INTERACTIONS', 'dgr_merge', 'pixel_outer_product', 'dgr_interaction',
           'DGRBlock']

INTERACTIONS = ('outer', 'hadamard')
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
            Defaults to 64.
        spatial_kernel_size (int): Kernel size of the Eq. 9 convolution. Defaults to 3.
        spatial_depthwise (bool): Depthwise (``groups=M``) Eq. 9 convolution instead of
            a dense one. Defaults to True.
        interaction (str): 'outer' or 'hadamard' (Eq. 10, see module docstring).
            Defaults to 'outer'.
        inter_channels (int, optional): Projection width ``k`` before the product.
            Required for 'outer'; ``None`` means no projection for 'hadamard'.
            Defaults to 4.
        act_cfg (dict): Activation of Eq. 8/9. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict | list[dict], optional): mmengine init config; the final 1×1 conv
            is zeroed after it in :meth:`init_weights`. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 third_order: str = 'laplacian_grad',
                 padding_mode: str = 'replicate',
                 reduction_ratio: int = 64,
                 spatial_kernel_size: int = 3,
                 spatial_depthwise: bool = True,
                 interaction: str = 'outer',
                 inter_channels: Optional[int] = 4,
                 act_cfg: dict = dict(type='ReLU'),
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

    def _zero_out_conv(self) -> None:
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def init_weights(self) -> None:
        """Run the mmengine init (``init_cfg``), then zero the final 1×1 conv."""
        super().init_weights()
        self._zero_out_conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine ``x`` ``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        lap, third = self.derivatives(x)
        merged = torch.cat([x, lap, third], dim=1)  # Eq. 7
        spatial = self.spatial_conv(self.channel_attention(merged))  # Eq. 8-9
        a, b = spatial, merged
        if self.proj_spatial is not None:
            a, b = self.proj_spatial(a), self.proj_merged(b)
        return x + self.out_conv(dgr_interaction(a, b, self.interaction))  # Eq. 10
