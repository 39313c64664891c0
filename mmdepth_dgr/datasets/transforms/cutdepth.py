"""CutDepth (Ishii & Yamashita, arXiv:2107.07684): paste a GT depth patch into the RGB.

PixelFormer's NYU training loader applies it to every NYU sample; NeWCRFs, AdaBins and
BTS do not. The patch geometry, with ``a, b, c, d ~ U(0, 1)`` and the size ratio ``p``
(0.75 in PixelFormer) on an ``H x W`` frame::

    l = int(a W)            u = int(b H)
    w = int(max((W - a W) c p, 1))
    h = int(max((H - b H) d p, 1))

The CutDepth paper's patch spans rows ``u : u + h`` and columns ``l : l + w`` (``l`` and
``w`` come from the width, ``u`` and ``h`` from the height): it always lies inside the
frame and is never empty (``index_order='paper'``).

PixelFormer's loader (``pixelformer/dataloaders/dataloader.py``, ``M[l:l+h, u:u+w, :]``)
indexes rows with ``l`` and columns with ``u`` (``index_order='pixelformer'``): the row
start is drawn over the *width*, so on a 480 x 640 frame the patch is empty whenever
``int(640 a) >= 480``, i.e. with probability 1 - H/W = 0.25; the patch is pasted with an
effective probability of 0.75, rows ``l : min(l + h, H)`` and columns
``u : min(u + w, W)``.

What is pasted: the GT depth in metres, replicated over the three channels, into the
image scaled to ``[0, 1]`` (PixelFormer pastes into ``rgb / 255`` before normalisation).
Here images stay in ``[0, max_value]`` (255) until the data preprocessor normalises
them with mean/std in the same units, so the pasted value is ``depth * max_value``;
after normalisation both give ``(depth - mean/255) / (std/255)``. Depth values above
1 m therefore exceed the image range, as in PixelFormer (where only the photometric
augmentation, when it fires, clips them).
"""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['CutDepth', 'cut_depth_box', 'paste_depth_patch', 'CUTDEPTH_INDEX_ORDERS']

#: ``'paper'``: rows from the height draws, columns from the width draws;
#: ``'pixelformer'``: PixelFormer's swapped indexing (see the module docstring).
CUTDEPTH_INDEX_ORDERS = ('paper', 'pixelformer')


def cut_depth_box(height: int,
                  width: int,
                  a: float,
                  b: float,
                  c: float,
                  d: float,
                  size_ratio: float = 0.75,
                  index_order: str = 'paper') -> Tuple[int, int, int, int]:
    """The CutDepth patch ``(top, bottom, left, right)`` for given uniform draws.

    ``l = int(a W)``, ``u = int(b H)``, ``w = int(max((W - a W) c p, 1))``,
    ``h = int(max((H - b H) d p, 1))`` with ``p = size_ratio``. ``'paper'``: rows
    ``u:u+h``, columns ``l:l+w``. ``'pixelformer'``: rows ``l:l+h``, columns ``u:u+w``.
    Both are clipped to the frame, so the box may be empty (``top == bottom``).

    Args:
        height (int): frame height ``H``.
        width (int): frame width ``W``.
        a (float): draw in ``[0, 1)`` for the horizontal start.
        b (float): draw in ``[0, 1)`` for the vertical start.
        c (float): draw in ``[0, 1)`` for the width.
        d (float): draw in ``[0, 1)`` for the height.
        size_ratio (float): ``p``, the largest patch side as a fraction of the space
            left after the start. Defaults to 0.75.
        index_order (str): ``'paper'`` or ``'pixelformer'``. Defaults to ``'paper'``.

    Returns:
        tuple[int, int, int, int]: ``(top, bottom, left, right)`` (end-exclusive).
    """
    if index_order not in CUTDEPTH_INDEX_ORDERS:
        raise ValueError(f'cut_depth_box: index_order must be one of '
                         f'{CUTDEPTH_INDEX_ORDERS}, got {index_order!r}')
    H, W = int(height), int(width)
    left = int(a * W)
    up = int(b * H)
    w = int(max((W - a * W) * c * size_ratio, 1))
    h = int(max((H - b * H) * d * size_ratio, 1))
    if index_order == 'paper':
        r0, c0 = up, left
    else:
        r0, c0 = left, up
    top, bottom = min(r0, H), min(r0 + h, H)
    lft, rgt = min(c0, W), min(c0 + w, W)
    return top, bottom, lft, rgt


