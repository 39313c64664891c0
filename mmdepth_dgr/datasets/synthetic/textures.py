"""Procedural textures and Lambertian shading (numpy, deterministic).

Textures are functions of surface coordinates ``uv`` in metres (from
:meth:`~mmdepth_dgr.datasets.synthetic.geometry.Primitive.surface_uv`), so a tiled floor
shows correct perspective foreshortening: tiles shrink with depth exactly as the geometry
does. Randomness comes only from an integer hash of lattice coordinates and a per-material
seed, so the same scene always produces the same pixels.

Shading is Lambertian (paper-independent, standard computer graphics):
``rgb = albedo * (ambient + sum_k I_k * max(0, n . l_k) * vis_k * falloff_k)``, with
``falloff = 1 / (1 + (r / r0)^2)`` for point lights (a softened inverse-square law) and 1
for directional lights; ``vis_k`` is 0 where a shadow ray is blocked.
"""
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['hash2', 'value_noise', 'fbm', 'texture_albedo', 'lambert', 'PATTERNS',
           'srgb_to_uint8']

_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(
    0x94D049BB133111EB)


def hash2(ix: np.ndarray, iy: np.ndarray, seed: int = 0) -> np.ndarray:
    """Hash integer lattice coordinates to floats in ``[0, 1)`` (splitmix64 finaliser).

    Args:
        ix (np.ndarray): Integer-valued x coordinates (any shape).
        iy (np.ndarray): Integer-valued y coordinates (same shape).
        seed (int): Stream selector. Defaults to 0.

    Returns:
        np.ndarray: float64 array of the broadcast shape.
    """
    x = np.asarray(ix).astype(np.int64).astype(np.uint64)
    y = np.asarray(iy).astype(np.int64).astype(np.uint64)
    with np.errstate(over='ignore'):
        h = x * _M1 + y * _M2 + np.uint64(seed & 0xFFFFFFFF) * _M3 + np.uint64(0x632BE59BD9B4E019)
        h ^= h >> np.uint64(30)
        h *= _M2
        h ^= h >> np.uint64(27)
        h *= _M3
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def value_noise(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Smooth 2-D value noise in ``[0, 1]`` with unit lattice spacing."""
    ix, iy = np.floor(x), np.floor(y)
    fx, fy = x - ix, y - iy
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    v00, v10 = hash2(ix, iy, seed), hash2(ix + 1, iy, seed)
    v01, v11 = hash2(ix, iy + 1, seed), hash2(ix + 1, iy + 1, seed)
    return (v00 * (1 - sx) + v10 * sx) * (1 - sy) + (v01 * (1 - sx) + v11 * sx) * sy


def fbm(x: np.ndarray, y: np.ndarray, seed: int = 0, octaves: int = 3) -> np.ndarray:
    """Fractal sum of :func:`value_noise` octaves (gain 0.5, lacunarity 2), in ``[0, 1]``."""
    total, amp, norm = 0.0, 1.0, 0.0
    for k in range(octaves):
        total = total + amp * value_noise(x * 2 ** k, y * 2 ** k, seed + 101 * k)
        norm += amp
        amp *= 0.5
    return total / norm


def _col(c: Sequence[float]) -> np.ndarray:
    return np.asarray(c, dtype=np.float64)[None, :]


def _paint(uv, m):
    n = fbm(uv[:, 0] / m.get('scale', 0.6), uv[:, 1] / m.get('scale', 0.6), m.get('seed', 0))
    return _col(m['color']) * (1.0 + 0.12 * (n - 0.5))[:, None]


def _tiles(uv, m):
    s, g = m.get('scale', 0.5), m.get('grout', 0.02)
    u, v = uv[:, 0] / s, uv[:, 1] / s
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    grout = (fu < g / s) | (fv < g / s)
    jitter = 0.85 + 0.3 * hash2(iu, iv, m.get('seed', 0))
    speck = 0.95 + 0.1 * value_noise(uv[:, 0] * 25, uv[:, 1] * 25, m.get('seed', 0) + 7)
    c1 = _col(m['color']) * (jitter * speck)[:, None]
    if m.get('checker', False):
        alt = ((iu + iv) % 2 == 1)[:, None]
        c1 = np.where(alt, _col(m.get('color3', m['color2'])) * jitter[:, None], c1)
    return np.where(grout[:, None], _col(m.get('color2', (0.8, 0.8, 0.78))), c1)


def _wood(uv, m):
    w, length, seed = m.get('scale', 0.15), m.get('length', 1.2), m.get('seed', 0)
    u, v = uv[:, 0], uv[:, 1]
    row = np.floor(v / w)
    shift = hash2(row, row * 0 + 3, seed) * length
    col = np.floor((u + shift) / length)
    plank = hash2(row, col, seed + 1)
    seam = ((v / w - row) < 0.04) | (((u + shift) / length - col) < 0.01)
    grain = 0.5 + 0.5 * np.sin((v * 60.0 + 3.0 * fbm(u * 1.5, v * 8.0, seed + 2, 2)) * 2.0)
    tone = (0.75 + 0.35 * plank) * (0.88 + 0.12 * grain)
    out = _col(m['color']) * tone[:, None]
    return np.where(seam[:, None], out * 0.55, out)


def _carpet(uv, m):
    n = fbm(uv[:, 0] * 40, uv[:, 1] * 40, m.get('seed', 0), 2)
    big = value_noise(uv[:, 0] * 1.5, uv[:, 1] * 1.5, m.get('seed', 0) + 5)
    return _col(m['color']) * (0.8 + 0.25 * n + 0.1 * big)[:, None]


def _stripes(uv, m):
    s = m.get('scale', 0.1)
    k = np.floor(uv[:, 0] / s)
    pick = (k % 2 == 0)[:, None]
    return np.where(pick, _col(m['color']), _col(m.get('color2', (0.9, 0.9, 0.9)))) * (
        0.9 + 0.1 * hash2(k, k * 0, m.get('seed', 0)))[:, None]


def _brick(uv, m):
    bw, bh, g = m.get('scale', 0.25), m.get('brick_h', 0.075), m.get('grout', 0.012)
    v = uv[:, 1] / bh
    row = np.floor(v)
    u = uv[:, 0] / bw + 0.5 * (row % 2)
    col = np.floor(u)
    mortar = ((v - row) < g / bh) | ((u - col) < g / bw)
    tone = 0.8 + 0.35 * hash2(col, row, m.get('seed', 0))
    out = _col(m['color']) * tone[:, None]
    return np.where(mortar[:, None], _col(m.get('color2', (0.75, 0.73, 0.7))), out)


def _facade(uv, m):
    """Plaster wall with a grid of windows (``win_w`` x ``win_h`` every ``pitch``)."""
    base = _paint(uv, m)
    px, py = m.get('pitch', (3.0, 3.0))
    ww, wh = m.get('win_w', 1.2), m.get('win_h', 1.4)
    fu = np.mod(uv[:, 0], px)
    fv = np.mod(uv[:, 1] - m.get('win_y0', 1.0), py)
    win = (fu < ww) & (fv < wh) & (uv[:, 1] > m.get('win_y0', 1.0) - 0.01)
    cell = hash2(np.floor(uv[:, 0] / px), np.floor(uv[:, 1] / py), m.get('seed', 0))
    glass = _col(m.get('color2', (0.18, 0.22, 0.28))) * (0.6 + 0.8 * cell)[:, None]
    frame = win & ((fu < 0.06) | (fu > ww - 0.06) | (fv < 0.06) | (fv > wh - 0.06))
    out = np.where(win[:, None], glass, base)
    return np.where(frame[:, None], _col((0.85, 0.85, 0.82)), out)


def _road(uv, m):
    """Asphalt with dashed lane dividers and solid edge lines; uv = (world X, +-world Z)."""
    x, z = uv[:, 0], uv[:, 1]
    n = fbm(x * 6, z * 6, m.get('seed', 0), 2)
    patch = value_noise(x * 0.3, z * 0.3, m.get('seed', 0) + 3)
    out = _col(m['color']) * (0.85 + 0.2 * n + 0.15 * patch)[:, None]
    lane, half = m.get('lane_w', 3.5), m.get('lanes_half_width', 3.5)
    mark = np.zeros(len(x), dtype=bool)
    for k in range(1, int(round(2 * half / lane))):
        mark |= (np.abs(x - (-half + k * lane)) < 0.07) & (np.mod(z, 9.0) < 3.0)
    mark |= np.abs(np.abs(x) - half) < 0.08
    return np.where(mark[:, None], _col((0.9, 0.9, 0.86)), out)


def _foliage(uv, m):
    n = fbm(uv[:, 0] * 8, uv[:, 1] * 8, m.get('seed', 0), 3)
    return _col(m['color']) * (0.6 + 0.7 * n)[:, None]


def _plain(uv, m):
    return np.broadcast_to(_col(m['color']), (len(uv), 3)).copy()


#: Name -> ``fn(uv (N, 2), material dict) -> albedo (N, 3)``.
PATTERNS = {'paint': _paint, 'tiles': _tiles, 'wood': _wood, 'carpet': _carpet,
            'stripes': _stripes, 'brick': _brick, 'facade': _facade, 'road': _road,
            'foliage': _foliage, 'plain': _plain}


def texture_albedo(uv: np.ndarray, material: Dict) -> np.ndarray:
    """Albedo of a material at surface coordinates.

    Args:
        uv (np.ndarray): ``(N, 2)`` surface coordinates in metres.
        material (dict): ``pattern`` (a key of :data:`PATTERNS`, default ``'paint'``),
            ``color`` (RGB in ``[0, 1]``) and pattern-specific keys (``color2``, ``scale``,
            ``seed``, ...).

    Returns:
        np.ndarray: ``(N, 3)`` albedo in ``[0, 1]``.
    """
    name = material.get('pattern', 'paint')
    if name not in PATTERNS:
        raise KeyError(f'unknown texture pattern {name!r}; choose from {sorted(PATTERNS)}')
    return np.clip(PATTERNS[name](uv, material), 0.0, 1.0)


def lambert(albedo: np.ndarray, normal: np.ndarray, points: np.ndarray, lights: Sequence[Dict],
            ambient: float = 0.3, visibility: Optional[Sequence[np.ndarray]] = None
            ) -> np.ndarray:
    """Lambertian shading of surface points.

    Args:
        albedo (np.ndarray): ``(N, 3)`` albedo.
        normal (np.ndarray): ``(N, 3)`` unit normals.
        points (np.ndarray): ``(N, 3)`` world points.
        lights (Sequence[dict]): Each ``{'type': 'point', 'pos': (3,), 'intensity': float,
            'r0': float}`` or ``{'type': 'dir', 'dir': (3,) towards the light, 'intensity'}``.
        ambient (float): Ambient term. Defaults to 0.3.
        visibility (Sequence[np.ndarray], optional): Per light ``(N,)`` 0/1 shadow factors.
            Defaults to None (no shadows).

    Returns:
        np.ndarray: ``(N, 3)`` shaded linear colour (not clipped).
    """
    irr = np.full(len(normal), float(ambient))
    for k, light in enumerate(lights):
        if light['type'] == 'point':
            vec = np.asarray(light['pos'], float)[None, :] - points
            dist = np.linalg.norm(vec, axis=1)
            ldir = vec / np.maximum(dist, 1e-9)[:, None]
            fall = 1.0 / (1.0 + (dist / light.get('r0', 3.0)) ** 2)
        elif light['type'] == 'dir':
            ldir = np.asarray(light['dir'], float)
            ldir = np.broadcast_to(ldir / np.linalg.norm(ldir), normal.shape)
            fall = 1.0
        else:
            raise KeyError(f"unknown light type {light['type']!r}; use 'point' or 'dir'")
        cos = np.maximum(np.einsum('ij,ij->i', normal, ldir), 0.0)
        vis = 1.0 if visibility is None else visibility[k]
        irr = irr + light['intensity'] * cos * fall * vis
    return albedo * irr[:, None]


def srgb_to_uint8(rgb: np.ndarray, noise: Optional[np.ndarray] = None) -> np.ndarray:
    """Gamma-encode linear colour (``x^(1/2.2)``), add optional noise, quantise to uint8.

    Args:
        rgb (np.ndarray): ``(..., 3)`` linear colour, about ``[0, 1]``.
        noise (np.ndarray, optional): Additive noise on the 0-255 scale, same shape.
            Defaults to None.

    Returns:
        np.ndarray: uint8 image of the same shape.
    """
    out = 255.0 * np.clip(rgb, 0.0, 1.0) ** (1.0 / 2.2)
    if noise is not None:
        out = out + noise
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
