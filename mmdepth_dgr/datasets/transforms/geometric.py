"""Geometric transforms that keep metric depth consistent with the image.

Depth maps live in ``results['seg_fields']`` (``LoadDepthFromFile`` puts
``gt_depth_map`` there) and are always resampled with nearest-neighbour interpolation,
so every output depth value is one of the input values (no blending of a foreground
and a background depth into a value that exists nowhere) and 0 (invalid) is never
turned into a small positive depth. Pixels that come from outside the image get depth
0 (invalid).

Horizontal flips: reuse mmseg's ``RandomFlip`` (``dict(type='RandomFlip', prob=0.5)``),
which flips every key of ``seg_fields``, hence ``gt_depth_map``
(``tests/test_datasets/test_transforms/test_geometric.py`` pins that).

The crops follow BTS (Lee et al. 2019, ``bts_dataloader.py``), which NeWCRFs and
PixelFormer copy:

* KITTI "kb crop" (``do_kb_crop``): ``top = H - 352``, ``left = int((W - 1216) / 2)``,
  keep ``352 x 1216``.
* NYU train crop "to avoid blank boundaries due to pixel registration": PIL box
  ``(43, 45, 608, 472)`` i.e. rows ``45:472``, columns ``43:608`` (``427 x 565``) of the
  ``480 x 640`` frame. NeWCRFs, when training at full ``480 x 640``, instead keeps the
  image and zeroes the GT outside that box (``mode='mask'`` here). Evaluation does
  not use this crop: the metric applies the Eigen crop (rows ``45:471``, columns
  ``41:601``).
* Random rotation: angle uniform in ``[-degree, degree]`` (BTS: 2.5 for NYU, 1.0 for
  KITTI), image bilinear, depth nearest, applied to every training sample.
* Random crop: ``416 x 544`` (NYU) / ``352 x 704`` (KITTI) in BTS; an image smaller
  than the crop is an error (BTS asserts), not a silently smaller crop.
"""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomCrop as MMSEG_RandomCrop
from mmseg.datasets.transforms import Resize as MMSEG_Resize
from mmseg.registry import TRANSFORMS

__all__ = [
    'KBCrop', 'NYUBorderCrop', 'RandomRotateDepth', 'RandomCropDepth', 'ResizeDepth',
    'kb_crop_offsets', 'crop_results', 'rotate_depth_nearest', 'rotate_image_bilinear',
    'NYU_BORDER_BOX', 'KB_CROP_HW'
]

#: KITTI benchmark crop size ``(h, w)``.
KB_CROP_HW = (352, 1216)
#: BTS NYU train crop as ``(top, left, bottom, right)`` (rows 45:472, cols 43:608).
NYU_BORDER_BOX = (45, 43, 472, 608)
#: frame size the NYU box refers to.
NYU_FRAME_HW = (480, 640)


def _is_depth_key(key: str) -> bool:
    return 'depth' in key


def kb_crop_offsets(h: int, w: int, crop_h: int = 352,
                    crop_w: int = 1216) -> Tuple[int, int]:
    """Top-left corner of the KITTI benchmark crop: bottom-aligned, horizontally centred.

    ``top = h - crop_h``, ``left = (w - crop_w) // 2`` (BTS writes
    ``int((w - 1216) / 2)``, the same for ``w >= 1216``).

    Args:
        h (int): image height.
        w (int): image width.
        crop_h (int): crop height. Defaults to 352.
        crop_w (int): crop width. Defaults to 1216.

    Returns:
        tuple[int, int]: ``(top, left)``.
    """
    if h < crop_h or w < crop_w:
        raise ValueError(f'image {h}x{w} is smaller than the {crop_h}x{crop_w} crop')
    return h - crop_h, (w - crop_w) // 2


def crop_results(results: dict, top: int, left: int, h: int, w: int) -> None:
    """Crop ``results['img']`` and every ``seg_fields`` key in place; set ``img_shape``.

    Args:
        results (dict): pipeline results.
        top (int): first row.
        left (int): first column.
        h (int): crop height.
        w (int): crop width.
    """
    results['img'] = results['img'][top:top + h, left:left + w, ...]
    for key in results.get('seg_fields', []):
        if results.get(key) is not None:
            results[key] = results[key][top:top + h, left:left + w, ...]
    results['img_shape'] = results['img'].shape[:2]


