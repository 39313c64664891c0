"""Ray-cast rendering shared by the indoor and outdoor generators.

One primary ray per pixel centre (no anti-aliasing), so every colour edge of an object
falls on exactly the pixels where its depth edge is. Optional hard shadows are cast with
one shadow ray per light towards the light.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .geometry import Scene
from .textures import lambert, texture_albedo

__all__ = ['render_scene']


def render_scene(scene: Scene, origin: np.ndarray, rays: np.ndarray, lights: Sequence[Dict],
                 ambient: float = 0.3, shadows: bool = True,
                 background: Optional[Callable[[np.ndarray], np.ndarray]] = None
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Render colour and z-depth of a scene.

    Args:
        scene (Scene): Primitives with materials (colours are sRGB in ``[0, 1]``; they are
            linearised with ``c^2.2`` before shading).
        origin (np.ndarray): ``(3,)`` camera centre (world).
        rays (np.ndarray): ``(H, W, 3)`` world ray directions from
            :func:`~mmdepth_dgr.datasets.synthetic.camera.pixel_rays` (camera z = 1).
        lights (Sequence[dict]): Lights for :func:`~.textures.lambert`.
        ambient (float): Ambient light. Defaults to 0.3.
        shadows (bool): Cast shadow rays. Defaults to True.
        background (Callable, optional): ``fn(dirs (M, 3)) -> (M, 3)`` linear colour of rays
            that hit nothing (the sky). Defaults to None (black).

    Returns:
        tuple[np.ndarray]: Linear colour ``(H, W, 3)`` float64 and z-depth ``(H, W)`` float64
        in metres with ``inf`` where no primitive is hit.
    """
    h, w, _ = rays.shape
    d = rays.reshape(-1, 3)
    origin = np.asarray(origin, dtype=np.float64)
    hits = scene.raycast(origin, d)
    color = np.zeros((h * w, 3))
    hit = hits.index >= 0
    if background is not None and (~hit).any():
        color[~hit] = background(d[~hit])
    idx = np.flatnonzero(hit)
    if idx.size:
        p, n, prim_id = hits.point[idx], hits.normal[idx], hits.index[idx]
        albedo = np.zeros((idx.size, 3))
        for k in np.unique(prim_id):
            sel = prim_id == k
            prim = scene.primitives[k]
            albedo[sel] = texture_albedo(prim.surface_uv(p[sel], n[sel]), prim.material)
        albedo = albedo ** 2.2
        vis = None
        if shadows:
            vis = []
            start = p + 1e-4 * n
            for light in lights:
                if light['type'] == 'point':
                    sd = np.asarray(light['pos'], float)[None, :] - start
                    t_max, shared = 1.0, False
                else:
                    sd = np.broadcast_to(np.asarray(light['dir'], float), start.shape)
                    t_max, shared = np.inf, True
                vis.append((~scene.occluded(start, sd, t_max, shared)).astype(np.float64))
        color[idx] = lambert(albedo, n, p, lights, ambient=ambient, visibility=vis)
    return color.reshape(h, w, 3), hits.t.reshape(h, w)
