"""Pinhole cameras for the procedural scene generator.

Conventions (used by every module of :mod:`mmdepth_dgr.datasets.synthetic`):

* **World frame**: X right, Y up, Z forward; the ground / floor is the plane ``Y = 0``.
* **Camera frame** (OpenCV): x right, y down, z along the optical axis.
* Pixel ``(u, v)`` (column, row) has its centre at integer coordinates, the convention
  of the KITTI/NYU projection matrices: ``u = fx * x / z + cx``.
* A pixel's ray direction in the camera frame is ``d = ((u - cx) / fx, (v - cy) / fy, 1)``.
  It is deliberately *not* normalised: with ``d_z = 1`` the ray parameter ``t`` of a hit
  ``o + t * d`` **is** the z-depth (distance along the optical axis), which is what
  NYU-Depth-V2 and KITTI store, and a rotation of the camera does not change that
  (``t`` is invariant under rotating both ``d`` and the scene). The Euclidean ray length
  is ``t * ||d||``.
"""
from dataclasses import dataclass, replace
from typing import Tuple

import numpy as np

__all__ = ['CameraIntrinsics', 'NYU_INTRINSICS', 'KITTI_INTRINSICS', 'scale_intrinsics',
           'camera_rotation', 'pixel_rays', 'z_depth_to_ray_length', 'project_points']


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of an image of ``height x width`` pixels.

    Args:
        fx (float): Focal length along u in pixels.
        fy (float): Focal length along v in pixels.
        cx (float): Principal point column in pixels.
        cy (float): Principal point row in pixels.
        height (int): Image height in pixels.
        width (int): Image width in pixels.
    """
    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 calibration matrix ``K`` (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


#: NYU-Depth-V2 Kinect colour camera (BTS / Metric3D values) at 480x640.
NYU_INTRINSICS = CameraIntrinsics(fx=518.8579, fy=519.46961, cx=325.58245, cy=253.73617,
                                  height=480, width=640)
#: KITTI raw ``2011_09_26`` left colour camera (P_rect_02) at 375x1242; the Eigen split
#: files list its focal 721.5377.
KITTI_INTRINSICS = CameraIntrinsics(fx=721.5377, fy=721.5377, cx=609.5593, cy=172.854,
                                    height=375, width=1242)


def scale_intrinsics(intr: CameraIntrinsics, height: int, width: int) -> CameraIntrinsics:
    """Intrinsics of the same camera after resizing its image to ``height x width``.

    A resize by ``s_x = width / W`` and ``s_y = height / H`` maps the pixel-centre
    coordinate ``u`` to ``(u + 0.5) * s_x - 0.5``, so ``fx' = s_x * fx`` and
    ``cx' = s_x * (cx + 0.5) - 0.5`` (same for y). The half-pixel terms matter at the
    tiny sizes the tests use.

    Args:
        intr (CameraIntrinsics): Source intrinsics.
        height (int): Output height in pixels.
        width (int): Output width in pixels.

    Returns:
        CameraIntrinsics: The scaled intrinsics.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f'image size must be positive, got height={height}, width={width}')
    sx, sy = width / intr.width, height / intr.height
    return replace(intr, fx=intr.fx * sx, fy=intr.fy * sy, cx=sx * (intr.cx + 0.5) - 0.5,
                   cy=sy * (intr.cy + 0.5) - 0.5, height=int(height), width=int(width))


def camera_rotation(yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                    roll_deg: float = 0.0) -> np.ndarray:
    """Rotation ``R_wc`` taking camera-frame vectors to the world frame.

    With all angles 0 the camera looks along world +Z, its x axis is world +X and its
    y axis (down) is world -Y. ``R_wc = R_y(yaw) @ R_x(pitch) @ R_z(roll) @ diag(1, -1, 1)``;
    positive yaw turns the view to the right (towards +X), positive pitch looks up.

    Args:
        yaw_deg (float): Rotation about world Y in degrees. Defaults to 0.0.
        pitch_deg (float): Elevation of the optical axis in degrees. Defaults to 0.0.
        roll_deg (float): Rotation about the optical axis in degrees. Defaults to 0.0.

    Returns:
        np.ndarray: ``(3, 3)`` float64 rotation matrix.
    """
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    # Pitch about +X with the sign chosen so that positive pitch tilts +Z towards +Y.
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    flip = np.diag([1.0, -1.0, 1.0])
    return ry @ rx @ rz @ flip


def pixel_rays(intr: CameraIntrinsics, rotation: np.ndarray = None) -> np.ndarray:
    """Un-normalised ray directions through every pixel centre.

    Args:
        intr (CameraIntrinsics): Camera intrinsics.
        rotation (np.ndarray, optional): ``(3, 3)`` camera-to-world rotation; ``None``
            returns camera-frame directions. Defaults to None.

    Returns:
        np.ndarray: ``(H, W, 3)`` float64 directions whose camera-frame z is 1, so the
        ray parameter of a hit equals its z-depth.
    """
    u = (np.arange(intr.width, dtype=np.float64) - intr.cx) / intr.fx
    v = (np.arange(intr.height, dtype=np.float64) - intr.cy) / intr.fy
    d = np.empty((intr.height, intr.width, 3), dtype=np.float64)
    d[..., 0] = u[None, :]
    d[..., 1] = v[:, None]
    d[..., 2] = 1.0
    if rotation is not None:
        r = np.asarray(rotation, dtype=np.float64)
        # Three multiply-adds instead of ``d @ r.T`` (see geometry.mat3: no BLAS threads).
        d = d[..., 0:1] * r[:, 0] + d[..., 1:2] * r[:, 1] + d[..., 2:3] * r[:, 2]
    return d


def z_depth_to_ray_length(depth_m: np.ndarray, intr: CameraIntrinsics) -> np.ndarray:
    """Convert a z-depth map to Euclidean distance from the camera centre.

    Args:
        depth_m (np.ndarray): ``(H, W)`` z-depth in metres.
        intr (CameraIntrinsics): Camera intrinsics.

    Returns:
        np.ndarray: ``(H, W)`` ray length ``depth * ||((u-cx)/fx, (v-cy)/fy, 1)||``.
    """
    return depth_m * np.linalg.norm(pixel_rays(intr), axis=-1)


def project_points(points_cam: np.ndarray, intr: CameraIntrinsics
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project camera-frame points to pixel coordinates.

    Args:
        points_cam (np.ndarray): ``(N, 3)`` points in the camera frame (metres).
        intr (CameraIntrinsics): Camera intrinsics.

    Returns:
        tuple[np.ndarray]: ``u`` ``(N,)``, ``v`` ``(N,)`` (sub-pixel, pixel centres at
        integers) and z-depth ``(N,)``; points with ``z <= 0`` get ``u = v = nan``.
    """
    z = points_cam[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        zi = np.where(z > 0, 1.0 / np.where(z > 0, z, 1.0), np.nan)
    return intr.fx * points_cam[:, 0] * zi + intr.cx, intr.fy * points_cam[:, 1] * zi + intr.cy, z
