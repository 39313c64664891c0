"""Depth data transforms (registered in ``mmseg.registry.TRANSFORMS``).

Horizontal flip: use mmseg's ``RandomFlip``; it flips every ``seg_fields`` key, so
``gt_depth_map`` follows the image.
"""
from .cutdepth import CUTDEPTH_INDEX_ORDERS, CutDepth, cut_depth_box, paste_depth_patch
from .formatting import DEPTH_META_KEYS, PackDepthInputs
from .geometric import (KB_CROP_HW, NYU_BORDER_BOX, KBCrop, NYUBorderCrop, RandomCropDepth,
                        RandomRotateDepth, ResizeDepth, crop_results, kb_crop_offsets,
                        rotate_depth_nearest, rotate_image_bilinear)
from .loading import (LoadDepthFromFile, LoadRGBFromFile, decode_depth_png, read_depth_png,
                      read_file_bytes)
from .photometric import RandomGammaBrightnessColor, gamma_brightness_color

__all__ = [
    'LoadRGBFromFile', 'LoadDepthFromFile', 'decode_depth_png', 'read_depth_png',
    'read_file_bytes', 'KBCrop', 'NYUBorderCrop', 'RandomRotateDepth',
    'RandomCropDepth', 'ResizeDepth', 'kb_crop_offsets', 'crop_results',
    'rotate_depth_nearest', 'rotate_image_bilinear', 'KB_CROP_HW', 'NYU_BORDER_BOX',
    'RandomGammaBrightnessColor', 'gamma_brightness_color', 'PackDepthInputs',
    'DEPTH_META_KEYS', 'CutDepth', 'cut_depth_box', 'paste_depth_patch',
    'CUTDEPTH_INDEX_ORDERS'
]
