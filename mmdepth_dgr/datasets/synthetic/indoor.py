"""Procedural indoor rooms rendered with NYU-Depth-V2 intrinsics.

A room is the box ``[0, W] x [0, H] x [0, D]`` (world X right, Y up, Z forward; metres)
with ``W`` in 3-6.5 m, ``D`` in 3.5-8 m and ``H`` in 2.4-3.2 m: floor, ceiling and four
walls as planes (each wall its own paint / wallpaper / brick colour, the floor tiles, wood
planks or carpet), skirting boards, doors, windows and pictures as thin boxes on the
walls, and furniture built from boxes, upright cylinders and spheres (tables with legs and
objects on top, chairs, cabinets, shelves, sofas/beds, lamps, bins, balls, pillars; 4-11
placement attempts, fewer pieces when the floor is full). A ceiling point light plus a
weak directional fill light shade the scene (Lambertian, hard shadows), then
auto-exposure, gamma and mild sensor noise.

Several camera views are rendered per room (like the frames of one NYU scene): the camera
stands 1.0-1.7 m high, at least ~0.7 m from every piece of furniture, and looks at a
piece of furniture or across the room (yaw jitter +-20 deg, pitch -25..+5 deg, roll +-3
deg), re-sampled while probe rays show a wall at arm's length
(:func:`sample_indoor_camera`). Depth is the exact z-depth of each pixel's centre ray;
pixels beyond ``max_depth_m`` (10 m, the Kinect limit of the NYU ground truth) or nearer
than ``min_depth_m`` are set to 0 (invalid) -- with the room sizes above that rarely
happens.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from .camera import CameraIntrinsics, camera_rotation, pixel_rays
from .geometry import Box, Cylinder, Plane, Scene, Sphere
from .render import render_scene
from .textures import srgb_to_uint8

__all__ = ['ROOM_TYPES', 'IndoorRoom', 'make_indoor_room', 'sample_indoor_camera',
           'render_indoor_view', 'generate_indoor_scene']

ROOM_TYPES = ('bedroom', 'living_room', 'kitchen', 'office', 'dining_room', 'bathroom',
              'study_room', 'classroom')

_WALL_COLORS = [(0.93, 0.91, 0.85), (0.85, 0.88, 0.92), (0.9, 0.85, 0.75), (0.75, 0.82, 0.75),
                (0.95, 0.93, 0.9), (0.8, 0.72, 0.68), (0.7, 0.78, 0.86), (0.92, 0.82, 0.6),
                (0.6, 0.65, 0.72), (0.88, 0.7, 0.7)]
_WOOD_COLORS = [(0.55, 0.35, 0.2), (0.7, 0.5, 0.3), (0.4, 0.25, 0.15), (0.8, 0.65, 0.45)]
_FABRIC_COLORS = [(0.3, 0.35, 0.5), (0.6, 0.2, 0.2), (0.35, 0.5, 0.35), (0.75, 0.7, 0.6),
                  (0.2, 0.2, 0.22), (0.55, 0.45, 0.6), (0.85, 0.6, 0.3)]
_BRIGHT = [(0.9, 0.2, 0.2), (0.2, 0.5, 0.9), (0.95, 0.8, 0.2), (0.2, 0.7, 0.4), (0.9, 0.9, 0.9),
           (0.6, 0.3, 0.8), (0.95, 0.5, 0.1)]


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _jitter(rng, color, amount=0.08):
    return tuple(float(np.clip(c + rng.uniform(-amount, amount), 0.02, 1.0)) for c in color)


@dataclass
class IndoorRoom:
    """A furnished room.

    Attributes:
        scene (Scene): Primitives.
        lights (list[dict]): Lights for :func:`~.textures.lambert`.
        ambient (float): Ambient light.
        size (tuple[float]): ``(W, H, D)`` metres.
        footprints (list[tuple]): ``(x, z, radius)`` floor discs occupied by furniture.
        room_type (str): One of :data:`ROOM_TYPES` (a name only).
    """
    scene: Scene
    lights: List[Dict]
    ambient: float
    size: Tuple[float, float, float]
    footprints: List[Tuple[float, float, float]] = field(default_factory=list)
    room_type: str = 'living_room'


def _floor_material(rng):
    kind = _pick(rng, ['tiles', 'wood', 'carpet', 'tiles_checker'])
    seed = int(rng.integers(1 << 30))
    if kind == 'wood':
        return dict(pattern='wood', color=_jitter(rng, _pick(rng, _WOOD_COLORS)),
                    scale=float(rng.uniform(0.1, 0.22)), length=float(rng.uniform(0.8, 1.6)),
                    seed=seed)
    if kind == 'carpet':
        return dict(pattern='carpet', color=_jitter(rng, _pick(rng, _FABRIC_COLORS), 0.1),
                    seed=seed)
    base = _jitter(rng, _pick(rng, [(0.85, 0.83, 0.8), (0.7, 0.7, 0.72), (0.8, 0.7, 0.55),
                                    (0.55, 0.55, 0.6)]))
    return dict(pattern='tiles', color=base, color2=_jitter(rng, (0.45, 0.45, 0.42)),
                color3=_jitter(rng, (0.25, 0.25, 0.3)), checker=kind == 'tiles_checker',
                scale=float(rng.uniform(0.3, 0.6)), grout=float(rng.uniform(0.008, 0.02)),
                seed=seed)


def _wall_material(rng):
    seed = int(rng.integers(1 << 30))
    r = rng.random()
    color = _jitter(rng, _pick(rng, _WALL_COLORS), 0.05)
    if r < 0.12:
        return dict(pattern='brick', color=_jitter(rng, (0.6, 0.32, 0.22)), seed=seed,
                    color2=(0.78, 0.76, 0.72))
    if r < 0.25:
        return dict(pattern='stripes', color=color, color2=_jitter(rng, color, 0.12),
                    scale=float(rng.uniform(0.05, 0.2)), seed=seed)
    return dict(pattern='paint', color=color, scale=float(rng.uniform(0.3, 1.0)), seed=seed)


def _add_wall_items(rng, scene: Scene, size):
    """Skirting boards, doors, windows and pictures: thin boxes on the four walls."""
    w, h, d = size
    walls = [  # (axis of the wall plane, its coordinate, inward sign, wall length)
        ('z', d, -1, w), ('z', 0.0, 1, w), ('x', 0.0, 1, d), ('x', w, -1, d)]
    skirt = _jitter(rng, _pick(rng, [(0.95, 0.95, 0.93), (0.4, 0.28, 0.18), (0.3, 0.3, 0.3)]))
    for axis, coord, sign, length in walls:
        thick = 0.012
        c_perp = coord + sign * thick
        center = (length / 2, 0.05, c_perp) if axis == 'z' else (c_perp, 0.05, length / 2)
        half = (length / 2, 0.05, thick) if axis == 'z' else (thick, 0.05, length / 2)
        scene.add(Box(center, half, material=dict(pattern='plain', color=skirt),
                      casts_shadow=False))
        n_items = int(rng.integers(0, 4))
        used = []
        for _ in range(n_items):
            kind = _pick(rng, ['door', 'window', 'picture', 'picture'])
            if kind == 'door':
                iw, ih, y0 = rng.uniform(0.8, 1.0), rng.uniform(1.95, 2.1), 0.0
                mat = dict(pattern='wood', color=_jitter(rng, _pick(rng, _WOOD_COLORS)),
                           scale=0.4, length=3.0, seed=int(rng.integers(1 << 30)))
                depth = 0.03
            elif kind == 'window':
                iw, ih = rng.uniform(0.8, 1.8), rng.uniform(0.9, 1.4)
                y0 = rng.uniform(0.8, max(0.85, h - ih - 0.3))
                mat = dict(pattern='facade', color=(0.9, 0.9, 0.88), color2=(0.75, 0.85, 0.95),
                           pitch=(iw + 1.0, ih + 1.0), win_w=iw, win_h=ih, win_y0=0.0,
                           seed=int(rng.integers(1 << 30)))
                depth = 0.02
            else:
                iw, ih = rng.uniform(0.3, 1.2), rng.uniform(0.3, 0.9)
                y0 = rng.uniform(1.1, max(1.15, h - ih - 0.2))
                mat = dict(pattern=_pick(rng, ['stripes', 'paint', 'carpet']),
                           color=_pick(rng, _BRIGHT), color2=_pick(rng, _BRIGHT),
                           scale=float(rng.uniform(0.04, 0.2)), seed=int(rng.integers(1 << 30)))
                depth = 0.025
            if iw + 0.4 > length:
                continue
            pos = rng.uniform(0.2 + iw / 2, length - 0.2 - iw / 2)
            if any(abs(pos - p) < (iw + q) / 2 + 0.1 for p, q in used):
                continue
            used.append((pos, iw))
            c_perp = coord + sign * depth
            cy = y0 + ih / 2
            center = (pos, cy, c_perp) if axis == 'z' else (c_perp, cy, pos)
            half = (iw / 2, ih / 2, depth) if axis == 'z' else (depth, ih / 2, iw / 2)
            if kind == 'window':  # texture coordinates start at the window's corner
                mat['win_y0'] = y0
                mat['pitch'] = (length + 10.0, h + 10.0)
            scene.add(Box(center, half, material=mat, casts_shadow=False))


def _place(rng, footprints, size, radius, against_wall: bool, half_depth: float = 0.0):
    """Sample a free floor position ``(x, z, yaw_deg)`` for an item of bounding ``radius``.

    Items ``against_wall`` get a yaw whose local +z points at the wall and stand
    ``half_depth`` + 2 cm from it; the others stay 0.3 m clear of the walls.
    """
    w, _, d = size
    for _ in range(30):
        if against_wall:
            side = int(rng.integers(4))
            length = w if side < 2 else d
            if length < 2 * radius:
                continue
            along = rng.uniform(radius, length - radius)
            gap = half_depth + 0.02
            x, z, yaw = [(along, d - gap, 0.0), (along, gap, 180.0), (gap, along, 270.0),
                         (w - gap, along, 90.0)][side]
        else:
            if w < 2 * radius + 0.6 or d < 2 * radius + 0.6:
                return None
            x = rng.uniform(radius + 0.3, w - radius - 0.3)
            z = rng.uniform(radius + 0.3, d - radius - 0.3)
            yaw = float(rng.choice([0.0, 90.0, rng.uniform(-40, 40)]))
        if all(np.hypot(x - fx, z - fz) > radius + fr + 0.05 for fx, fz, fr in footprints):
            footprints.append((x, z, radius))
            return x, z, yaw
    return None


def _rot_xz(dx, dz, yaw_deg):
    a = np.deg2rad(yaw_deg)
    return dx * np.cos(a) + dz * np.sin(a), -dx * np.sin(a) + dz * np.cos(a)


def _add_furniture(rng, scene: Scene, size, footprints):
    w, h, d = size
    kinds = ['table', 'chair', 'cabinet', 'shelf', 'sofa', 'lamp', 'bin', 'ball', 'pillar',
             'table', 'chair', 'cabinet']
    for _ in range(int(rng.integers(4, 12))):
        kind = _pick(rng, kinds)
        wood = dict(pattern='wood', color=_jitter(rng, _pick(rng, _WOOD_COLORS)),
                    scale=float(rng.uniform(0.08, 0.3)), length=float(rng.uniform(0.6, 2.0)),
                    seed=int(rng.integers(1 << 30)))
        fabric = dict(pattern='carpet', color=_jitter(rng, _pick(rng, _FABRIC_COLORS)),
                      seed=int(rng.integers(1 << 30)))
        paint = dict(pattern='paint', color=_jitter(rng, _pick(rng, _BRIGHT + _WALL_COLORS)),
                     scale=0.3, seed=int(rng.integers(1 << 30)))
        if kind in ('table', 'chair'):
            if kind == 'table':
                tw, td, th = rng.uniform(0.7, 1.6), rng.uniform(0.5, 1.0), rng.uniform(0.68, 0.8)
            else:
                tw, td, th = rng.uniform(0.4, 0.5), rng.uniform(0.4, 0.5), rng.uniform(0.42, 0.48)
            spot = _place(rng, footprints, size, 0.5 * np.hypot(tw, td) + 0.02, False)
            if spot is None:
                continue
            x, z, yaw = spot
            mat = wood if rng.random() < 0.7 else paint
            scene.add(Box((x, th - 0.02, z), (tw / 2, 0.02, td / 2), yaw, material=mat))
            leg_r = float(rng.uniform(0.02, 0.04))
            for sx in (-1, 1):
                for sz in (-1, 1):
                    ox, oz = _rot_xz(sx * (tw / 2 - 0.06), sz * (td / 2 - 0.06), yaw)
                    scene.add(Cylinder((x + ox, 0.0, z + oz), leg_r, th - 0.04, material=mat))
            if kind == 'chair':
                ox, oz = _rot_xz(0.0, -(td / 2 - 0.02), yaw)
                scene.add(Box((x + ox, th + 0.22, z + oz), (tw / 2, 0.22, 0.02), yaw,
                              material=mat))
            else:
                for _ in range(int(rng.integers(0, 4))):  # objects on the table
                    ox, oz = _rot_xz(rng.uniform(-tw / 2 + 0.15, tw / 2 - 0.15),
                                     rng.uniform(-td / 2 + 0.15, td / 2 - 0.15), yaw)
                    px, pz = x + ox, z + oz
                    obj = _pick(rng, ['sphere', 'cyl', 'box'])
                    col = dict(pattern='paint', color=_pick(rng, _BRIGHT), scale=0.1,
                               seed=int(rng.integers(1 << 30)))
                    if obj == 'sphere':
                        r = rng.uniform(0.05, 0.13)
                        scene.add(Sphere((px, th + r, pz), r, material=col))
                    elif obj == 'cyl':
                        r, hh = rng.uniform(0.03, 0.1), rng.uniform(0.08, 0.35)
                        scene.add(Cylinder((px, th, pz), r, hh, material=col))
                    else:
                        bw, bh, bd = rng.uniform(0.1, 0.3), rng.uniform(0.03, 0.25), rng.uniform(
                            0.1, 0.25)
                        scene.add(Box((px, th + bh / 2, pz), (bw / 2, bh / 2, bd / 2),
                                      float(rng.uniform(-45, 45)) + yaw, material=col))
        elif kind in ('cabinet', 'shelf'):
            cw, cd = rng.uniform(0.5, 1.8), rng.uniform(0.3, 0.6)
            ch = rng.uniform(0.7, 1.2) if kind == 'cabinet' else rng.uniform(1.5, min(2.3, h - 0.1))
            spot = _place(rng, footprints, size, 0.5 * np.hypot(cw, cd), True, cd / 2)
            if spot is None:
                continue
            x, z, yaw = spot
            mat = wood if kind == 'cabinet' else dict(
                pattern='stripes', color=_pick(rng, _BRIGHT), color2=_pick(rng, _FABRIC_COLORS),
                scale=float(rng.uniform(0.03, 0.08)), seed=int(rng.integers(1 << 30)))
            scene.add(Box((x, ch / 2, z), (cw / 2, ch / 2, cd / 2), yaw, material=mat))
            if kind == 'cabinet' and rng.random() < 0.5:
                r = rng.uniform(0.08, 0.2)
                scene.add(Sphere((x, ch + r, z), r, material=paint))
        elif kind == 'sofa':
            sw, sd, sh = rng.uniform(1.4, 2.2), rng.uniform(0.8, 2.0), rng.uniform(0.35, 0.55)
            spot = _place(rng, footprints, size, 0.5 * np.hypot(sw, sd), True, sd / 2)
            if spot is None:
                continue
            x, z, yaw = spot
            scene.add(Box((x, sh / 2, z), (sw / 2, sh / 2, sd / 2), yaw, material=fabric))
            ox, oz = _rot_xz(0.0, sd / 2 - 0.1, yaw)
            bh = rng.uniform(0.3, 0.6)
            scene.add(Box((x + ox, sh + bh / 2, z + oz), (sw / 2, bh / 2, 0.1), yaw,
                          material=fabric))
        elif kind == 'lamp':
            spot = _place(rng, footprints, size, 0.25, False)
            if spot is None:
                continue
            x, z, _ = spot
            ph = rng.uniform(1.2, 1.7)
            scene.add(Cylinder((x, 0.0, z), 0.2, 0.03, material=paint))
            scene.add(Cylinder((x, 0.0, z), 0.02, ph, material=paint))
            if rng.random() < 0.5:
                scene.add(Sphere((x, ph + 0.12, z), 0.18, material=dict(
                    pattern='plain', color=(0.97, 0.95, 0.85))))
            else:
                scene.add(Cylinder((x, ph - 0.1, z), 0.2, 0.3, material=fabric))
        elif kind == 'bin':
            r = rng.uniform(0.15, 0.35)
            spot = _place(rng, footprints, size, r, False)
            if spot is not None:
                scene.add(Cylinder((spot[0], 0.0, spot[1]), r, rng.uniform(0.3, 0.6),
                                   material=paint))
        elif kind == 'ball':
            r = rng.uniform(0.1, 0.4)
            spot = _place(rng, footprints, size, r, False)
            if spot is not None:
                scene.add(Sphere((spot[0], r, spot[1]), r, material=paint))
        elif kind == 'pillar':
            r = rng.uniform(0.15, 0.3)
            spot = _place(rng, footprints, size, r, False)
            if spot is not None:
                scene.add(Cylinder((spot[0], 0.0, spot[1]), r, h, material=dict(
                    pattern='paint', color=_jitter(rng, _pick(rng, _WALL_COLORS)),
                    seed=int(rng.integers(1 << 30)))))


def make_indoor_room(rng: np.random.Generator) -> IndoorRoom:
    """Build a random furnished room.

    Args:
        rng (np.random.Generator): Source of all randomness.

    Returns:
        IndoorRoom: The room.
    """
    w, d, h = rng.uniform(3.0, 6.5), rng.uniform(3.5, 8.0), rng.uniform(2.4, 3.2)
    size = (float(w), float(h), float(d))
    scene = Scene()
    no_shadow = dict(casts_shadow=False)
    scene.add(Plane((0, 1, 0), 0.0, (1, 0, 0), material=_floor_material(rng), **no_shadow))
    scene.add(Plane((0, -1, 0), -h, (1, 0, 0), material=dict(
        pattern='paint', color=_jitter(rng, (0.95, 0.95, 0.93), 0.04), scale=0.5,
        seed=int(rng.integers(1 << 30))), **no_shadow))
    for normal, offset, u_axis in [((0, 0, -1), -d, (1, 0, 0)), ((0, 0, 1), 0.0, (1, 0, 0)),
                                   ((1, 0, 0), 0.0, (0, 0, 1)), ((-1, 0, 0), -w, (0, 0, 1))]:
        scene.add(Plane(normal, offset, u_axis, material=_wall_material(rng), **no_shadow))
    _add_wall_items(rng, scene, size)
    footprints: List[Tuple[float, float, float]] = []
    _add_furniture(rng, scene, size, footprints)
    light_pos = (rng.uniform(0.25, 0.75) * w, h - 0.25, rng.uniform(0.25, 0.75) * d)
    fill = rng.normal(size=3)
    fill[1] = abs(fill[1]) + 0.5
    lights = [dict(type='point', pos=light_pos, intensity=float(rng.uniform(1.6, 2.6)),
                   r0=float(rng.uniform(2.5, 4.0))),
              dict(type='dir', dir=tuple(fill), intensity=float(rng.uniform(0.15, 0.35)))]
    return IndoorRoom(scene, lights, float(rng.uniform(0.2, 0.35)), size, footprints,
                      _pick(rng, ROOM_TYPES))


def _propose_camera(rng: np.random.Generator, room: IndoorRoom):
    w, h, d = room.size
    x = z = None
    for _ in range(100):
        x, z = rng.uniform(0.4, w - 0.4), rng.uniform(0.4, d * 0.6)
        if all(np.hypot(x - fx, z - fz) > fr + 0.7 for fx, fz, fr in room.footprints):
            break
    y = rng.uniform(1.0, min(1.7, h - 0.4))
    if room.footprints and rng.random() < 0.7:  # look at a piece of furniture ...
        tx, tz, _ = room.footprints[int(rng.integers(len(room.footprints)))]
    else:  # ... or at a random point on the far half of the room
        tx, tz = rng.uniform(0.2, 0.8) * w, rng.uniform(0.6, 1.0) * d
    yaw = np.rad2deg(np.arctan2(tx - x, tz - z)) + rng.uniform(-20, 20)
    rot = camera_rotation(float(yaw), float(rng.uniform(-25, 5)), float(rng.uniform(-3, 3)))
    return np.array([x, y, z]), rot


def sample_indoor_camera(rng: np.random.Generator, room: IndoorRoom,
                         intr: CameraIntrinsics = None, min_median_depth_m: float = 1.8,
                         min_depth_m: float = 0.5, tries: int = 20
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Sample a camera pose inside a room, clear of furniture and not facing a near wall.

    Proposals stand >= 0.7 m from every furniture footprint and look at a piece of
    furniture (70 %) or the far half of the room. With ``intr`` given, 5x5 probe rays
    must see a median depth >= ``min_median_depth_m`` and nothing nearer than
    ``min_depth_m`` (NYU frames rarely face a wall at arm's length); otherwise the
    proposal with the largest median probe depth of ``tries`` is used.

    Args:
        rng (np.random.Generator): Random source.
        room (IndoorRoom): The room.
        intr (CameraIntrinsics, optional): Enables the probe-ray test. Defaults to None.
        min_median_depth_m (float): Probe test threshold. Defaults to 1.8.
        min_depth_m (float): Probe test threshold. Defaults to 0.5.
        tries (int): Proposals before giving up. Defaults to 20.

    Returns:
        tuple[np.ndarray]: Camera centre ``(3,)`` and camera-to-world rotation ``(3, 3)``.
    """
    best, best_med = None, -1.0
    for _ in range(tries if intr is not None else 1):
        origin, rot = _propose_camera(rng, room)
        if intr is None:
            return origin, rot
        us = np.linspace(0.1, 0.9, 5) * intr.width
        vs = np.linspace(0.1, 0.9, 5) * intr.height
        du, dv = np.meshgrid((us - intr.cx) / intr.fx, (vs - intr.cy) / intr.fy)
        probe = np.stack([du.ravel(), dv.ravel(), np.ones(du.size)], axis=1) @ rot.T
        t = room.scene.raycast(origin, probe).t
        med = float(np.median(t))
        if med >= min_median_depth_m and t.min() >= min_depth_m:
            return origin, rot
        if med > best_med:
            best, best_med = (origin, rot), med
    return best