def rotate_image_bilinear(img: np.ndarray, angle_deg: float,
                          pad_val: Union[int, float] = 0) -> np.ndarray:
    """Rotate an image about its centre with bilinear interpolation.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)`` image.
        angle_deg (float): angle in degrees, positive = clockwise (mmcv convention).
        pad_val (int | float): value of pixels from outside the image. Defaults to 0.

    Returns:
        np.ndarray: rotated image, same shape and dtype.
    """
    return mmcv.imrotate(img, angle_deg, border_value=pad_val,
                         interpolation='bilinear')


def rotate_depth_nearest(depth: np.ndarray, angle_deg: float,
                         pad_val: Union[int, float] = 0) -> np.ndarray:
    """Rotate a depth (or label) map about its centre with nearest interpolation.

    Every output value is an input value or ``pad_val`` (0 = invalid for depth).

    Args:
        depth (np.ndarray): ``(H, W)`` map.
        angle_deg (float): angle in degrees, positive = clockwise (mmcv convention).
        pad_val (int | float): value of pixels from outside the map. Defaults to 0.

    Returns:
        np.ndarray: rotated map, same shape and dtype.
    """
    return mmcv.imrotate(depth, angle_deg, border_value=pad_val,
                         interpolation='nearest')


@TRANSFORMS.register_module()
class KBCrop(BaseTransform):
    """KITTI benchmark crop (352 x 1216, bottom-aligned, centred) of image and depth.

    Records ``results['kb_crop'] = (top, left, ori_h, ori_w)``: the metric needs it to
    place the cropped prediction/GT back in the full frame, where the Garg/Eigen
    evaluation crops are defined as fractions of the full-size ``(ori_h, ori_w)``
    (KITTI frames vary from 370 x 1224 to 376 x 1242).

    Required Keys: ``img``; Modified: ``img``, ``img_shape``, ``seg_fields`` keys;
    Added: ``kb_crop``.

    Args:
        crop_size (tuple[int, int]): ``(h, w)``. Defaults to ``(352, 1216)``.
    """

    def __init__(self, crop_size: Sequence[int] = KB_CROP_HW) -> None:
        self.crop_size = tuple(int(s) for s in crop_size)
        if len(self.crop_size) != 2 or min(self.crop_size) <= 0:
            raise ValueError(f'KBCrop: crop_size must be (h, w) > 0, got {crop_size}')

    def transform(self, results: dict) -> dict:
        """Crop image and depth, record ``kb_crop``."""
        h, w = results['img'].shape[:2]
        ch, cw = self.crop_size
        try:
            top, left = kb_crop_offsets(h, w, ch, cw)
        except ValueError as e:
            raise ValueError(f'KBCrop: {results.get("img_path")}: {e}') from None
        crop_results(results, top, left, ch, cw)
        results['kb_crop'] = (top, left, h, w)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class NYUBorderCrop(BaseTransform):
    """Remove the white/blank border of NYU-Depth-V2 frames (BTS train crop).

    ``mode='crop'`` (BTS): keep rows ``45:472`` and columns ``43:608`` of image and
    depth (``427 x 565``). ``mode='mask'`` (NeWCRFs at 480 x 640 input): keep the
    image, set the depth outside the box to 0 (invalid). Records
    ``results['border_crop'] = (top, left, ori_h, ori_w)`` in crop mode.

    Args:
        box (tuple[int, int, int, int]): ``(top, left, bottom, right)``. Defaults to
            ``(45, 43, 472, 608)``.
        mode (str): ``'crop'`` or ``'mask'``. Defaults to ``'crop'``.
        frame_hw (tuple[int, int] | None): the frame size the box refers to; other
            sizes raise (naming the image). ``None`` only requires the box to fit.
            Defaults to ``(480, 640)``.
    """

    def __init__(self,
                 box: Sequence[int] = NYU_BORDER_BOX,
                 mode: str = 'crop',
                 frame_hw: Optional[Sequence[int]] = NYU_FRAME_HW) -> None:
        if mode not in ('crop', 'mask'):
            raise ValueError(f"NYUBorderCrop: mode must be 'crop' or 'mask', got {mode!r}")
        self.box = tuple(int(b) for b in box)
        top, left, bottom, right = self.box
        if not (0 <= top < bottom and 0 <= left < right):
            raise ValueError(f'NYUBorderCrop: bad box {box}')
        self.mode = mode
        self.frame_hw = None if frame_hw is None else tuple(frame_hw)

    def transform(self, results: dict) -> dict:
        """Crop (or mask) the border."""
        h, w = results['img'].shape[:2]
        top, left, bottom, right = self.box
        if (self.frame_hw is not None and (h, w) != self.frame_hw) or \
                bottom > h or right > w:
            raise ValueError(
                f'NYUBorderCrop: {results.get("img_path")} is {h}x{w}; the box '
                f'{self.box} is defined for {self.frame_hw} NYU frames')
        if self.mode == 'crop':
            crop_results(results, top, left, bottom - top, right - left)
            results['border_crop'] = (top, left, h, w)
        else:
            for key in results.get('seg_fields', []):
                if _is_depth_key(key) and results.get(key) is not None:
                    keep = np.zeros(results[key].shape[:2], dtype=bool)
                    keep[top:bottom, left:right] = True
                    results[key] = np.where(keep, results[key], 0).astype(
                        results[key].dtype)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(box={self.box}, mode={self.mode!r})'


