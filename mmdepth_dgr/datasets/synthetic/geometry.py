"""Analytic ray casting against planes, boxes, cylinders and spheres (numpy, float64).

Every intersector takes a ray origin ``o`` (``(3,)`` shared by all rays, or ``(N, 3)``) and
un-normalised directions ``d`` ``(N, 3)`` and returns ``(t, n)``: the smallest ray parameter
``t > T_MIN`` of a hit (``inf`` where the ray misses) and the unit surface normal ``(N, 3)``
facing the incoming ray. With camera rays whose camera-frame z is 1
(:func:`~mmdepth_dgr.datasets.synthetic.camera.pixel_rays`) ``t`` is the z-depth.

The maths, for ``p(t) = o + t d``:

* plane ``n . p = c``: ``t = (c - n . o) / (n . d)``.
* sphere ``|p - c|^2 = r^2``: ``a t^2 + b t + q = 0`` with ``a = d . d``,
  ``b = 2 d . (o - c)``, ``q = |o - c|^2 - r^2``; the near root is
  ``(-b - sqrt(b^2 - 4 a q)) / (2 a)`` (the far root when the origin is inside).
* box (slab method, in the box frame): per axis ``t = (+-h_i - o_i) / d_i``;
  ``t_near = max_i min(t1, t2)``, ``t_far = min_i max(t1, t2)``, hit iff ``t_near <= t_far``.
* capped cylinder (axis = local y, base at y=0, top at y=H): side from
  ``(o_x + t d_x)^2 + (o_z + t d_z)^2 = r^2`` with ``0 <= y(t) <= H``; caps are the planes
  ``y = 0`` / ``y = H`` clipped to ``x^2 + z^2 <= r^2``.

Numpy is used directly because no installed dependency offers a vectorised CPU ray caster
for analytic primitives (Open3D's RaycastingScene is triangle-mesh only and not installed).
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['T_MIN', 'mat3', 'intersect_plane', 'intersect_sphere', 'intersect_box',
           'intersect_cylinder', 'rotation_y', 'Primitive', 'Plane', 'Box', 'Sphere',
           'Cylinder', 'Scene', 'RayHits']

#: Hits closer than this (metres along the ray parameter) are ignored (self-intersection).
T_MIN = 1e-6


def mat3(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``a @ m`` for ``a`` of shape ``(N, 3)`` and ``m`` of shape ``(3,)`` or ``(3, K)``.

    Written as three multiply-adds on purpose: numpy hands ``(N, 3) @ (3, K)`` to a
    multithreaded BLAS, which for such skinny products costs ~30 % more CPU time than it
    saves and oversubscribes the cores when several generator processes run.
    """
    m = np.asarray(m, dtype=np.float64)
    if m.ndim == 1:
        return a[:, 0] * m[0] + a[:, 1] * m[1] + a[:, 2] * m[2]
    return a[:, 0, None] * m[0] + a[:, 1, None] * m[1] + a[:, 2, None] * m[2]


