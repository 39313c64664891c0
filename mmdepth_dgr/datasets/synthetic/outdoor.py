"""Procedural streets rendered with KITTI intrinsics and sparse simulated-LiDAR ground truth.

A street runs along world +Z: an asphalt road plane ``Y = 0`` (2-4 lanes of 3.2-3.8 m with
dashed lane markings, usually a parking strip on both sides), sidewalks as 12-15 cm high
boxes, rows of buildings (boxes with brick or window-grid facades, 5-22 m high) set back
0-6 m (sometimes 8-20 m) from the sidewalk with gaps between them, poles and trees
(cylinders, sphere crowns), and "cars" (body box, cabin box and four wheel cylinders,
culled as one group) parked along the kerbs and standing in the lanes. The sky is a
gradient with **no depth**. The sun is a directional light with hard shadows; distant
colours fade into a haze (aerial perspective).

The drive: the camera (KITTI cam 2, 1.65 m above the road, pitch/roll within +-1 deg, yaw
within +-4 deg of the street) advances ~0.8-1.2 m per frame through a static street.
The LiDAR (:mod:`.lidar`) sits 1.73 m above the road, 0.27 m behind and 0.06 m to the right
of the camera (the KITTI rig: Velodyne near cam 0, cam 2 6 cm to its left), and its hits
are projected into the image; only those pixels carry ground truth.
"""
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from .camera import CameraIntrinsics, camera_rotation, pixel_rays
from .geometry import Box, Cylinder, Plane, Scene, Sphere, rotation_y
from .lidar import lidar_sparse_depth, simulate_lidar_scan
from .render import render_scene
from .textures import srgb_to_uint8

__all__ = ['OutdoorStreet', 'make_street', 'street_camera_pose', 'render_street_frame',
           'generate_drive', 'CAMERA_HEIGHT_M', 'LIDAR_OFFSET_M']

#: Height of KITTI's left colour camera above the road.
CAMERA_HEIGHT_M = 1.65
#: LiDAR centre relative to the camera centre in the *vehicle* frame (X right, Y up,
#: Z forward): 8 cm above (1.73 m), 27 cm behind, 6 cm to the right.
LIDAR_OFFSET_M = (0.06, 0.08, -0.27)

_CAR_COLORS = [(0.8, 0.1, 0.1), (0.1, 0.2, 0.6), (0.9, 0.9, 0.9), (0.1, 0.1, 0.1),
               (0.5, 0.5, 0.55), (0.75, 0.75, 0.7), (0.2, 0.4, 0.25), (0.9, 0.7, 0.1)]
_FACADES = [(0.85, 0.8, 0.7), (0.75, 0.6, 0.5), (0.9, 0.88, 0.82), (0.6, 0.62, 0.65),
            (0.8, 0.72, 0.55), (0.7, 0.45, 0.35)]


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _seed(rng):
    return int(rng.integers(1 << 30))


@dataclass
class OutdoorStreet:
    """A street scene.

    Attributes:
        scene (Scene): Primitives.
        lights (list[dict]): Sun (directional).
        ambient (float): Sky ambient light.
        road_half_width (float): Half the road width in metres.
        length (float): Street length along +Z in metres.
        sky (tuple): ``(horizon_rgb, zenith_rgb)`` sRGB colours.
        haze (float): Haze density per metre.
        ego_x (float): Centre of the lane the camera drives in.
    """
    scene: Scene
    lights: List[Dict]
    ambient: float
    road_half_width: float
    length: float
    sky: Tuple[Tuple[float, float, float], Tuple[float, float, float]]
    haze: float
    ego_x: float = 0.0


