"""Project KITTI Velodyne scans into sparse depth maps (the ``velodyne_raw`` style input).

Math (KITTI object devkit conventions): a Velodyne point ``X_v = (x, y, z, 1)^T`` maps to
homogeneous image coordinates ``(u w, v w, w)^T = P2 @ R0_rect @ Tr_velo_to_cam @ X_v``
where ``R0_rect`` (3x3) and ``Tr_velo_to_cam`` (3x4) are padded to 4x4 homogeneous
matrices. ``w`` is the z-depth in the (rectified) camera-2 frame -- P2's last row carries
camera 2's small z offset -- and ``(u, v)`` is the sub-pixel position with pixel centres
at integers. Each point is assigned to the pixel ``(round(u), round(v))``; when several
points share a pixel the nearest is kept (the others are occluded from the camera or at
most a pixel away). Points with ``w <= min_depth_m`` are dropped (behind the camera).
(monodepth2's ``generate_depth_map`` subtracts one more pixel after rounding, a MATLAB
1-based leftover; we do not.)
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

__all__ = ['read_velodyne_bin', 'read_kitti_calib', 'velo_to_image_matrix',
           'project_to_sparse_depth', 'velodyne_to_depth_map']


def read_velodyne_bin(path: str) -> np.ndarray:
    """Read a KITTI Velodyne scan.

    Args:
        path (str): ``.bin`` file of float32 ``(x, y, z, reflectance)`` records.

    Returns:
        np.ndarray: ``(N, 4)`` float32.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Velodyne scan not found: {path}')
    raw = np.fromfile(path, dtype=np.float32)
    if raw.size % 4:
        raise ValueError(f'{path}: size {raw.size * 4} bytes is not a multiple of 16; '
                         'expected float32 Nx4 (x, y, z, reflectance) records')
    return raw.reshape(-1, 4)


def read_kitti_calib(path: str) -> Dict[str, np.ndarray]:
    """Parse a KITTI calibration text file (``key: v1 v2 ...`` per line).

    Args:
        path (str): e.g. ``calib/000000.txt`` of the object benchmark.

    Returns:
        dict[str, np.ndarray]: Flat float64 arrays per key (non-numeric lines are skipped).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'KITTI calibration file not found: {path}')
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            if ':' not in line:
                continue
            key, vals = line.split(':', 1)
            try:
                out[key.strip()] = np.array([float(x) for x in vals.split()], dtype=np.float64)
            except ValueError:
                continue
    return out


def _get(calib: Dict[str, np.ndarray], names, size: int, path_hint: str) -> np.ndarray:
    for name in names:
        if name in calib:
            if calib[name].size != size:
                raise ValueError(f'{path_hint}: key {name!r} has {calib[name].size} values, '
                                 f'expected {size}')
            return calib[name]
    raise KeyError(f'{path_hint}: none of the keys {list(names)} found (have {sorted(calib)})')


def velo_to_image_matrix(calib: Dict[str, np.ndarray], cam: int = 2,
                         path_hint: str = 'calib') -> np.ndarray:
    """The 3x4 matrix ``P_cam @ R0_rect @ Tr_velo_to_cam``.

    Args:
        calib (dict): Output of :func:`read_kitti_calib` (object-benchmark keys ``P2``,
            ``R0_rect``, ``Tr_velo_to_cam``; raw-data style ``P_rect_02``, ``R_rect_00``,
            ``Tr_velo_cam`` are accepted too).
        cam (int): Camera index. Defaults to 2 (left colour).
        path_hint (str): Name used in error messages. Defaults to 'calib'.

    Returns:
        np.ndarray: ``(3, 4)`` float64.
    """
    p = _get(calib, [f'P{cam}', f'P_rect_0{cam}'], 12, path_hint).reshape(3, 4)
    r0 = np.eye(4)
    r0[:3, :3] = _get(calib, ['R0_rect', 'R_rect_00', 'R_rect'], 9, path_hint).reshape(3, 3)
    tr = np.eye(4)
    tr[:3, :4] = _get(calib, ['Tr_velo_to_cam', 'Tr_velo_cam'], 12, path_hint).reshape(3, 4)
    return p @ r0 @ tr


def project_to_sparse_depth(points: np.ndarray, proj: np.ndarray, height: int, width: int,
                            min_depth_m: float = 1e-3, max_depth_m: Optional[float] = None,
                            values_m: Optional[np.ndarray] = None) -> np.ndarray:
    """Splat 3-D points into a sparse z-depth map, keeping the nearest point per pixel.

    Args:
        points (np.ndarray): ``(N, 3)`` (or ``(N, >=3)``, extra columns ignored) points.
        proj (np.ndarray): ``(3, 4)`` projection to homogeneous pixel coordinates whose last
            component is the z-depth (e.g. ``K @ [R | t]`` or
            :func:`velo_to_image_matrix`).
        height (int): Output height.
        width (int): Output width.
        min_depth_m (float): Points with depth ``<=`` this are dropped. Defaults to 1e-3.
        max_depth_m (float, optional): Points beyond are dropped. Defaults to None.
        values_m (np.ndarray, optional): ``(N,)`` values to store instead of the projected
            depth (the nearest point per pixel is still chosen by projected depth).
            Defaults to None.

    Returns:
        np.ndarray: ``(H, W)`` float32 metres, 0 where no point projects.
    """
    pts = np.asarray(points, dtype=np.float64)[:, :3]
    proj = np.asarray(proj, dtype=np.float64)
    if proj.shape != (3, 4):
        raise ValueError(f'proj must be 3x4, got {proj.shape}')
    uvw = pts @ proj[:, :3].T + proj[:, 3]
    z = uvw[:, 2]
    keep = z > min_depth_m
    if max_depth_m is not None:
        keep &= z <= max_depth_m
    z_safe = np.where(keep, z, 1.0)
    u = np.rint(uvw[:, 0] / z_safe)
    v = np.rint(uvw[:, 1] / z_safe)
    keep &= (u >= 0) & (u < width) & (v >= 0) & (v < height)
    idx = np.flatnonzero(keep)
    depth = np.zeros(height * width, dtype=np.float32)
    if idx.size == 0:
        return depth.reshape(height, width)
    lin = v[idx].astype(np.int64) * width + u[idx].astype(np.int64)
    order = np.argsort(z[idx], kind='stable')  # nearest first
    _, first = np.unique(lin[order], return_index=True)
    chosen = idx[order[first]]
    vals = z if values_m is None else np.asarray(values_m, dtype=np.float64)
    depth[lin[order[first]]] = vals[chosen]
    return depth.reshape(height, width)


def velodyne_to_depth_map(velo: np.ndarray, calib: Dict[str, np.ndarray], height: int,
                          width: int, cam: int = 2, max_depth_m: Optional[float] = None,
                          path_hint: str = 'calib') -> np.ndarray:
    """Sparse z-depth map of a Velodyne scan in camera ``cam``'s image.

    Args:
        velo (np.ndarray): ``(N, 4)`` or ``(N, 3)`` Velodyne points (metres).
        calib (dict): Output of :func:`read_kitti_calib`.
        height (int): Image height (e.g. 375 or 370).
        width (int): Image width (e.g. 1242 or 1224).
        cam (int): Camera index. Defaults to 2.
        max_depth_m (float, optional): Drop points beyond this depth. Defaults to None.
        path_hint (str): Name used in error messages. Defaults to 'calib'.

    Returns:
        np.ndarray: ``(H, W)`` float32 metres, 0 = invalid.
    """
    return project_to_sparse_depth(velo, velo_to_image_matrix(calib, cam, path_hint), height,
                                   width, max_depth_m=max_depth_m)