def _flip_towards(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Flip normals so that ``n . d <= 0`` (they face the incoming ray)."""
    s = np.sign(np.einsum('ij,ij->i', n, d))
    s[s == 0] = 1.0
    return n * -s[:, None]


def rotation_y(yaw_deg: float) -> np.ndarray:
    """``(3, 3)`` rotation about world +Y (local-to-world), angle in degrees."""
    a = np.deg2rad(yaw_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def intersect_plane(o: np.ndarray, d: np.ndarray, normal: Sequence[float],
                    offset: float) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / infinite plane ``normal . p = offset``.

    Args:
        o (np.ndarray): ``(3,)`` or ``(N, 3)`` ray origins.
        d (np.ndarray): ``(N, 3)`` ray directions (need not be unit).
        normal (Sequence[float]): Plane normal (normalised here).
        offset (float): Plane offset ``c`` in metres (for the normalised normal).

    Returns:
        tuple[np.ndarray]: ``t`` ``(N,)`` (``inf`` = miss) and normals ``(N, 3)``.
    """
    n = np.asarray(normal, dtype=np.float64)
    norm = np.linalg.norm(n)
    n, offset = n / norm, offset / norm
    denom = mat3(d, n)
    num = offset - (mat3(o, n) if np.ndim(o) == 2 else float(np.dot(o, n)))
    with np.errstate(divide='ignore', invalid='ignore'):
        t = num / denom
    t = np.where((denom != 0) & (t > T_MIN), t, np.inf)
    nn = np.broadcast_to(n, d.shape)
    return t, _flip_towards(nn, d)


def intersect_sphere(o: np.ndarray, d: np.ndarray, center: Sequence[float],
                     radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / sphere (solid: the far root is used only when the origin is inside).

    Args:
        o (np.ndarray): ``(3,)`` or ``(N, 3)`` ray origins.
        d (np.ndarray): ``(N, 3)`` ray directions.
        center (Sequence[float]): Sphere centre.
        radius (float): Radius in metres.

    Returns:
        tuple[np.ndarray]: ``t`` ``(N,)`` and unit normals ``(N, 3)``.
    """
    c = np.asarray(center, dtype=np.float64)
    oc = np.broadcast_to(o - c, d.shape)
    a = np.einsum('ij,ij->i', d, d)
    b = 2.0 * np.einsum('ij,ij->i', d, oc)
    q = np.einsum('ij,ij->i', oc, oc) - radius * radius
    disc = b * b - 4.0 * a * q
    hit = disc >= 0
    sq = np.sqrt(np.where(hit, disc, 0.0))
    t0 = (-b - sq) / (2.0 * a)
    t1 = (-b + sq) / (2.0 * a)
    t = np.where(t0 > T_MIN, t0, np.where(t1 > T_MIN, t1, np.inf))
    t = np.where(hit, t, np.inf)
    tt = np.where(np.isfinite(t), t, 0.0)
    n = (oc + tt[:, None] * d) / radius
    return t, _flip_towards(n, d)


def _to_local(o: np.ndarray, d: np.ndarray, center: np.ndarray,
              rotation: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """World rays to a primitive's frame (``rotation`` is local-to-world)."""
    ol = np.broadcast_to(o - center, d.shape)
    if rotation is None:
        return ol, d
    return mat3(ol, rotation), mat3(d, rotation)  # row-vector form of R^T x


def intersect_box(o: np.ndarray, d: np.ndarray, center: Sequence[float],
                  half_size: Sequence[float], rotation: Optional[np.ndarray] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / oriented box (slab method). Rays starting inside the box miss.

    Args:
        o (np.ndarray): ``(3,)`` or ``(N, 3)`` ray origins.
        d (np.ndarray): ``(N, 3)`` ray directions.
        center (Sequence[float]): Box centre (world).
        half_size (Sequence[float]): Half extents along the box axes (metres).
        rotation (np.ndarray, optional): ``(3, 3)`` local-to-world rotation; ``None`` for an
            axis-aligned box. Defaults to None.

    Returns:
        tuple[np.ndarray]: ``t`` ``(N,)`` and unit normals ``(N, 3)``.
    """
    c = np.asarray(center, dtype=np.float64)
    h = np.asarray(half_size, dtype=np.float64)
    ol, dl = _to_local(o, d, c, rotation)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / dl
        ta = (-h - ol) * inv
        tb = (h - ol) * inv
    # A zero direction component gives +-inf (or nan when the origin is on the slab face);
    # nan is treated as "inside the slab" for that axis.
    tmin = np.fmin(ta, tb)
    tmax = np.fmax(ta, tb)
    if np.isnan(tmin).any():
        tmin = np.where(np.isnan(tmin), -np.inf, tmin)
        tmax = np.where(np.isnan(tmax), np.inf, tmax)
    axis = np.argmax(tmin, axis=1)
    rows = np.arange(len(dl))
    t_near = tmin[rows, axis]
    t_far = tmax.min(axis=1)
    hit = (t_near <= t_far) & (t_near > T_MIN)
    t = np.where(hit, t_near, np.inf)
    nl = np.zeros_like(dl)
    hr, ha = rows[hit], axis[hit]
    nl[hr, ha] = -np.sign(dl[hr, ha])
    n = nl if rotation is None else mat3(nl, rotation.T)
    return t, n


def intersect_cylinder(o: np.ndarray, d: np.ndarray, base: Sequence[float], radius: float,
                       height: float, rotation: Optional[np.ndarray] = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray / solid capped cylinder whose axis is the local +y axis.

    Args:
        o (np.ndarray): ``(3,)`` or ``(N, 3)`` ray origins.
        d (np.ndarray): ``(N, 3)`` ray directions.
        base (Sequence[float]): Centre of the bottom cap (world).
        radius (float): Radius in metres.
        height (float): Length along the axis in metres.
        rotation (np.ndarray, optional): ``(3, 3)`` local-to-world rotation; ``None`` keeps
            the axis along world +Y (upright). Defaults to None.

    Returns:
        tuple[np.ndarray]: ``t`` ``(N,)`` and unit normals ``(N, 3)``.
    """
    ol, dl = _to_local(o, d, np.asarray(base, dtype=np.float64), rotation)
    ox, oy, oz = ol[:, 0], ol[:, 1], ol[:, 2]
    dx, dy, dz = dl[:, 0], dl[:, 1], dl[:, 2]
    a = dx * dx + dz * dz
    b = 2.0 * (ox * dx + oz * dz)
    q = ox * ox + oz * oz - radius * radius
    disc = b * b - 4.0 * a * q
    ok = (disc >= 0) & (a > 0)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    with np.errstate(divide='ignore', invalid='ignore'):
        ts = (-b - sq) / (2.0 * a)
    ys = oy + ts * dy
    t_side = np.where(ok & (ts > T_MIN) & (ys >= 0) & (ys <= height), ts, np.inf)
    t_cap = np.full_like(t_side, np.inf)
    cap_y = np.zeros_like(t_side)
    with np.errstate(divide='ignore', invalid='ignore'):
        for y_cap in (0.0, height):
            tc = (y_cap - oy) / dy
            xc, zc = ox + tc * dx, oz + tc * dz
            good = (dy != 0) & (tc > T_MIN) & (xc * xc + zc * zc <= radius * radius) & (tc < t_cap)
            t_cap = np.where(good, tc, t_cap)
            cap_y = np.where(good, 1.0, cap_y)
    use_cap = t_cap < t_side
    t = np.where(use_cap, t_cap, t_side)
    tt = np.where(np.isfinite(t), t, 0.0)
    px, pz = ox + tt * dx, oz + tt * dz
    nl = np.stack([px / radius, np.zeros_like(px), pz / radius], axis=1)
    nl[use_cap] = np.array([0.0, 1.0, 0.0]) * cap_y[use_cap, None]
    n = nl if rotation is None else mat3(nl, rotation.T)
    return t, _flip_towards(n, d)


# --------------------------------------------------------------------------------------
# Primitive objects: geometry + a material + surface coordinates for texturing.
# --------------------------------------------------------------------------------------
@dataclass
class Primitive:
    """Base class: a shape with a material dict used by :mod:`.textures`."""
    material: dict = field(default_factory=dict, kw_only=True)
    #: Whether the primitive can cast shadows onto others (room planes cannot).
    casts_shadow: bool = field(default=True, kw_only=True)

    def intersect(self, o: np.ndarray, d: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def surface_uv(self, p: np.ndarray, n: np.ndarray) -> np.ndarray:
        """``(N, 2)`` surface coordinates in metres of world points ``p`` with normals ``n``."""
        raise NotImplementedError

    def bounding_sphere(self) -> Optional[Tuple[np.ndarray, float]]:
        """``(centre, radius)`` enclosing the primitive, or None when unbounded."""
        return None


def _planar_uv(pl: np.ndarray, nl: np.ndarray) -> np.ndarray:
    """Box-style uv: drop the local axis the normal is most aligned with."""
    ax = np.argmax(np.abs(nl), axis=1)
    u = np.where(ax == 0, pl[:, 2], pl[:, 0])
    v = np.where(ax == 1, pl[:, 2], pl[:, 1])
    return np.stack([u, v], axis=1)


@dataclass
class Plane(Primitive):
    """Infinite plane ``normal . p = offset`` with an in-plane ``u_axis`` for texturing."""
    normal: Tuple[float, float, float]
    offset: float
    u_axis: Tuple[float, float, float] = (1.0, 0.0, 0.0)

    def intersect(self, o, d):
        return intersect_plane(o, d, self.normal, self.offset)

    def surface_uv(self, p, n):
        nn = np.asarray(self.normal, float) / np.linalg.norm(self.normal)
        u = np.asarray(self.u_axis, float)
        u = u - nn * (u @ nn)
        u /= np.linalg.norm(u)
        v = np.cross(nn, u)
        return np.stack([mat3(p, u), mat3(p, v)], axis=1)


@dataclass
class Box(Primitive):
    """Oriented box: ``center``, ``half_size`` and a yaw about world Y (degrees)."""
    center: Tuple[float, float, float]
    half_size: Tuple[float, float, float]
    yaw_deg: float = 0.0

    def _rot(self):
        return None if self.yaw_deg == 0 else rotation_y(self.yaw_deg)

    def intersect(self, o, d):
        return intersect_box(o, d, self.center, self.half_size, self._rot())

    def surface_uv(self, p, n):
        r = self._rot()
        pl = p - np.asarray(self.center, float) + np.asarray(self.half_size, float)
        if r is not None:
            pl = mat3(p - np.asarray(self.center, float), r) + np.asarray(self.half_size)
            n = mat3(n, r)
        return _planar_uv(pl, n)

    def bounding_sphere(self):
        return np.asarray(self.center, float), float(np.linalg.norm(self.half_size))


@dataclass
class Sphere(Primitive):
    """Sphere of ``radius`` at ``center``."""
    center: Tuple[float, float, float]
    radius: float

    def intersect(self, o, d):
        return intersect_sphere(o, d, self.center, self.radius)

    def surface_uv(self, p, n):
        # Longitude / latitude scaled to metres on the equator.
        lon = np.arctan2(n[:, 0], n[:, 2]) * self.radius
        lat = np.arcsin(np.clip(n[:, 1], -1, 1)) * self.radius
        return np.stack([lon, lat], axis=1)

    def bounding_sphere(self):
        return np.asarray(self.center, float), float(self.radius)


@dataclass
class Cylinder(Primitive):
    """Upright capped cylinder standing on ``base`` (centre of the bottom cap)."""
    base: Tuple[float, float, float]
    radius: float
    height: float

    def intersect(self, o, d):
        return intersect_cylinder(o, d, self.base, self.radius, self.height)

    def surface_uv(self, p, n):
        pl = p - np.asarray(self.base, float)
        ang = np.arctan2(pl[:, 0], pl[:, 2]) * self.radius
        cap = np.abs(n[:, 1]) > 0.5
        u = np.where(cap, pl[:, 0], ang)
        v = np.where(cap, pl[:, 2], pl[:, 1])
        return np.stack([u, v], axis=1)

    def bounding_sphere(self):
        c = np.asarray(self.base, float) + np.array([0.0, self.height / 2, 0.0])
        return c, float(np.hypot(self.radius, self.height / 2))


class _RayBundle:
    """Rays prepared for cheap bounding-sphere culling.

    Three cases, from cheapest to dearest: one shared origin (camera / LiDAR rays:
    ``s = d_hat . (c - o)`` is one matrix-vector product), one shared direction (sun
    shadow rays: origins are projected once onto the plane orthogonal to the direction, so
    each sphere test is a 2-D disc test), and the general case.
    """

    def __init__(self, o: np.ndarray, d: np.ndarray, shared_dir: bool = False):
        self.o, self.d = o, d
        self.mode = 'origin' if o.ndim == 1 else ('dir' if shared_dir else 'general')
        if self.mode == 'dir':
            s = d[0] / np.linalg.norm(d[0])
            e1 = np.cross(s, [1.0, 0.0, 0.0] if abs(s[0]) < 0.9 else [0.0, 1.0, 0.0])
            e1 /= np.linalg.norm(e1)
            self.basis = np.stack([e1, np.cross(s, e1), s], axis=1)
            self.proj = mat3(o, self.basis)
        else:
            self.dn = d / np.linalg.norm(d, axis=1, keepdims=True)

    def candidates(self, center: np.ndarray, radius: float,
                   subset: Optional[np.ndarray] = None) -> np.ndarray:
        """Indices (into the full bundle) of rays that may hit the sphere."""
        r = radius * (1 + 1e-9) + 1e-9
        if self.mode == 'dir':
            pc = center @ self.basis
            q = self.proj if subset is None else self.proj[subset]
            dx, dy = q[:, 0] - pc[0], q[:, 1] - pc[1]
            ok = (dx * dx + dy * dy <= r * r) & (pc[2] - q[:, 2] > -r)
        else:
            dn = self.dn if subset is None else self.dn[subset]
            if self.mode == 'origin':
                oc = center - self.o
                s, oc2 = mat3(dn, oc), oc @ oc
            else:
                oc = center - (self.o if subset is None else self.o[subset])
                s = np.einsum('ij,ij->i', dn, oc)
                oc2 = np.einsum('ij,ij->i', oc, oc)
            ok = (oc2 - s * s <= r * r) & (s > -r)
        idx = np.flatnonzero(ok)
        return idx if subset is None else subset[idx]

    def intersect(self, prim: 'Primitive', idx: Optional[np.ndarray]):
        if idx is None:
            return prim.intersect(self.o, self.d)
        return prim.intersect(self.o if self.o.ndim == 1 else self.o[idx], self.d[idx])


def _enclosing_sphere(spheres) -> Tuple[np.ndarray, float]:
    """A sphere enclosing the given ``(centre, radius)`` spheres (centroid-based)."""
    c = np.mean([sc for sc, _ in spheres], axis=0)
    return c, max(float(np.linalg.norm(sc - c)) + sr for sc, sr in spheres)


@dataclass
class RayHits:
    """Nearest hits of a bundle of rays.

    Attributes:
        t (np.ndarray): ``(N,)`` ray parameter (z-depth for camera rays), ``inf`` = miss.
        normal (np.ndarray): ``(N, 3)`` unit normals facing the ray (0 where missed).
        index (np.ndarray): ``(N,)`` int index of the primitive hit, -1 where missed.
        point (np.ndarray): ``(N, 3)`` world hit points (origin where missed).
    """
    t: np.ndarray
    normal: np.ndarray
    index: np.ndarray
    point: np.ndarray


@dataclass
class Scene:
    """Primitives plus optional groups; :meth:`raycast` returns the nearest hit per ray.

    Groups (e.g. the six boxes and cylinders of a car) share one bounding sphere: rays that
    miss it skip all members, a one-level bounding-volume hierarchy.
    """
    primitives: List[Primitive] = field(default_factory=list)
    groups: List[Tuple[np.ndarray, float, List[int]]] = field(default_factory=list)

    def add(self, prim: Primitive) -> Primitive:
        """Add an ungrouped primitive and return it."""
        self.primitives.append(prim)
        return prim

    def add_group(self, prims: Sequence[Primitive]) -> None:
        """Add bounded primitives that are culled together."""
        spheres = [p.bounding_sphere() for p in prims]
        if any(sp is None for sp in spheres):
            raise ValueError('add_group: every member must be bounded (no planes)')
        first = len(self.primitives)
        self.primitives.extend(prims)
        c, r = _enclosing_sphere(spheres)
        self.groups.append((c, r, list(range(first, first + len(prims)))))

    def _units(self):
        """Yield ``(group sphere or None, member indices)`` covering every primitive once."""
        grouped = set()
        for c, r, members in self.groups:
            grouped.update(members)
            yield (c, r), members
        for i in range(len(self.primitives)):
            if i not in grouped:
                yield None, [i]

    def _visit(self, bundle: _RayBundle, skip=None, shadow_only: bool = False):
        """Yield ``(primitive index, ray indices or None, t, n)`` for every tested pair."""
        for group_sphere, members in self._units():
            if shadow_only:
                members = [i for i in members if self.primitives[i].casts_shadow]
                if not members:
                    continue
            sub = None
            if group_sphere is not None and len(members) > 1:
                sub = bundle.candidates(*group_sphere)
                if skip is not None:
                    sub = sub[~skip[sub]]
                if sub.size == 0:
                    continue
            for i in members:
                prim = self.primitives[i]
                sphere = prim.bounding_sphere()
                idx = sub
                if sphere is not None:
                    idx = bundle.candidates(*sphere, subset=sub)
                    if skip is not None and sub is None:
                        idx = idx[~skip[idx]]
                    if idx.size == 0:
                        continue
                t, n = bundle.intersect(prim, idx)
                yield i, idx, t, n

    def raycast(self, o: np.ndarray, d: np.ndarray) -> RayHits:
        """Nearest hit of every ray.

        Args:
            o (np.ndarray): ``(3,)`` or ``(N, 3)`` origins.
            d (np.ndarray): ``(N, 3)`` directions.

        Returns:
            RayHits: The nearest hits.
        """
        n_rays = d.shape[0]
        best_t = np.full(n_rays, np.inf)
        best_n = np.zeros((n_rays, 3))
        best_i = np.full(n_rays, -1, dtype=np.int64)
        for i, idx, t, n in self._visit(_RayBundle(o, d)):
            if idx is None:
                idx = np.arange(n_rays)
            sel = t < best_t[idx]
            closer = idx[sel]
            best_t[closer] = t[sel]
            best_n[closer] = n[sel]
            best_i[closer] = i
        tt = np.where(np.isfinite(best_t), best_t, 0.0)
        point = o + tt[:, None] * d
        return RayHits(best_t, best_n, best_i, point)

    def occluded(self, o: np.ndarray, d: np.ndarray, t_max, shared_dir: bool = False
                 ) -> np.ndarray:
        """Whether a shadow-casting primitive blocks ``o + t d`` for ``0 < t < t_max``.

        Args:
            o (np.ndarray): ``(N, 3)`` origins (already offset from their surfaces).
            d (np.ndarray): ``(N, 3)`` directions.
            t_max (np.ndarray | float): Distance bound in units of ``d``.
            shared_dir (bool): All rows of ``d`` are the same direction (a directional
                light), enabling cheaper culling. Defaults to False.

        Returns:
            np.ndarray: ``(N,)`` bool.
        """
        blocked = np.zeros(d.shape[0], dtype=bool)
        t_max = np.broadcast_to(np.asarray(t_max, dtype=np.float64), blocked.shape)
        bundle = _RayBundle(o, d, shared_dir)
        for _, idx, t, _ in self._visit(bundle, skip=blocked, shadow_only=True):
            if idx is None:
                blocked |= t < t_max
            else:
                blocked[idx[t < t_max[idx]]] = True
        return blocked
