"""Colour bars, titles and labelled panels drawn straight into uint8 RGB arrays.

Used by ``DepthLocalVisualizer`` (``tools/test.py --show-dir``), the demo's
``--colorbar`` output and ``tools/analysis_tools/browse_dataset.py``. Drawing into the
pixel array (OpenCV text, matplotlib only for the colormap and tick positions) keeps
the depth image at exactly its own resolution, which a matplotlib figure would resample.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['nice_ticks', 'title_strip', 'colorbar_strip', 'vertical_colorbar',
           'labelled_panel', 'hstack_panels', 'upscale_nearest']

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)


def nice_ticks(vmin: float, vmax: float, n: int = 5) -> List[float]:
    """Round tick values within ``[vmin, vmax]`` (matplotlib's ``MaxNLocator``).

    Args:
        vmin (float): Low end.
        vmax (float): High end.
        n (int): At most this many intervals. Defaults to 5.

    Returns:
        list[float]: Ticks inside the range (at least the two ends when the locator
        finds fewer than two).
    """
    from matplotlib.ticker import MaxNLocator
    if not vmax > vmin:
        return [float(vmin)]
    ticks = [float(t) for t in MaxNLocator(nbins=n).tick_values(vmin, vmax)
             if vmin - 1e-9 * abs(vmax - vmin) <= t <= vmax + 1e-9 * abs(vmax - vmin)]
    return ticks if len(ticks) >= 2 else [float(vmin), float(vmax)]


def _fmt(v: float, span: float) -> str:
    if span >= 10:
        return f'{v:.0f}'
    if span >= 1:
        return f'{v:.1f}'.rstrip('0').rstrip('.') if v != int(v) else f'{v:.0f}'
    return f'{v:.2f}'


def _text(img: np.ndarray, text: str, org: Tuple[int, int], scale: float,
          color=_BLACK, thickness: int = 1) -> None:
    cv2.putText(img, text, org, _FONT, scale, color, thickness, cv2.LINE_AA)


def _text_width(text: str, scale: float, thickness: int = 1) -> int:
    return cv2.getTextSize(text, _FONT, scale, thickness)[0][0]


def _fit_scale(text: str, width: int, scale: float) -> float:
    while scale > 0.3 and _text_width(text, scale) > width:
        scale -= 0.05
    return scale


def title_strip(width: int, text: str, height: int = 22) -> np.ndarray:
    """A white strip with ``text`` centred (shrunk to fit).

    Args:
        width (int): Strip width in pixels.
        text (str): Title (ASCII).
        height (int): Strip height. Defaults to 22.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    strip = np.full((height, width, 3), 255, np.uint8)
    scale = _fit_scale(text, width - 4, 0.5)
    tw = _text_width(text, scale)
    _text(strip, text, (max(2, (width - tw) // 2), height - 7), scale)
    return strip


def _gradient(length: int, thickness: int, cmap: str, vertical: bool) -> np.ndarray:
    import matplotlib
    ramp = np.linspace(0.0, 1.0, length)
    rgb = (matplotlib.colormaps[cmap](ramp)[:, :3] * 255).astype(np.uint8)
    if vertical:  # high values at the top
        return np.repeat(rgb[::-1, None, :], thickness, axis=1)
    return np.repeat(rgb[None, :, :], thickness, axis=0)


def colorbar_strip(width: int, vmin: float, vmax: float, cmap: str, label: str,
                   invalid_color: Optional[Sequence[int]] = None,
                   invalid_label: str = 'no GT') -> np.ndarray:
    """A horizontal colour bar with tick labels and a caption, under a panel.

    Args:
        width (int): Strip width (the panel's).
        vmin (float): Value at the left end of the colormap.
        vmax (float): Value at the right end.
        cmap (str): Matplotlib colormap name.
        label (str): Caption under the ticks, e.g. ``'depth (m)'``.
        invalid_color (Sequence[int], optional): RGB of invalid pixels, shown as a
            swatch with ``invalid_label`` after the caption. Defaults to None.
        invalid_label (str): Swatch text. Defaults to 'no GT'.

    Returns:
        np.ndarray: (52, width, 3) uint8 RGB.
    """
    strip = np.full((52, width, 3), 255, np.uint8)
    margin = min(14, width // 4)
    length = max(width - 2 * margin, 1)
    strip[4:16, margin:margin + length] = _gradient(length, 12, cmap, vertical=False)
    span = vmax - vmin
    scale = 0.35
    for t in nice_ticks(vmin, vmax, n=max(2, min(6, length // 45))):
        x = margin + int(round((t - vmin) / span * max(length - 1, 0))) if span > 0 \
            else margin
        strip[16:20, x] = _BLACK
        s = _fmt(t, span)
        tw = _text_width(s, scale)
        _text(strip, s, (max(0, min(x - tw // 2, width - tw)), 31), scale)
    cap_scale = _fit_scale(label, width - (80 if invalid_color is not None else 4), 0.4)
    tw = _text_width(label, cap_scale)
    x0 = 2 if invalid_color is not None else max(2, (width - tw) // 2)
    _text(strip, label, (x0, 47), cap_scale)
    if invalid_color is not None:
        sw_scale = 0.35
        sw_w = _text_width(invalid_label, sw_scale)
        x = width - sw_w - 16
        if x > x0 + tw + 4:
            strip[38:48, x:x + 10] = np.asarray(invalid_color, np.uint8)
            cv2.rectangle(strip, (x, 38), (x + 9, 47), _BLACK, 1)
            _text(strip, invalid_label, (x + 13, 47), sw_scale)
    return strip


def vertical_colorbar(height: int, vmin: float, vmax: float, cmap: str,
                      label: str) -> np.ndarray:
    """A vertical colour bar (high values at the top) with ticks, beside an image.

    Args:
        height (int): Bar height in pixels (the image's).
        vmin (float): Value at the bottom.
        vmax (float): Value at the top.
        cmap (str): Matplotlib colormap name.
        label (str): Caption written along the bar (rotated), e.g. ``'depth (m)'``.

    Returns:
        np.ndarray: (height, W, 3) uint8 RGB with W about 70 pixels.
    """
    span = vmax - vmin
    scale = 0.35
    ticks = nice_ticks(vmin, vmax, n=max(2, min(8, height // 40)))
    labels = [_fmt(t, span) for t in ticks]
    text_w = max(_text_width(s, scale) for s in labels)
    bar_w, gap = 14, 4
    width = 4 + bar_w + 4 + text_w + gap + 18
    out = np.full((height, width, 3), 255, np.uint8)
    top, bottom = 6, max(height - 6, 7)
    length = bottom - top
    out[top:bottom, 4:4 + bar_w] = _gradient(length, bar_w, cmap, vertical=True)
    for t, s in zip(ticks, labels):
        y = bottom - 1 - int(round((t - vmin) / span * (length - 1))) if span > 0 \
            else bottom - 1
        out[y, 4 + bar_w:4 + bar_w + 3] = _BLACK
        _text(out, s, (4 + bar_w + 4, int(np.clip(y + 4, 10, height - 2))), scale)
    # caption along the right edge, written horizontally then rotated
    cap_scale = _fit_scale(label, height - 4, 0.4)
    cap_w = _text_width(label, cap_scale)
    cap = np.full((16, max(cap_w + 4, 1), 3), 255, np.uint8)
    _text(cap, label, (2, 12), cap_scale)
    cap = np.rot90(cap)  # reads bottom to top
    h = min(cap.shape[0], height)
    y0 = (height - h) // 2
    out[y0:y0 + h, width - 17:width - 1] = cap[:h, :16]
    return out


def upscale_nearest(img: np.ndarray, min_width: int) -> np.ndarray:
    """Enlarge by an integer factor (nearest neighbour) until at least ``min_width``.

    Args:
        img (np.ndarray): (H, W, 3) image.
        min_width (int): Target minimum width; images at least this wide are returned
            unchanged.

    Returns:
        np.ndarray: The image, enlarged by ``ceil(min_width / W)`` when smaller.
    """
    w = img.shape[1]
    if w >= min_width or w == 0:
        return img
    k = -(-min_width // w)
    return cv2.resize(img, (w * k, img.shape[0] * k), interpolation=cv2.INTER_NEAREST)


def labelled_panel(img: np.ndarray, title: str,
                   bar: Optional[np.ndarray] = None,
                   caption: Optional[str] = None) -> np.ndarray:
    """Title strip above ``img``, a colour-bar strip (or a caption) below.

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB.
        title (str): Panel title.
        bar (np.ndarray, optional): A :func:`colorbar_strip` of the same width.
        caption (str, optional): Text under a panel without a bar (e.g. a file name).

    Returns:
        np.ndarray: (22 + H + 52, W, 3) uint8 RGB.
    """
    w = img.shape[1]
    if bar is None:
        bar = np.full((52, w, 3), 255, np.uint8)
        if caption:
            scale = _fit_scale(caption, w - 4, 0.4)
            while _text_width(caption, scale) > w - 4 and len(caption) > 4:
                caption = '...' + caption[4:]
            _text(bar, caption, (2, 20), scale)
    return np.concatenate([title_strip(w, title), img, bar], axis=0)


def hstack_panels(panels: Sequence[np.ndarray], gap: int = 6) -> np.ndarray:
    """Panels side by side on white with ``gap`` pixels between them.

    Args:
        panels (Sequence[np.ndarray]): (H_i, W_i, 3) uint8 images.
        gap (int): Pixels between panels. Defaults to 6.

    Returns:
        np.ndarray: The canvas (height = the tallest panel).
    """
    h = max(p.shape[0] for p in panels)
    parts = []
    for i, p in enumerate(panels):
        if p.shape[0] < h:
            p = np.concatenate([p, np.full((h - p.shape[0], p.shape[1], 3), 255, np.uint8)])
        parts.append(p)
        if i < len(panels) - 1:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(parts, axis=1)