def _add_car(rng, scene, x, z, yaw):
    length, width = rng.uniform(3.8, 4.8), rng.uniform(1.6, 1.9)
    body_h, cabin_h = rng.uniform(0.7, 0.9), rng.uniform(0.45, 0.6)
    clearance = 0.25
    paint = dict(pattern='paint', color=_pick(rng, _CAR_COLORS), scale=2.0, seed=_seed(rng))
    glass = dict(pattern='plain', color=(0.12, 0.14, 0.18))
    parts = [Box((x, clearance + body_h / 2, z), (width / 2, body_h / 2, length / 2), yaw,
                 material=paint),
             Box((x, clearance + body_h + cabin_h / 2, z - 0.2 * np.cos(np.deg2rad(yaw))),
                 (width / 2 - 0.08, cabin_h / 2, length * 0.3), yaw, material=glass)]
    # Wheels: upright cylinders are a cheap stand-in for the dark wheel wells.
    tyre = dict(pattern='plain', color=(0.05, 0.05, 0.05))
    rot = rotation_y(yaw)
    for sx in (-1, 1):
        for sz in (-1, 1):
            off = rot @ np.array([sx * (width / 2 - 0.25), 0.0, sz * (length / 2 - 0.75)])
            parts.append(Cylinder((x + off[0], 0.0, z + off[2]), 0.32, clearance + 0.1,
                                  material=tyre))
    scene.add_group(parts)


def make_street(rng: np.random.Generator, length: float = 160.0,
                ego_clear_m: float = 60.0) -> OutdoorStreet:
    """Build a random street along +Z starting at ``Z = -20``.

    Args:
        rng (np.random.Generator): Source of all randomness.
        length (float): Street length in metres. Defaults to 160.0.
        ego_clear_m (float): No car stands in the ego lane before this Z. Defaults to 60.0.

    Returns:
        OutdoorStreet: The street.
    """
    scene = Scene()
    lanes = int(rng.integers(2, 5))
    lane_w = float(rng.uniform(3.2, 3.8))
    traffic_half = lanes * lane_w / 2
    parking = bool(rng.random() < 0.7)
    half = traffic_half + (rng.uniform(2.2, 2.6) if parking else rng.uniform(0.3, 0.8))
    ego_lane = int(rng.integers(lanes))
    ego_x = -traffic_half + (ego_lane + 0.5) * lane_w
    road = dict(pattern='road', color=tuple(rng.uniform(0.3, 0.42) * np.ones(3)),
                lane_w=lane_w, lanes_half_width=traffic_half, seed=_seed(rng))
    scene.add(Plane((0.0, 1.0, 0.0), 0.0, (1.0, 0.0, 0.0), material=road, casts_shadow=False))
    z0, z1 = -20.0, length
    curb_h = rng.uniform(0.12, 0.15)
    walk_w = rng.uniform(1.5, 4.0)
    walk = dict(pattern='tiles', color=(0.62, 0.6, 0.57), color2=(0.45, 0.44, 0.42),
                scale=0.4, grout=0.015, seed=_seed(rng))
    for side in (-1, 1):
        scene.add(Box((side * (half + walk_w / 2), curb_h / 2, (z0 + z1) / 2),
                      (walk_w / 2, curb_h / 2, (z1 - z0) / 2), material=walk,
                      casts_shadow=False))
        # Buildings.
        z = z0 + rng.uniform(0, 10)
        while z < z1:
            blen = rng.uniform(8, 30)
            setback = rng.uniform(0.0, 6.0) if rng.random() < 0.8 else rng.uniform(8.0, 20.0)
            depth, height = rng.uniform(8, 15), rng.uniform(5, 22)
            xin = half + walk_w + setback
            facade = _pick(rng, _FACADES)
            if rng.random() < 0.3:
                mat = dict(pattern='brick', color=facade, scale=0.25, seed=_seed(rng))
            else:
                mat = dict(pattern='facade', color=facade, pitch=(rng.uniform(2.5, 4), 3.0),
                           win_w=rng.uniform(0.8, 1.6), win_h=rng.uniform(1.0, 1.6),
                           win_y0=1.0, seed=_seed(rng))
            scene.add(Box((side * (xin + depth / 2), height / 2, z + blen / 2),
                          (depth / 2, height / 2, blen / 2), material=mat))
            z += blen + (rng.uniform(1, 12) if rng.random() < 0.5 else 0.05)
        # Poles and trees on the sidewalk.
        z = z0 + rng.uniform(0, 15)
        while z < z1:
            x = side * (half + rng.uniform(0.4, walk_w - 0.3))
            if rng.random() < 0.5:
                scene.add(Cylinder((x, curb_h, z), rng.uniform(0.06, 0.12), rng.uniform(3.5, 8.0),
                                   material=dict(pattern='paint', color=(0.45, 0.45, 0.45),
                                                 seed=_seed(rng))))
            else:
                th = rng.uniform(1.8, 3.0)
                r = rng.uniform(1.0, 2.2)
                scene.add_group([
                    Cylinder((x, curb_h, z), rng.uniform(0.1, 0.2), th,
                             material=dict(pattern='wood', color=(0.35, 0.25, 0.15),
                                           scale=0.05, length=0.3, seed=_seed(rng))),
                    Sphere((x, curb_h + th + 0.7 * r, z), r, material=dict(
                        pattern='foliage', color=(0.2, 0.4, 0.12), seed=_seed(rng)))])
            z += rng.uniform(8, 25)
        # Parked cars in the parking strip along the kerb.
        z = z0 + rng.uniform(0, 10)
        while parking and z < z1:
            if rng.random() < 0.6:
                _add_car(rng, scene, side * (half - 1.15), z, float(rng.uniform(-3, 3)))
            z += rng.uniform(5.5, 12)
    # Cars in the lanes; the ego lane stays clear up to ``ego_clear_m``.
    for _ in range(int(rng.integers(1, 7))):
        lane = int(rng.integers(lanes))
        z = rng.uniform(-15, z1)
        if lane == ego_lane and z < ego_clear_m:
            continue
        _add_car(rng, scene, -traffic_half + (lane + 0.5) * lane_w + rng.normal(0, 0.2), z,
                 float(rng.uniform(-4, 4)))
    elev = np.deg2rad(rng.uniform(25, 60))
    azim = np.deg2rad(rng.uniform(0, 360))
    sun = (np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim))
    lights = [dict(type='dir', dir=sun, intensity=float(rng.uniform(0.9, 1.3)))]
    sky = ((0.8, 0.85, 0.9), tuple(rng.uniform([0.3, 0.45, 0.7], [0.5, 0.6, 0.9])))
    return OutdoorStreet(scene, lights, float(rng.uniform(0.3, 0.45)), float(half), length,
                         sky, float(rng.uniform(0.0015, 0.005)), float(ego_x))