def paste_depth_patch(img: np.ndarray,
                      depth: np.ndarray,
                      box: Tuple[int, int, int, int],
                      max_value: float = 255.0) -> np.ndarray:
    """Replace ``img[box]`` in every channel by ``depth[box] * max_value``.

    Args:
        img (np.ndarray): ``(H, W, C)`` image in ``[0, max_value]``.
        depth (np.ndarray): ``(H, W)`` depth in metres (0 = invalid, pasted as 0).
        box (tuple[int, int, int, int]): ``(top, bottom, left, right)``.
        max_value (float): image value of full intensity. Defaults to 255.0.

    Returns:
        np.ndarray: a float32 copy of ``img`` with the patch pasted.
    """
    if img.ndim != 3 or depth.shape != img.shape[:2]:
        raise ValueError(f'paste_depth_patch: image {img.shape} and depth {depth.shape} '
                         'must be (H, W, C) and (H, W)')
    top, bottom, left, right = box
    out = img.astype(np.float32, copy=True)
    patch = depth[top:bottom, left:right].astype(np.float32) * np.float32(max_value)
    out[top:bottom, left:right, :] = patch[..., None]
    return out


@TRANSFORMS.register_module()
class CutDepth(BaseTransform):
    """Paste a random patch of the GT depth into the image (CutDepth).

    With probability ``prob`` draws ``a, b, c, d ~ U(0, 1)``, computes the box with
    :func:`cut_depth_box` and pastes ``depth * max_value`` there
    (:func:`paste_depth_patch`). The depth map itself is not changed. The image always
    leaves as float32 so that a batch has one dtype. Place it where PixelFormer applies
    it: after the border mask and the rotation, before cropping, flipping and the
    photometric augmentation.

    PixelFormer's NYU recipe is ``CutDepth(prob=1.0, size_ratio=0.75,
    index_order='pixelformer')`` (a non-empty patch on 75 % of 480 x 640 samples, see
    the module docstring); ``index_order='paper'`` is the CutDepth paper's geometry.

    Required Keys: ``img``, ``depth_key``; Modified: ``img``; Added: ``cutdepth_box``
    (``(top, bottom, left, right)``, or None when not drawn).

    Args:
        prob (float): probability of drawing a patch. Defaults to 1.0.
        size_ratio (float): ``p`` of :func:`cut_depth_box`. Defaults to 0.75.
        index_order (str): ``'paper'`` or ``'pixelformer'``. Defaults to ``'paper'``.
        max_value (float): full intensity of the input image. Defaults to 255.0.
        depth_key (str): results key of the depth map in metres. Defaults to
            ``'gt_depth_map'``.
    """

    def __init__(self,
                 prob: float = 1.0,
                 size_ratio: float = 0.75,
                 index_order: str = 'paper',
                 max_value: float = 255.0,
                 depth_key: str = 'gt_depth_map') -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'CutDepth: prob must be in [0, 1], got {prob}')
        if not 0.0 < size_ratio <= 1.0:
            raise ValueError(f'CutDepth: size_ratio must be in (0, 1], got {size_ratio}')
        if index_order not in CUTDEPTH_INDEX_ORDERS:
            raise ValueError(f'CutDepth: index_order must be one of '
                             f'{CUTDEPTH_INDEX_ORDERS}, got {index_order!r}')
        self.prob = prob
        self.size_ratio = size_ratio
        self.index_order = index_order
        self.max_value = max_value
        self.depth_key = depth_key

    @cache_randomness
    def _draw(self) -> Tuple[bool, float, float, float, float]:
        apply = bool(np.random.rand() < self.prob)
        a, b, c, d = (float(v) for v in np.random.uniform(0.0, 1.0, size=4))
        return apply, a, b, c, d

    def transform(self, results: dict) -> dict:
        """Paste the depth patch into ``results['img']``."""
        depth = results.get(self.depth_key)
        if depth is None:
            raise KeyError(f'CutDepth: {results.get("img_path")} has no '
                           f'{self.depth_key!r}; put LoadDepthFromFile before CutDepth')
        img = results['img']
        apply, a, b, c, d = self._draw()
        box = None
        if apply:
            h, w = img.shape[:2]
            box = cut_depth_box(h, w, a, b, c, d, self.size_ratio, self.index_order)
            img = paste_depth_patch(img, depth, box, self.max_value)
        results['img'] = img.astype(np.float32, copy=False)
        results['cutdepth_box'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'size_ratio={self.size_ratio}, index_order={self.index_order!r})')
