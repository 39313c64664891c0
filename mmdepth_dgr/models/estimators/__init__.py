from .mask_net import MaskNet, mask_density
from .mono_depth_estimator import FLIP_FUSIONS, MonoDepthEstimator, flip_tta, fuse_flip
from .sparse_mask_probe import (MASK_SPACES, SparseMaskProbe, apply_mask, binarize_mask,
                                image_region_mask, sparse_mask_loss)

__all__ = [
    'MonoDepthEstimator', 'flip_tta', 'fuse_flip', 'FLIP_FUSIONS', 'MaskNet',
    'mask_density', 'SparseMaskProbe',
    'MASK_SPACES', 'apply_mask', 'binarize_mask', 'image_region_mask', 'sparse_mask_loss'
]