def street_camera_pose(rng: np.random.Generator, street: OutdoorStreet, z: float
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose of the camera and vehicle at distance ``z`` along the street.

    Args:
        rng (np.random.Generator): Random source (lane offset, small rotations).
        street (OutdoorStreet): The street.
        z (float): Position along the street in metres.

    Returns:
        tuple[np.ndarray]: Camera centre ``(3,)``, camera-to-world rotation ``(3, 3)`` and
        vehicle rotation ``(3, 3)`` (yaw only).
    """
    x = street.ego_x + float(np.clip(rng.normal(0.0, 0.15), -0.4, 0.4))
    yaw = float(rng.uniform(-4, 4))
    origin = np.array([x, CAMERA_HEIGHT_M, z])
    return (origin, camera_rotation(yaw, float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))),
            rotation_y(yaw))


def render_street_frame(street: OutdoorStreet, origin: np.ndarray, rotation: np.ndarray,
                        vehicle_rotation: np.ndarray, intr: CameraIntrinsics,
                        rng: np.random.Generator, noise_std: float = 2.0,
                        max_depth_m: float = 80.0, azimuth_step_deg: float = 0.2,
                        lidar_dropout: float = 0.1, gt_values: str = 'pixel',
                        shadows: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one KITTI-like frame.

    Args:
        street (OutdoorStreet): The street.
        origin (np.ndarray): ``(3,)`` camera centre.
        rotation (np.ndarray): ``(3, 3)`` camera-to-world rotation.
        vehicle_rotation (np.ndarray): ``(3, 3)`` vehicle rotation (LiDAR mount).
        intr (CameraIntrinsics): Output intrinsics.
        rng (np.random.Generator): For noise, LiDAR phase and dropout.
        noise_std (float): Gaussian noise std on the 0-255 scale. Defaults to 2.0.
        max_depth_m (float): Ground-truth cap (KITTI evaluates to 80 m). Defaults to 80.0.
        azimuth_step_deg (float): LiDAR azimuth resolution. Defaults to 0.2.
        lidar_dropout (float): Fraction of lost LiDAR returns. Defaults to 0.1.
        gt_values (str): ``'pixel'`` or ``'lidar'``, see :mod:`.lidar`. Defaults to 'pixel'.
        shadows (bool): Cast sun shadows. Defaults to True.

    Returns:
        tuple[np.ndarray]: RGB ``(H, W, 3)`` uint8, sparse z-depth ``(H, W)`` float32
        (0 = no LiDAR hit / sky / beyond the cap) and the dense z-depth ``(H, W)`` float64
        (``inf`` = sky, uncapped).
    """
    rays = pixel_rays(intr, rotation)
    horizon, zenith = np.asarray(street.sky[0]) ** 2.2, np.asarray(street.sky[1]) ** 2.2

    def sky(d):
        up = np.clip(d[:, 1] / np.linalg.norm(d, axis=1), 0.0, 1.0) ** 0.6
        return horizon[None] * (1 - up[:, None]) + zenith[None] * up[:, None]

    color, dense = render_scene(street.scene, origin, rays, street.lights, street.ambient,
                                shadows, background=sky)
    # Aerial perspective: blend towards the horizon colour with the ray length.
    length = np.where(np.isfinite(dense), dense * np.linalg.norm(rays, axis=-1), np.inf)
    fog = 1.0 - np.exp(-street.haze * length)
    color = color * (1 - fog[..., None]) + horizon * fog[..., None]
    noise = rng.normal(0.0, noise_std, size=color.shape) if noise_std > 0 else None
    rgb = srgb_to_uint8(color * 0.95, noise)
    lidar_origin = origin + vehicle_rotation @ np.asarray(LIDAR_OFFSET_M)
    points = simulate_lidar_scan(street.scene, lidar_origin, vehicle_rotation,
                                 azimuth_step_deg=azimuth_step_deg, max_range_m=120.0,
                                 dropout=lidar_dropout, rng=rng)
    sparse = lidar_sparse_depth(points, origin, rotation, intr, dense, max_depth_m, gt_values)
    return rgb, sparse, dense


def generate_drive(seed_seq: np.random.SeedSequence, intr: CameraIntrinsics, num_frames: int,
                   **render_kwargs):
    """Build one street and render ``num_frames`` consecutive frames of a drive along it.

    Args:
        seed_seq (np.random.SeedSequence): Seeds the street and each frame.
        intr (CameraIntrinsics): Output intrinsics.
        num_frames (int): Number of frames.
        **render_kwargs: Forwarded to :func:`render_street_frame`.

    Returns:
        tuple: ``(street, [(rgb, sparse_depth_m, dense_depth_m), ...])``.
    """
    street_seq, drive_seq, *frame_seqs = seed_seq.spawn(2 + num_frames)
    street = make_street(np.random.default_rng(street_seq))
    drive_rng = np.random.default_rng(drive_seq)
    z = float(drive_rng.uniform(0.0, 10.0))
    frames = []
    for fs in frame_seqs:
        rng = np.random.default_rng(fs)
        origin, rot, veh = street_camera_pose(rng, street, z)
        frames.append(render_street_frame(street, origin, rot, veh, intr, rng, **render_kwargs))
        z += float(drive_rng.uniform(0.8, 1.2))
    return street, frames
