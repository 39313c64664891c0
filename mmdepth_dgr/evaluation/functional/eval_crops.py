"""Evaluation crops of the monocular-depth community (NYU Eigen, KITTI Garg / Eigen).

The boxes are those of the BTS family of evaluation scripts (BTS, AdaBins, NeWCRFs,
PixelFormer and the paper's own PixelFormer_DGR code), which every published NYU/KITTI
table of the paper's hosts was computed with:

* ``'nyu_eigen'``: fixed pixel box rows ``45:471``, cols ``41:601`` of the 480x640 NYU
  frame (Eigen et al., NeurIPS 2014), i.e. the area inside the white Kinect border.
* ``'garg'`` (KITTI, Garg et al., ECCV 2016): rows
  ``int(0.40810811 H):int(0.99189189 H)``, cols ``int(0.03594771 W):int(0.96405229 W)``.
* ``'eigen'`` (KITTI, Eigen et al., NeurIPS 2014): rows
  ``int(0.3324324 H):int(0.91351351 H)``, cols ``int(0.0359477 W):int(0.96405229 W)``.
* ``'none'``: the whole frame.

``int`` truncates, as in the reference scripts (the products are positive, so it is the floor).

Two conventions exist for the KITTI fractions (``crop_convention``):

* ``'kb_cropped'`` (default): ``H, W`` are those of the 352x1216 KITTI-benchmark (KB) crop
  of the ground truth. This is what the online/standalone ``eval`` of NeWCRFs and
  PixelFormer (and PixelFormer_DGR, the paper's code) do: their data loader KB-crops the
  ground truth before the main script applies the fractions, so their tables use it.
* ``'full_size'``: ``H, W`` are those of the original (about 375x1242) frame and the
  KB-cropped prediction is placed back into that canvas (BTS's standalone
  ``bts_eval.py``, DPT, TransDepth). With a KB-cropped ground truth the box is translated
  by the KB-crop offset ``(top, left)``.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'EVAL_CROPS', 'CROP_CONVENTIONS', 'NYU_EIGEN_BOX', 'NYU_FRAME_SHAPE',
    'check_crop_name', 'crop_box', 'crop_box_in_kb_frame', 'crop_mask'
]

#: Valid crop names.
EVAL_CROPS: Tuple[str, ...] = ('none', 'nyu_eigen', 'garg', 'eigen')
#: Valid conventions for the KITTI fractions.
CROP_CONVENTIONS: Tuple[str, ...] = ('kb_cropped', 'full_size')
#: NYU Eigen crop ``(top, bottom, left, right)``, end-exclusive, on the 480x640 frame.
NYU_EIGEN_BOX: Tuple[int, int, int, int] = (45, 471, 41, 601)
NYU_FRAME_SHAPE: Tuple[int, int] = (480, 640)

# (row_start, row_end, col_start, col_end) fractions, verbatim from the BTS-family scripts.
_KITTI_FRACTIONS = {
    'garg': (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    'eigen': (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}

Box = Tuple[int, int, int, int]


def check_crop_name(crop: Optional[str]) -> str:
    """Normalise and validate a crop name.

    Args:
        crop (str | None): One of :data:`EVAL_CROPS`; ``None`` means ``'none'``.

    Returns:
        str: The validated crop name.

    Raises:
        ValueError: For an unknown name; the message lists the valid ones.
    """
    if crop is None:
        return 'none'
    if crop not in EVAL_CROPS:
        raise ValueError(f'Unknown evaluation crop {crop!r}; valid crops are '
                         f'{list(EVAL_CROPS)} (None means \'none\').')
    return crop


def crop_box(crop: Optional[str], height: int, width: int) -> Box:
    """The crop box ``(top, bottom, left, right)`` (end-exclusive) of a ``height x width`` frame.

    Args:
        crop (str | None): One of :data:`EVAL_CROPS`.
        height (int): Frame height in pixels (for KITTI crops: of the frame the fractions
            refer to, see the module docstring).
        width (int): Frame width in pixels.

    Returns:
        tuple[int, int, int, int]: ``(top, bottom, left, right)``.

    Raises:
        ValueError: Unknown crop name, or ``'nyu_eigen'`` on a frame that is not 480x640.
    """
    crop = check_crop_name(crop)
    if crop == 'none':
        return 0, int(height), 0, int(width)
    if crop == 'nyu_eigen':
        if (height, width) != NYU_FRAME_SHAPE:
            raise ValueError(
                f"crop='nyu_eigen' is the fixed box rows 45:471, cols 41:601 of the 480x640 "
                f'NYU frame, but the ground truth is {height}x{width}; evaluate at 480x640 '
                "(e.g. resize_pred=True with a full-size ground truth) or use crop='none'.")
        return NYU_EIGEN_BOX
    r0, r1, c0, c1 = _KITTI_FRACTIONS[crop]
    # int() truncation exactly as the reference scripts do.
    return (int(r0 * height), int(r1 * height), int(c0 * width), int(c1 * width))


def crop_box_in_kb_frame(crop: Optional[str], kb_crop: Sequence[int],
                         kb_shape: Tuple[int, int]) -> Box:
    """The ``'full_size'``-convention box expressed in the coordinates of the KB-cropped frame.

    The box is computed on the original ``ori_h x ori_w`` frame, then shifted by the KB-crop
    offset. The reference scripts fill the prediction outside the KB window with zeros (then
    clamped to ``min_depth``); with a KB-cropped ground truth nothing is known there, so a
    box reaching outside the window is an error instead of a silently different protocol.
    For all KITTI frame sizes (370..376 x 1224..1242) the Garg and Eigen boxes lie inside.

    Args:
        crop (str | None): One of :data:`EVAL_CROPS`.
        kb_crop (Sequence[int]): ``(top, left, ori_h, ori_w)`` of the KB crop (sample
            metainfo key ``kb_crop``).
        kb_shape (tuple[int, int]): ``(h, w)`` of the KB-cropped frame (normally 352x1216).

    Returns:
        tuple[int, int, int, int]: ``(top, bottom, left, right)`` in KB-frame pixels.

    Raises:
        ValueError: Malformed ``kb_crop`` or a box that leaves the KB window.
    """
    if len(kb_crop) != 4:
        raise ValueError(f'kb_crop must be (top, left, ori_h, ori_w), got {kb_crop!r}.')
    top, left, ori_h, ori_w = (int(v) for v in kb_crop)
    h, w = kb_shape
    r0, r1, c0, c1 = crop_box(crop, ori_h, ori_w)
    box = (r0 - top, r1 - top, c0 - left, c1 - left)
    if box[0] < 0 or box[2] < 0 or box[1] > h or box[3] > w:
        raise ValueError(
            f"crop={crop!r} with crop_convention='full_size' gives the box rows {r0}:{r1}, "
            f'cols {c0}:{c1} of the {ori_h}x{ori_w} frame, which leaves the {h}x{w} KB crop at '
            f'(top={top}, left={left}); the ground truth outside the KB crop is unknown. '
            'Pass the full-size ground truth instead.')
    return box


def crop_mask(shape: Tuple[int, int], crop: Optional[str], *,
              box: Optional[Box] = None) -> np.ndarray:
    """A boolean ``(H, W)`` mask that is True inside the crop box.

    Args:
        shape (tuple[int, int]): ``(H, W)`` of the frame.
        crop (str | None): One of :data:`EVAL_CROPS` (ignored when ``box`` is given).
        box (tuple[int, int, int, int], optional): Explicit ``(top, bottom, left, right)``.
            Defaults to None (computed by :func:`crop_box` on ``shape``).

    Returns:
        np.ndarray: Boolean mask of shape ``(H, W)``.
    """
    h, w = int(shape[0]), int(shape[1])
    if box is None:
        box = crop_box(crop, h, w)
    mask = np.zeros((h, w), dtype=bool)
    mask[box[0]:box[1], box[2]:box[3]] = True
    return mask
