"""Simulated 64-beam spinning LiDAR (HDL-64E-like) for sparse KITTI-style ground truth.

Beam model: 64 lasers in two blocks like the Velodyne HDL-64E on the KITTI car -- 32 upper
beams evenly from +2.0 deg to -8.33 deg (~1/3 deg apart) and 32 lower beams from -8.83 deg
to -24.8 deg (~0.5 deg apart) -- fired at azimuth steps of ``azimuth_step_deg`` (the
HDL-64E does 0.08 deg at 5 Hz up to 0.35 deg at 15 Hz; KITTI ran at 10 Hz, ~0.17 deg).
The sensor frame is Velodyne's: x forward, y left, z up; a beam at elevation ``e`` and
azimuth ``a`` has unit direction ``(cos e cos a, cos e sin a, sin e)``, so the ray
parameter of a hit is its range in metres.

Ground truth: the hits are transformed to the camera frame, projected with ``K`` and
splatted with :func:`~mmdepth_dgr.datasets.kitti_lidar.project_to_sparse_depth` (nearest
hit per pixel). Two value conventions (``gt_values``):

* ``'pixel'`` (default): store the *camera's own* ray-cast z-depth at every pixel a LiDAR
  hit lands on, so every stored value is geometrically exact for that pixel's centre ray;
  the LiDAR only decides *where* ground truth exists.
* ``'lidar'``: store the hit's own z-depth, as the real ``velodyne_raw`` maps do. A hit is
  up to half a pixel away from the pixel centre, which on the grazing road far away is
  several percent of depth; hits that the offset camera cannot see (they disagree with the
  camera depth by more than ``occlusion_tol``) are dropped, like the outlier removal of
  the annotated KITTI ground truth.
"""
from typing import Optional, Tuple

import numpy as np

from ..kitti_lidar import project_to_sparse_depth
from .camera import CameraIntrinsics
from .geometry import Scene, mat3

__all__ = ['hdl64_elevations_deg', 'lidar_directions', 'simulate_lidar_scan',
           'lidar_sparse_depth']


def hdl64_elevations_deg(top_deg: float = 2.0, split_deg: Tuple[float, float] = (-8.33, -8.83),
                         bottom_deg: float = -24.8, n_upper: int = 32,
                         n_lower: int = 32) -> np.ndarray:
    """Elevation angles of the 64 beams, top first.

    Args:
        top_deg (float): Highest beam. Defaults to 2.0.
        split_deg (tuple[float]): Last upper / first lower beam. Defaults to (-8.33, -8.83).
        bottom_deg (float): Lowest beam. Defaults to -24.8.
        n_upper (int): Beams in the upper block. Defaults to 32.
        n_lower (int): Beams in the lower block. Defaults to 32.

    Returns:
        np.ndarray: ``(n_upper + n_lower,)`` degrees.
    """
    return np.concatenate([np.linspace(top_deg, split_deg[0], n_upper),
                           np.linspace(split_deg[1], bottom_deg, n_lower)])


def lidar_directions(elevations_deg: np.ndarray, azimuth_min_deg: float,
                     azimuth_max_deg: float, azimuth_step_deg: float,
                     azimuth_phase_deg: float = 0.0) -> np.ndarray:
    """Unit beam directions in the sensor frame (x forward, y left, z up).

    Args:
        elevations_deg (np.ndarray): ``(E,)`` beam elevations.
        azimuth_min_deg (float): First azimuth (positive = left).
        azimuth_max_deg (float): Last azimuth.
        azimuth_step_deg (float): Azimuth resolution.
        azimuth_phase_deg (float): Offset of the firing grid. Defaults to 0.0.

    Returns:
        np.ndarray: ``(E * A, 3)`` float64.
    """
    if azimuth_step_deg <= 0:
        raise ValueError(f'azimuth_step_deg must be > 0, got {azimuth_step_deg}')
    az = np.deg2rad(np.arange(azimuth_min_deg + azimuth_phase_deg, azimuth_max_deg,
                              azimuth_step_deg))
    el = np.deg2rad(np.asarray(elevations_deg, dtype=np.float64))
    el, az = np.meshgrid(el, az, indexing='ij')
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)],
                    axis=-1).reshape(-1, 3)


