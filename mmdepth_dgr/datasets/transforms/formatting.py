"""Pack a depth sample into ``inputs`` + mmseg ``SegDataSample``."""
from typing import Sequence

import numpy as np
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

__all__ = ['PackDepthInputs', 'DEPTH_META_KEYS']

#: metainfo copied into the data sample when present in the results.
DEPTH_META_KEYS = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction', 'focal', 'ori_focal',
                   'kb_crop', 'border_crop', 'depth_scale', 'scene', 'category')


@TRANSFORMS.register_module()
class PackDepthInputs(PackSegInputs):
    """Pack ``inputs`` ``(C, H, W)`` and a ``SegDataSample`` with ``gt_depth_map``.

    mmseg's ``PackSegInputs`` already packs ``gt_depth_map`` as
    ``PixelData(data=(1, H, W) tensor)``; this subclass changes the default meta keys
    to the depth ones, casts the GT to float32 and checks that the image and the GT
    still have the same size after the pipeline (error naming both files and shapes).
    Only the meta keys present in the results are copied.

    Args:
        meta_keys (Sequence[str]): keys copied into the sample's metainfo. Defaults to
            :data:`DEPTH_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = DEPTH_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Check shapes, then pack."""
        gt = results.get('gt_depth_map')
        if gt is not None:
            if gt.ndim != 2:
                raise ValueError(f'gt_depth_map of {results.get("depth_map_path")} must '
                                 f'be (H, W), got {gt.shape}')
            img = results.get('img')
            if img is not None and img.shape[:2] != gt.shape:
                raise ValueError(
                    f'image {results.get("img_path")} is {img.shape[:2]} but depth '
                    f'map {results.get("depth_map_path")} is {gt.shape} after the '
                    'pipeline')
            results['gt_depth_map'] = np.ascontiguousarray(gt, dtype=np.float32)
        return super().transform(results)
