"""Loading transforms: RGB image and uint16 depth PNG, with errors that name the file."""
import math
from typing import Optional

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCV_LoadImageFromFile
from mmseg.registry import TRANSFORMS

__all__ = [
    'LoadRGBFromFile', 'LoadDepthFromFile', 'decode_depth_png', 'read_depth_png',
    'read_file_bytes'
]


def read_file_bytes(path: str, what: str, backend_args: Optional[dict] = None) -> bytes:
    """Read a file, raising ``FileNotFoundError`` that names it when it is missing.

    Args:
        path (str): file path (any mmengine backend).
        what (str): what the file is, for the message (``'image'``, ``'depth map'``).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        bytes: the file content.
    """
    if path is None:
        raise ValueError(f'no {what} path given (got None)')
    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'{what} file not found: {path}')
    try:
        return fileio.get(path, backend_args=backend_args)
    except Exception as e:  # a backend error without the path in it
        raise OSError(f'cannot read {what} file {path}: {e}') from e


def decode_depth_png(data: bytes, depth_scale: float, path: str = '<bytes>',
                     dtype: type = np.float32) -> np.ndarray:
    """Decode a 16-bit single-channel PNG into metric depth.

    ``depth_m = value / depth_scale``; a stored 0 (no measurement) stays 0, which is the
    project's "invalid" marker. Read with ``cv2.IMREAD_UNCHANGED`` so 16 bits survive.

    Args:
        data (bytes): encoded PNG.
        depth_scale (float): stored value per metre (1000 for NYU mm, 256 for KITTI).
        path (str): file name for error messages. Defaults to ``'<bytes>'``.
        dtype (type): output dtype. Defaults to ``np.float32``.

    Returns:
        np.ndarray: ``(H, W)`` depth in metres.

    Raises:
        ValueError: undecodable bytes, or not uint16 single-channel (names the file
            and the dtype/shape found), or a non-positive ``depth_scale``.
    """
    if not (isinstance(depth_scale, (int, float, np.floating)) and
            math.isfinite(depth_scale) and depth_scale > 0):
        raise ValueError(f'depth_scale must be a positive number for {path}, '
                         f'got {depth_scale!r}')
    raw = None
    if len(data) > 0:
        try:
            raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            raw = None
    if raw is None:
        raise ValueError(f'cannot decode depth map {path}: empty, corrupt or not an '
                         'image file')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(
            f'depth map {path} must be a single-channel 16-bit PNG, found '
            f'dtype={raw.dtype}, shape={raw.shape}')
    return (raw.astype(dtype) / dtype(depth_scale)).astype(dtype, copy=False)


