"""The sparse-pixel study (Yao, Wu, Zhang, BMVC 2024, Sec. 3.1; after Hu et al., ICCV 2019).

A package of its own, above the model layer: the mask network G (:mod:`.mask_net`), the
masking arithmetic of Eq. 4 (:mod:`.masking`), the harness that trains G against a frozen
depth network N it is handed (:mod:`.sparse_mask_probe`, :mod:`.depth_net`) and the study
that trains both masks, swaps them and reports (:mod:`.study`, run by
``tools/analysis_tools/sparse_pixel_probe.py``). Importing it registers ``MaskNet`` and
``SparseMaskProbe`` into mmseg's ``MODELS``.
"""
from .depth_net import build_depth_net, depth_net_preprocessor_cfg
from .mask_net import MaskNet, mask_density
from .masking import MASK_SPACES, apply_mask, binarize_mask, image_region_mask, sparse_mask_loss
from .sparse_mask_probe import SparseMaskProbe

__all__ = [
    'MaskNet', 'mask_density', 'SparseMaskProbe', 'MASK_SPACES', 'apply_mask',
    'binarize_mask', 'image_region_mask', 'sparse_mask_loss', 'build_depth_net',
    'depth_net_preprocessor_cfg'
]
