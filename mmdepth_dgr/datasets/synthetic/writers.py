"""Write synthetic samples in the NYU-Depth-V2 (BTS) and KITTI (Eigen split) layouts.

NYU layout (paths in the split files are relative to ``<root>/train`` resp. ``<root>/test``,
the BTS convention: use ``data_prefix=dict(img_path='train', depth_map_path='train')``)::

    <root>/nyu_train.txt        "<scene>/rgb_00012.jpg <scene>/sync_depth_00012.png <fx>"
    <root>/nyu_test.txt
    <root>/train/<scene>/rgb_XXXXX.jpg          RGB, JPEG quality 95
    <root>/train/<scene>/sync_depth_XXXXX.png   uint16 millimetres, 0 = invalid
    <root>/test/<scene>/...

KITTI layout (both columns of the split files are relative to ``<root>``)::

    <root>/kitti_eigen_train.txt   "<date>/<drive>_sync/image_02/data/<frame>.png
                                    <drive>_sync/proj_depth/groundtruth/image_02/<frame>.png <fx>"
    <root>/kitti_eigen_test.txt    (some lines have ``None`` as ground truth, as the real list)
    <root>/<date>/<drive>_sync/image_02/data/XXXXXXXXXX.png            RGB PNG
    <root>/<drive>_sync/proj_depth/groundtruth/image_02/XXXXXXXXXX.png  uint16 metres*256,
                                                                        0 = invalid

``<drive>`` is ``<date>_drive_NNNN``. The focal in every line is the ``fx`` of the image as
written (the intrinsics scaled to the output size).
"""
import os
import os.path as osp
from typing import Iterable, Tuple

import cv2
import numpy as np

__all__ = ['NYU_DEPTH_SCALE', 'KITTI_DEPTH_SCALE', 'depth_to_uint16', 'write_depth_png',
           'read_depth_png', 'write_rgb', 'format_focal', 'nyu_paths', 'nyu_split_line',
           'kitti_drive_name', 'kitti_paths', 'kitti_split_line', 'write_split_file',
           'parse_split_line']

#: uint16 PNG value per metre.
NYU_DEPTH_SCALE = 1000.0
KITTI_DEPTH_SCALE = 256.0


def depth_to_uint16(depth_m: np.ndarray, scale: float) -> np.ndarray:
    """Quantise metres to the uint16 PNG convention.

    Args:
        depth_m (np.ndarray): ``(H, W)`` metres; ``<= 0`` or non-finite = invalid.
        scale (float): Units per metre (1000 for NYU, 256 for KITTI).

    Returns:
        np.ndarray: ``(H, W)`` uint16, ``round(depth * scale)`` clipped to ``[1, 65535]``
        where valid, 0 elsewhere.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    q = np.clip(np.rint(np.where(valid, d, 0.0) * scale), 1, 65535)
    return np.where(valid, q, 0).astype(np.uint16)


def _makedirs_for(path: str) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)


def write_depth_png(path: str, depth_m: np.ndarray, scale: float) -> None:
    """Write a uint16 depth PNG (see :func:`depth_to_uint16`)."""
    _makedirs_for(path)
    if not cv2.imwrite(path, depth_to_uint16(depth_m, scale), [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f'could not write depth PNG {path}')


def read_depth_png(path: str, scale: float) -> np.ndarray:
    """Read a uint16 depth PNG as float32 metres (0 stays 0)."""
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise FileNotFoundError(f'could not read depth PNG {path}')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel uint16 PNG, got {raw.dtype} '
                         f'with shape {raw.shape}')
    return raw.astype(np.float32) / np.float32(scale)


def write_rgb(path: str, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB uint8 image (``.jpg`` / ``.png`` by extension).

    Args:
        path (str): Output path.
        rgb (np.ndarray): ``(H, W, 3)`` uint8 in RGB order.
        jpeg_quality (int): JPEG quality. Defaults to 95.
    """
    _makedirs_for(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.lower().endswith(
        ('.jpg', '.jpeg')) else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]), params):
        raise OSError(f'could not write image {path}')


def format_focal(focal: float) -> str:
    """Focal length as written in split files (10 significant digits, e.g. '259.42895')."""
    return format(float(focal), '.10g')


def nyu_paths(scene: str, index: int) -> Tuple[str, str]:
    """``(rgb, depth)`` paths relative to the split folder, e.g. ``bedroom_0003/rgb_00012.jpg``."""
    return f'{scene}/rgb_{index:05d}.jpg', f'{scene}/sync_depth_{index:05d}.png'


def nyu_split_line(scene: str, index: int, focal: float) -> str:
    """One BTS-style NYU split line (no trailing newline)."""
    rgb, depth = nyu_paths(scene, index)
    return f'{rgb} {depth} {format_focal(focal)}'


def kitti_drive_name(date: str, drive: int) -> str:
    """e.g. ``2011_09_26_drive_0002_sync``."""
    return f'{date}_drive_{drive:04d}_sync'


def kitti_paths(date: str, drive: int, frame: int) -> Tuple[str, str]:
    """``(image, ground truth)`` paths relative to the KITTI root."""
    name = kitti_drive_name(date, drive)
    return (f'{date}/{name}/image_02/data/{frame:010d}.png',
            f'{name}/proj_depth/groundtruth/image_02/{frame:010d}.png')


def kitti_split_line(date: str, drive: int, frame: int, focal: float,
                     has_gt: bool = True) -> str:
    """One Eigen-split line; the ground-truth column is ``None`` when ``has_gt`` is False."""
    img, gt = kitti_paths(date, drive, frame)
    return f'{img} {gt if has_gt else "None"} {format_focal(focal)}'


def parse_split_line(line: str) -> Tuple[str, str, float]:
    """Split ``'<img> <depth|None> <focal>'`` into its three fields.

    Raises:
        ValueError: If the line does not have exactly three fields.
    """
    parts = line.split()
    if len(parts) != 3:
        raise ValueError(f'split line must have 3 fields (image, depth, focal), got {line!r}')
    return parts[0], parts[1], float(parts[2])


def write_split_file(path: str, lines: Iterable[str]) -> None:
    """Write split lines, one per line, newline-terminated."""
    _makedirs_for(path)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for line in lines:
            f.write(line + '\n')