def read_depth_png(path: str, depth_scale: float,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a uint16 depth PNG as ``(H, W)`` float32 metres (see :func:`decode_depth_png`).

    Args:
        path (str): depth PNG path.
        depth_scale (float): stored value per metre.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: ``(H, W)`` float32 depth in metres, 0 = invalid.
    """
    return decode_depth_png(read_file_bytes(path, 'depth map', backend_args),
                            depth_scale, path)


@TRANSFORMS.register_module()
class LoadRGBFromFile(MMCV_LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the file, and no silent skip.

    mmcv raises a bare ``FileNotFoundError``/``AssertionError`` (the latter vanishes
    under ``python -O``), and ``ignore_empty=True`` returns ``None``, which makes
    mmengine's dataset silently draw another sample; both are replaced here.

    Required Keys: ``img_path``. Added Keys: ``img`` (``(H, W, 3)`` uint8 unless
    ``to_float32``), ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): cast the image to float32. Defaults to False.
        color_type (str): mmcv ``imfrombytes`` flag. Defaults to ``'color'``.
        channel_order (str): ``'bgr'`` (OpenMMLab convention: the data preprocessor's
            ``bgr_to_rgb=True`` converts) or ``'rgb'``. Defaults to ``'bgr'``.
        imdecode_backend (str): mmcv decode backend. Defaults to ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.
        ignore_empty (bool): only False is accepted (True raises ``ValueError``: it
            would skip unreadable images silently). Defaults to False.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 channel_order: str = 'bgr',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None,
                 ignore_empty: bool = False) -> None:
        if ignore_empty:
            raise ValueError('LoadRGBFromFile: ignore_empty=True would silently skip '
                             'unreadable images; it is not supported')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f'LoadRGBFromFile: channel_order must be bgr/rgb, got '
                             f'{channel_order!r}')
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)
        self.channel_order = channel_order

    def transform(self, results: dict) -> dict:
        """Load ``results['img_path']`` into ``results['img']``."""
        path = results.get('img_path')
        data = read_file_bytes(path, 'image', self.backend_args)
        try:
            img = mmcv.imfrombytes(
                data,
                flag=self.color_type,
                channel_order=self.channel_order,
                backend=self.imdecode_backend)
        except Exception as e:
            raise ValueError(f'cannot decode image {path}: {e}') from e
        if img is None:
            raise ValueError(f'cannot decode image {path}: empty, corrupt or not an '
                             'image file')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', channel_order='{self.channel_order}',"
                f" imdecode_backend='{self.imdecode_backend}')")


@TRANSFORMS.register_module()
class LoadDepthFromFile(BaseTransform):
    """Load a uint16 depth PNG as metric depth ``gt_depth_map``.

    ``gt_depth_map = png / depth_scale`` metres, ``(H, W)``; 0 (no measurement) stays
    0 = invalid. The key is appended to ``seg_fields`` so that geometric transforms
    that walk ``seg_fields`` (mmseg ``RandomFlip``/``Resize``/``RandomCrop``, and this
    package's crops/rotation) move it with the image, with nearest interpolation.

    When the image is already loaded, its original size must equal the depth map's
    (error naming both files and shapes); ``PackDepthInputs`` checks again at the end.

    Required Keys: ``depth_map_path``; ``depth_scale`` unless given here.
    Added Keys: ``gt_depth_map``, ``depth_scale``; Modified: ``seg_fields``.

    Args:
        depth_scale (float, optional): stored value per metre; ``None`` takes
            ``results['depth_scale']`` (set by the datasets). Defaults to None.
        to_float32 (bool): float32 output; False gives float64. Defaults to True.
        allow_missing_gt (bool): when ``depth_map_path`` is ``None`` (KITTI ``None``
            lines kept with ``keep_no_gt=True``), pass the sample through without GT
            instead of raising. A path that is given but missing is always an error.
            Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 depth_scale: Optional[float] = None,
                 to_float32: bool = True,
                 allow_missing_gt: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        if depth_scale is not None and not (math.isfinite(depth_scale)
                                            and depth_scale > 0):
            raise ValueError(f'LoadDepthFromFile: depth_scale must be positive, got '
                             f'{depth_scale!r}')
        self.depth_scale = depth_scale
        self.to_float32 = to_float32
        self.allow_missing_gt = allow_missing_gt
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Load the depth map into ``results['gt_depth_map']``."""
        path = results.get('depth_map_path')
        if path is None:
            if self.allow_missing_gt:
                return results
            raise KeyError(
                f'LoadDepthFromFile: sample {results.get("img_path")} has no '
                'depth_map_path (set allow_missing_gt=True to predict without GT)')
        scale = self.depth_scale
        if scale is None:
            scale = results.get('depth_scale')
            if scale is None:
                raise KeyError(f'LoadDepthFromFile: no depth_scale for {path}: set '
                               "LoadDepthFromFile(depth_scale=...) or the dataset's "
                               'depth_scale')
        dtype = np.float32 if self.to_float32 else np.float64
        depth = decode_depth_png(
            read_file_bytes(path, 'depth map', self.backend_args), float(scale), path,
            dtype=dtype)
        img_hw = results.get('ori_shape')
        if img_hw is None and results.get('img') is not None:
            img_hw = results['img'].shape[:2]
        if img_hw is not None and tuple(img_hw[:2]) != depth.shape:
            raise ValueError(
                f'depth map {path} has shape {depth.shape} but image '
                f'{results.get("img_path")} has shape {tuple(img_hw[:2])}')
        results['gt_depth_map'] = depth
        results['depth_scale'] = float(scale)
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_depth_map' not in seg_fields:
            seg_fields.append('gt_depth_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(depth_scale={self.depth_scale}, '
                f'to_float32={self.to_float32}, '
                f'allow_missing_gt={self.allow_missing_gt})')
