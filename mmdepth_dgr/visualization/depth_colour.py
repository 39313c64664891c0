"""Colour-map metric depth for display (matplotlib colormaps)."""
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ['colorize_depth', 'depth_range', 'INVALID_COLOR']

#: RGB of pixels without valid depth: a neutral grey, which none of the default
#: colormaps (magma_r, inferno, turbo) contains, so "no GT" never reads as a depth
#: or as zero error.
INVALID_COLOR = (128, 128, 128)


def depth_range(*depths_m: np.ndarray, percentile: float = 100.0) -> Tuple[float, float]:
    """A shared display range over the valid (> 0, finite) pixels of several maps.

    Args:
        *depths_m (np.ndarray): Depth maps in metres (0 = invalid).
        percentile (float): Upper percentile used as vmax (100 = max). Defaults to 100.

    Returns:
        tuple[float, float]: (vmin, vmax); (0, 1) when no pixel is valid.
    """
    vals = [d[(d > 0) & np.isfinite(d)] for d in depths_m if d is not None]
    vals = np.concatenate(vals) if vals else np.empty(0)
    if vals.size == 0:
        return 0.0, 1.0
    vmin, vmax = float(vals.min()), float(np.percentile(vals, percentile))
    return vmin, max(vmax, vmin + 1e-6)


def colorize_depth(depth_m: np.ndarray,
                   vmin: Optional[float] = None,
                   vmax: Optional[float] = None,
                   cmap: str = 'magma_r',
                   invalid_color: Sequence[int] = INVALID_COLOR) -> np.ndarray:
    """Map a depth image to RGB with a matplotlib colormap.

    Args:
        depth_m (np.ndarray): (H, W) depth in metres; 0, negative or non-finite
            pixels are invalid.
        vmin (float, optional): Depth shown at the low end of the map. Defaults to
            the minimum valid depth.
        vmax (float, optional): Depth shown at the high end. Defaults to the
            maximum valid depth.
        cmap (str): Matplotlib colormap name. Defaults to 'magma_r' (near = bright).
        invalid_color (Sequence[int]): RGB of invalid pixels. Defaults to
            :data:`INVALID_COLOR` (grey).

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB image.
    """
    import matplotlib
    depth_m = np.asarray(depth_m, dtype=np.float32)
    if depth_m.ndim == 3 and depth_m.shape[0] == 1:
        depth_m = depth_m[0]
    if depth_m.ndim != 2:
        raise ValueError(f'colorize_depth expects an (H, W) map, got {depth_m.shape}.')
    valid = (depth_m > 0) & np.isfinite(depth_m)
    lo, hi = depth_range(depth_m)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    norm = np.clip((depth_m - vmin) / max(vmax - vmin, 1e-6), 0, 1)
    norm[~valid] = 0
    rgb = (matplotlib.colormaps[cmap](norm)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = np.asarray(invalid_color, dtype=np.uint8)
    return rgb