def render_indoor_view(room: IndoorRoom, origin: np.ndarray, rotation: np.ndarray,
                       intr: CameraIntrinsics, rng: np.random.Generator,
                       noise_std: float = 2.0, min_depth_m: float = 0.1,
                       max_depth_m: float = 10.0, shadows: bool = True
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Render one view.

    Args:
        room (IndoorRoom): The room.
        origin (np.ndarray): ``(3,)`` camera centre.
        rotation (np.ndarray): ``(3, 3)`` camera-to-world rotation.
        intr (CameraIntrinsics): Intrinsics of the output image.
        rng (np.random.Generator): For the sensor noise.
        noise_std (float): Gaussian noise std on the 0-255 scale. Defaults to 2.0.
        min_depth_m (float): Nearer pixels are invalid (0). Defaults to 0.1.
        max_depth_m (float): Farther pixels are invalid (0). Defaults to 10.0.
        shadows (bool): Cast shadows. Defaults to True.

    Returns:
        tuple[np.ndarray]: RGB ``(H, W, 3)`` uint8 and z-depth ``(H, W)`` float32 metres.
    """
    rays = pixel_rays(intr, rotation)
    color, depth = render_scene(room.scene, origin, rays, room.lights, room.ambient, shadows)
    lum = color.mean(axis=-1)
    exposure = 0.8 / max(float(np.percentile(lum, 97)), 1e-3)
    noise = rng.normal(0.0, noise_std, size=color.shape) if noise_std > 0 else None
    rgb = srgb_to_uint8(color * exposure, noise)
    valid = np.isfinite(depth) & (depth >= min_depth_m) & (depth <= max_depth_m)
    return rgb, np.where(valid, depth, 0.0).astype(np.float32)


def generate_indoor_scene(seed_seq: np.random.SeedSequence, intr: CameraIntrinsics,
                          num_views: int, **render_kwargs):
    """Build one room and render ``num_views`` views of it.

    Args:
        seed_seq (np.random.SeedSequence): Seeds the room and each view independently.
        intr (CameraIntrinsics): Output intrinsics.
        num_views (int): Number of views.
        **render_kwargs: Forwarded to :func:`render_indoor_view`.

    Returns:
        tuple: ``(room, [(rgb uint8 (H, W, 3), depth_m float32 (H, W)), ...])``.
    """
    room_seq, *view_seqs = seed_seq.spawn(1 + num_views)
    room = make_indoor_room(np.random.default_rng(room_seq))
    views = []
    for vs in view_seqs:
        rng = np.random.default_rng(vs)
        origin, rot = sample_indoor_camera(rng, room, intr)
        views.append(render_indoor_view(room, origin, rot, intr, rng, **render_kwargs))
    return room, views
