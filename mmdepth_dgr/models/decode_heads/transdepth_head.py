"""TransDepth's decoder (Yang, Tang, Ding, Sebe, Ricci, "Transformer-Based Attention Networks
for Continuous Pixel-Wise Prediction", ICCV 2021) as the official ``BtsModel`` computes it
(ygjwd12345/TransDepth, ``pytorch/bts.py``).

The encoder is TransUNet's R50+ViT-B/16 hybrid (``CNNViTHybrid`` with
``TransUNetResNetV2`` and ``VisionTransformerNoPos``), returning the ResNet maps
``s_1`` (1/2), ``s_2`` (1/4), ``s_3`` (1/8) and the ViT tokens ``t`` (1/16). This head::

    x_16 = CBR3x3(t)                 C_t → 1024   (TransUNet's ``DecoderCup.conv_more``)
    x_32 = CBR3x3/2(x_16)            1024 → 2048  (``DecoderCup.conv_more_``)
    a    = AGD(s_3, x_16, x_32)      attention-gated fusion, 4w channels at 1/32
    depth = BTS(s_1, s_2, s_3, x_16, a)     d_max · σ(·) at full resolution

(CBR: conv without bias + BatchNorm + ReLU.) The two ``DecoderCup`` convs belong to the
official *encoder* module (its weight-decay group); they live here because they turn the
token map into the CNN-style pyramid this head reads. The AGD is in ``transdepth_agd.py``,
the BTS decoder in ``transdepth_bts.py``. The official output has no lower offset:
``min_depth`` must be 0 (depth = d_max · σ).
"""
from typing import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from .depth_base_head import DepthBaseHead
from .transdepth_agd import TransDepthAGD
from .transdepth_bts import BTSDecoder

__all__ = ['TransDepthHead']

_WHERE = 'mmdepth_dgr/models/decode_heads/transdepth_head.py'


@MODELS.register_module()
class TransDepthHead(DepthBaseHead):
    """Token projection + AGD + BTS decoder (module docstring).

    Args:
        token_channels (Sequence[int]): Widths of ``x_16`` and ``x_32``. Defaults to
            (1024, 2048) (official).
        agd (dict): Keyword arguments of :class:`TransDepthAGD` besides ``in_channels``
            (``width`` 512, ``dilations`` (1, 4, 8), ``gate`` 'structured', ``att_rank`` 3).
            Defaults to ``dict()``.
        norm_cfg (dict): Norm of the token projection and the AGD convs. Defaults to BN.
        **kwargs: :class:`DepthBaseHead` arguments: ``in_channels`` of the four selected
            levels ``[s_1, s_2, s_3, t]``, ``channels`` = the BTS width F (official
            ``bts_size``, 512), ``min_depth`` (must be 0), ``max_depth``, ...
    """

    def __init__(self,
                 token_channels: Sequence[int] = (1024, 2048),
                 agd: dict = dict(),
                 norm_cfg: dict = dict(type='BN'),
                 **kwargs) -> None:
        kwargs.setdefault('min_depth', 0.0)
        super().__init__(**kwargs)
        if len(self.in_channels) != 4:
            raise ValueError(f'{_WHERE}: TransDepthHead reads four levels [1/2, 1/4, 1/8 '
                             f'ResNet maps, 1/16 ViT tokens], got in_channels='
                             f'{self.in_channels}')
        if self.min_depth != 0:
            raise ValueError(f'{_WHERE}: the official output is max_depth * sigmoid(z) with '
                             f'no offset; set min_depth=0 (got {self.min_depth})')
        c1, c2, c3, ct = self.in_channels
        x16, x32 = (int(c) for c in token_channels)
        relu = dict(type='ReLU')
        self.token_proj = nn.Sequential(
            ConvModule(ct, x16, 3, padding=1, bias=False, norm_cfg=norm_cfg, act_cfg=relu),
            ConvModule(x16, x32, 3, stride=2, padding=1, bias=False, norm_cfg=norm_cfg,
                       act_cfg=relu))
        self.agd = TransDepthAGD((c3, x16, x32), norm_cfg=norm_cfg, **agd)
        self.bts = BTSDecoder((c1, c2, c3, x16, self.agd.out_channels), self.channels,
                              self.max_depth)

    def init_weights(self) -> None:
        """As the official training script: Xavier-uniform convs (zero bias) in the BTS
        decoder (``weights_init_xavier``); PyTorch's default init elsewhere."""
        super().init_weights()
        if self.init_cfg is None:
            for m in self.bts.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Depth (B, 1, H, W) in metres, H = 2 × the height of the 1/2 level."""
        s1, s2, s3, tokens = self._select_inputs(inputs)
        x16 = self.token_proj[0](tokens)
        x32 = self.token_proj[1](x16)
        return self.bts(s1, s2, s3, x16, self.agd(s3, x16, x32))
