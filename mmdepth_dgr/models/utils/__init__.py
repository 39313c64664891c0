"""Decoder layers shared by several host heads (NeWCRFs and PixelFormer today)."""
from .decoder_sizes import match_size, pixel_shuffle_value_channels
from .psp_top import PSPTop
from .window_attention import (CRFWindowAttention, RelPosWindowAttention, SkipWindowAttention,
                               shifted_window_mask, window_attention_2d)

__all__ = [
    'match_size', 'pixel_shuffle_value_channels', 'PSPTop', 'CRFWindowAttention',
    'RelPosWindowAttention', 'SkipWindowAttention', 'shifted_window_mask',
    'window_attention_2d'
]