# Velodyne (x fwd, y left, z up) -> world (X right, Y up, Z fwd) for an unrotated vehicle.
_VELO_TO_WORLD = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def simulate_lidar_scan(scene: Scene, origin: np.ndarray, vehicle_rotation: np.ndarray,
                        elevations_deg: Optional[np.ndarray] = None,
                        azimuth_range_deg: Tuple[float, float] = (-50.0, 50.0),
                        azimuth_step_deg: float = 0.17, min_range_m: float = 2.0,
                        max_range_m: float = 120.0, dropout: float = 0.0,
                        rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Ray-cast one (partial) LiDAR revolution.

    Args:
        scene (Scene): The scene.
        origin (np.ndarray): ``(3,)`` sensor centre (world).
        vehicle_rotation (np.ndarray): ``(3, 3)`` world rotation of the vehicle (e.g. a yaw
            about Y); identity = sensor x along world +Z.
        elevations_deg (np.ndarray, optional): Beam elevations; None = HDL-64E-like
            :func:`hdl64_elevations_deg`. Defaults to None.
        azimuth_range_deg (tuple[float]): Azimuths to fire (only the camera's field of view
            matters). Defaults to (-50.0, 50.0).
        azimuth_step_deg (float): Azimuth resolution. Defaults to 0.17.
        min_range_m (float): Returns closer than this are discarded. Defaults to 2.0.
        max_range_m (float): Returns farther than this are discarded. Defaults to 120.0.
        dropout (float): Probability that a return is lost. Defaults to 0.0.
        rng (np.random.Generator, optional): For the azimuth phase and dropout; None =
            phase 0 and no dropout. Defaults to None.

    Returns:
        np.ndarray: ``(M, 3)`` world hit points.
    """
    elev = hdl64_elevations_deg() if elevations_deg is None else elevations_deg
    phase = 0.0 if rng is None else float(rng.uniform(0.0, azimuth_step_deg))
    d = mat3(lidar_directions(elev, azimuth_range_deg[0], azimuth_range_deg[1],
                              azimuth_step_deg, phase),
             (np.asarray(vehicle_rotation) @ _VELO_TO_WORLD).T)
    hits = scene.raycast(np.asarray(origin, float), d)
    keep = np.isfinite(hits.t) & (hits.t >= min_range_m) & (hits.t <= max_range_m)
    if dropout > 0 and rng is not None:
        keep &= rng.random(keep.shape[0]) >= dropout
    return hits.point[keep]


def lidar_sparse_depth(points_world: np.ndarray, cam_origin: np.ndarray,
                       cam_rotation: np.ndarray, intr: CameraIntrinsics,
                       dense_depth_m: np.ndarray, max_depth_m: float = 80.0,
                       gt_values: str = 'pixel', occlusion_tol: float = 0.05) -> np.ndarray:
    """Sparse ground truth from LiDAR hits seen by a camera.

    Args:
        points_world (np.ndarray): ``(M, 3)`` hits from :func:`simulate_lidar_scan`.
        cam_origin (np.ndarray): ``(3,)`` camera centre (world).
        cam_rotation (np.ndarray): ``(3, 3)`` camera-to-world rotation.
        intr (CameraIntrinsics): Camera intrinsics.
        dense_depth_m (np.ndarray): ``(H, W)`` the camera's ray-cast z-depth (``inf`` = sky).
        max_depth_m (float): Depth cap; farther pixels stay 0. Defaults to 80.0.
        gt_values (str): ``'pixel'`` or ``'lidar'`` (see the module docstring).
            Defaults to 'pixel'.
        occlusion_tol (float): Relative depth tolerance of the ``'lidar'`` visibility test.
            Defaults to 0.05.

    Returns:
        np.ndarray: ``(H, W)`` float32 metres, 0 = invalid.
    """
    if gt_values not in ('pixel', 'lidar'):
        raise ValueError(f"gt_values must be 'pixel' or 'lidar', got {gt_values!r}")
    r_cw = np.asarray(cam_rotation, float).T
    proj = intr.matrix @ np.concatenate([r_cw, (-r_cw @ np.asarray(cam_origin, float))[:, None]],
                                        axis=1)
    sparse = project_to_sparse_depth(points_world, proj, intr.height, intr.width,
                                     max_depth_m=max_depth_m)
    hit = sparse > 0
    dense = np.asarray(dense_depth_m, dtype=np.float64)
    ok = hit & np.isfinite(dense) & (dense <= max_depth_m) & (dense > 0)
    if gt_values == 'pixel':
        out = np.where(ok, dense, 0.0)
    else:
        agree = np.abs(sparse - np.where(ok, dense, 0.0)) <= occlusion_tol * np.where(ok, dense, 1)
        out = np.where(ok & agree, sparse, 0.0)
    return out.astype(np.float32)