@TRANSFORMS.register_module()
class RandomRotateDepth(BaseTransform):
    """Random in-plane rotation: image bilinear, depth nearest, outside -> depth 0.

    ``angle ~ U(-degree, degree)`` (BTS: ``(random() - 0.5) * 2 * degree``; 2.5 for
    NYU, 1.0 for KITTI), applied with probability ``prob`` (BTS rotates every training
    sample: ``prob=1.0``). The
    sign convention (mmcv: positive = clockwise; PIL: counter-clockwise) is irrelevant
    for a symmetric range. Depth keys (names containing ``depth``) are padded with 0,
    other ``seg_fields`` with ``seg_pad_val``. Records ``results['rotate_angle']``.

    Args:
        degree (float | tuple[float, float]): ``d`` for ``[-d, d]`` (BTS's
            ``--degree``), or an explicit ``(min, max)`` range in degrees. Required
            (unless ``max_degree`` is given). Defaults to None.
        prob (float): probability of rotating. Defaults to 1.0.
        img_pad_val (int | float): image fill value. Defaults to 0.
        seg_pad_val (int): fill value of non-depth ``seg_fields``. Defaults to 255.
        max_degree (float | tuple[float, float], optional): alias of ``degree``.
            Defaults to None.
    """

    def __init__(self,
                 degree: Union[float, Sequence[float], None] = None,
                 prob: float = 1.0,
                 img_pad_val: Union[int, float] = 0,
                 seg_pad_val: int = 255,
                 max_degree: Union[float, Sequence[float], None] = None) -> None:
        if (degree is None) == (max_degree is None):
            raise TypeError('RandomRotateDepth: give exactly one of degree / max_degree '
                            f'(got degree={degree}, max_degree={max_degree})')
        degree = given = degree if degree is not None else max_degree
        if isinstance(degree, (int, float)):
            if degree < 0:
                raise ValueError(f'RandomRotateDepth: degree must be >= 0, got {degree}')
            degree = (-float(degree), float(degree))
        self.degree = tuple(float(d) for d in degree)
        if len(self.degree) != 2 or self.degree[0] > self.degree[1]:
            raise ValueError(f'RandomRotateDepth: degree must be d or (min, max), '
                             f'got {given}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomRotateDepth: prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.img_pad_val = img_pad_val
        self.seg_pad_val = seg_pad_val

    @cache_randomness
    def _draw(self) -> Tuple[bool, float]:
        return (np.random.rand() < self.prob,
                float(np.random.uniform(self.degree[0], self.degree[1])))

    def transform(self, results: dict) -> dict:
        """Rotate image and every ``seg_fields`` key by the same random angle."""
        rotate, angle = self._draw()
        if not rotate:
            results['rotate_angle'] = 0.0
            return results
        results['img'] = rotate_image_bilinear(results['img'], angle, self.img_pad_val)
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                pad = 0 if _is_depth_key(key) else self.seg_pad_val
                results[key] = rotate_depth_nearest(results[key], angle, pad)
        results['rotate_angle'] = angle
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(degree={self.degree}, prob={self.prob}, '
                f'img_pad_val={self.img_pad_val}, seg_pad_val={self.seg_pad_val})')


@TRANSFORMS.register_module()
class RandomCropDepth(MMSEG_RandomCrop):
    """Random fixed-size crop of image and every ``seg_fields`` key (BTS random_crop).

    Reuses mmseg ``RandomCrop``'s box sampling and cropping (offsets uniform over all
    valid positions, like BTS). Two differences, the reason this class exists: an
    image smaller than the crop raises an error naming the file (mmseg silently
    returns a smaller crop, BTS asserts), and the box is recorded as
    ``results['crop_bbox'] = (y1, y2, x1, x2)``. ``crop_size`` may be a list (configs).

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)``, e.g. ``(416, 544)`` for NYU and
            ``(352, 704)`` for KITTI.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        if not isinstance(crop_size, int):
            crop_size = tuple(int(s) for s in crop_size)
        super().__init__(crop_size=crop_size, cat_max_ratio=1.0)

    def transform(self, results: dict) -> dict:
        """Crop at a random position."""
        h, w = results['img'].shape[:2]
        ch, cw = self.crop_size
        if h < ch or w < cw:
            raise ValueError(f'RandomCropDepth: {results.get("img_path")} is {h}x{w}, '
                             f'smaller than the crop {ch}x{cw}')
        y1, y2, x1, x2 = self.crop_bbox(results)
        crop_results(results, y1, x1, y2 - y1, x2 - x1)
        results['crop_bbox'] = (y1, y2, x1, x2)
        return results


@TRANSFORMS.register_module()
class ResizeDepth(MMSEG_Resize):
    """Resize image (bilinear) and depth (nearest); scale the focal, not the depth.

    Depth is a metric distance along the optical axis: resampling the image grid
    changes neither the scene nor the camera position, so the depth values stay as
    they are. What changes is the intrinsics: a ``s_x`` horizontal resize turns
    ``f_x`` into ``s_x * f_x`` (and ``f_y`` into ``s_y * f_y``). ``results['focal']``
    holds ``f_x`` (the BTS-list focal), so it is multiplied by ``scale_factor[0]``;
    the first value seen is kept in ``ori_focal``. Nearest resampling keeps the valid
    mask: 0 stays 0 and no blended depth is created.

    Required Keys: ``img``; optional ``focal``, ``seg_fields`` keys. Modified: ``img``,
    ``img_shape``, ``seg_fields`` keys, ``focal``. Added: ``scale``, ``scale_factor``
    (``(w_scale, h_scale)``), ``keep_ratio``, ``ori_focal``.

    Args (those of mmseg/mmcv ``Resize``):
        scale (int | tuple[int, int], optional): target ``(w, h)`` (mmcv order).
            Defaults to None.
        scale_factor (float | tuple[float, float], optional): used when ``scale`` is
            None. Defaults to None.
        keep_ratio (bool): keep the aspect ratio. Defaults to False.
        clip_object_border (bool): bbox clipping (unused for depth). Defaults to True.
        backend (str): ``'cv2'`` or ``'pillow'``. Defaults to ``'cv2'``.
        interpolation (str): image interpolation (depth is always nearest). Defaults
            to ``'bilinear'``.
    """

    def transform(self, results: dict) -> dict:
        """Resize, then scale ``focal`` by the horizontal factor."""
        results = super().transform(results)
        focal = results.get('focal')
        if focal is not None:
            results.setdefault('ori_focal', focal)
            results['focal'] = float(focal) * float(results['scale_factor'][0])
        return results
