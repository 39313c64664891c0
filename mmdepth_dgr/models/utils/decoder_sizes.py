"""Size and width bookkeeping shared by the coarse-to-fine window decoders of NeWCRFs
(Yuan et al., CVPR 2022) and PixelFormer (Agarwal & Arora, WACV 2023): each level reads the
pixel-shuffled (×2) output of the level above, aligned to its encoder map.
"""
from typing import List, Sequence

from mmseg.models.utils import resize
from torch import Tensor

__all__ = ['match_size', 'pixel_shuffle_value_channels']


def match_size(v: Tensor, x: Tensor, align_corners: bool = False) -> Tensor:
    """Bilinearly resize ``v`` (B, C, h, w) to the spatial size of ``x`` if they differ.

    The host repos assume inputs divisible by 32 so that the pixel-shuffled upper level
    has exactly the size of the next encoder map; this guards other sizes.

    Args:
        v (Tensor): (B, C, h, w) map to align.
        x (Tensor): (B, C', H, W) reference map.
        align_corners (bool): Of the bilinear resize. Defaults to False.

    Returns:
        Tensor: (B, C, H, W).
    """
    if v.shape[2:] == x.shape[2:]:
        return v
    return resize(v, size=x.shape[2:], mode='bilinear', align_corners=align_corners)


def pixel_shuffle_value_channels(channels: int, crf_dims: Sequence[int],
                                 upscale: int = 2) -> List[int]:
    """Channels of the value map each level receives.

    The top level reads the PSP output (``channels``); level ``i < L−1`` reads the
    pixel-shuffled (×``upscale``) output of level ``i+1``, i.e. ``crf_dims[i+1] / r²``.

    Args:
        channels (int): PSP output channels.
        crf_dims (Sequence[int]): CRF widths, finest level first.
        upscale (int): Pixel-shuffle factor ``r``. Defaults to 2.

    Returns:
        list[int]: Value channels per level, finest first.
    """
    r2 = upscale * upscale
    bad = [d for d in crf_dims[1:] if d % r2]
    if bad:
        raise ValueError(f'decoder widths {list(crf_dims)} (decode_head.crf_dims of '
                         'NeWCRFsHead, sam_dims of PixelFormerHead) must be divisible by '
                         f'{r2} (pixel shuffle ×{upscale}) above the finest level.')
    return [d // r2 for d in crf_dims[1:]] + [channels]
