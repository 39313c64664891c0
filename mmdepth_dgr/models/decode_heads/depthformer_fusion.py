"""DepthFormer's global–local information fusion between decoder and encoder features.

Agarwal & Arora, "Depthformer: Multiscale Vision Transformer for Monocular Depth Estimation
with Global Local Information Fusion" (ICIP 2022). At each decoder stage the upsampled decoder
map ``d`` meets the encoder skip ``e`` of the same size::

    local  = ConvBNAct_3x3 ∘ ConvBNAct_3x3 ( cat(d, e) )                  (U-Net skip fusion)
    Q      = LN(local) as tokens (B, H·W, C)
    K = V  = LN(pool_{P×P}(Conv1x1(e))) as tokens (B, P·P, C)            global context
    out    = local + MHA(Q, K, V)                                        (residual)

The pooled keys make the attention cost O(H·W·P²) at any stage (spatial-reduction attention
as in PVT/SegFormer), so the module can be used at every decoder stage.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['DepthFormerGlobalLocalFusion']


@MODELS.register_module()
class DepthFormerGlobalLocalFusion(nn.Module):
    """Fuse an upsampled decoder map with an encoder skip: local convs + global attention.

    Choices: the released code fuses decoder and encoder maps with plain conv blocks
    (``with_global=False`` reproduces that); the paper's multi-head attention fusion is the
    residual cross-attention of the module docstring, keys/values pooled to
    ``kv_size × kv_size`` tokens. LeakyReLU as in the released decoder blocks.

    Args:
        dec_channels (int): Channels of the decoder map.
        skip_channels (int): Channels of the encoder skip.
        channels (int): Output channels (and attention width).
        num_heads (int): Attention heads; must divide ``channels``. Defaults to 4.
        kv_size (int): Side of the pooled key/value grid. Defaults to 8.
        with_global (bool): Add the attention branch. Defaults to True.
        norm_cfg (dict): Norm of the convs. Defaults to BN.
    """

    def __init__(self, dec_channels: int, skip_channels: int, channels: int,
                 num_heads: int = 4, kv_size: int = 8, with_global: bool = True,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        super().__init__()
        if with_global and channels % num_heads:
            raise ValueError(f'DepthFormerGlobalLocalFusion: channels={channels} must be '
                             f'divisible by num_heads={num_heads}.')
        act = dict(type='LeakyReLU', negative_slope=0.01)
        self.local = nn.Sequential(
            ConvModule(dec_channels + skip_channels, channels, 3, padding=1,
                       norm_cfg=norm_cfg, act_cfg=act),
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act))
        self.with_global = with_global
        self.kv_size = int(kv_size)
        if with_global:
            self.kv_proj = nn.Conv2d(skip_channels, channels, 1)
            self.norm_q = nn.LayerNorm(channels)
            self.norm_kv = nn.LayerNorm(channels)
            self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)

    def forward(self, dec: Tensor, skip: Tensor) -> Tensor:
        """``dec`` (B, C_d, H, W) (already at the skip's size), ``skip`` (B, C_e, H, W)."""
        if dec.shape[2:] != skip.shape[2:]:
            raise ValueError('DepthFormerGlobalLocalFusion: dec and skip must share H, W, got '
                             f'{tuple(dec.shape)} and {tuple(skip.shape)}.')
        local = self.local(torch.cat([dec, skip], dim=1))
        if not self.with_global:
            return local
        b, c, h, w = local.shape
        q = self.norm_q(local.flatten(2).transpose(1, 2))
        kv = F.adaptive_avg_pool2d(self.kv_proj(skip), self.kv_size)
        kv = self.norm_kv(kv.flatten(2).transpose(1, 2))
        g, _ = self.attn(q, kv, kv, need_weights=False)
        return local + g.transpose(1, 2).reshape(b, c, h, w)
