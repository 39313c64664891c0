"""BTS-style photometric augmentation (image only; depth is never touched)."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['RandomGammaBrightnessColor', 'gamma_brightness_color']


def gamma_brightness_color(img: np.ndarray,
                           gamma: float,
                           brightness: float,
                           colors: Sequence[float],
                           max_value: float = 255.0) -> np.ndarray:
    """Apply BTS's ``augment_image`` to an image.

    With ``x = img / max_value`` in ``[0, 1]``:
    ``out_c = clip(x_c ** gamma * brightness * colors[c], 0, 1) * max_value``.

    Args:
        img (np.ndarray): ``(H, W, C)`` image in ``[0, max_value]``.
        gamma (float): gamma exponent.
        brightness (float): global multiplier.
        colors (Sequence[float]): per-channel multipliers (length ``C``).
        max_value (float): value of full intensity. Defaults to 255.0.

    Returns:
        np.ndarray: ``(H, W, C)`` float32 image in ``[0, max_value]`` (not re-quantised,
        as in BTS, which works on float images).
    """
    x = img.astype(np.float32) / np.float32(max_value)
    c = np.asarray(colors, dtype=np.float32)
    if img.ndim != 3 or c.shape != (img.shape[2], ):
        raise ValueError(f'gamma_brightness_color: image {img.shape} needs one colour '
                         f'factor per channel, got {c.shape}')
    out = np.power(x, np.float32(gamma)) * np.float32(brightness) * c
    return np.clip(out, 0.0, 1.0) * np.float32(max_value)


@TRANSFORMS.register_module()
class RandomGammaBrightnessColor(BaseTransform):
    """Random gamma, brightness and per-channel colour (BTS ``augment_image``).

    With probability ``prob`` (BTS: 0.5): ``gamma ~ U(gamma_range)``,
    ``brightness ~ U(brightness_range)``, ``colors ~ U(color_range)`` per channel, then
    :func:`gamma_brightness_color`. BTS ranges: gamma ``[0.9, 1.1]``, colour
    ``[0.9, 1.1]``, brightness ``[0.75, 1.25]`` for NYU and ``[0.9, 1.1]`` for KITTI.
    Only ``results['img']`` changes, and it always leaves as float32 in
    ``[0, max_value]`` (also when not applied) so that a batch has one dtype. The
    per-channel factors are i.i.d., so the channel order (BGR/RGB) does not matter.

    Args:
        prob (float): probability of applying. Defaults to 0.5.
        gamma_range (tuple[float, float]): Defaults to ``(0.9, 1.1)``.
        brightness_range (tuple[float, float]): Defaults to ``(0.75, 1.25)`` (NYU).
        color_range (tuple[float, float]): Defaults to ``(0.9, 1.1)``.
        max_value (float): full intensity of the input image. Defaults to 255.0.
    """

    def __init__(self,
                 prob: float = 0.5,
                 gamma_range: Tuple[float, float] = (0.9, 1.1),
                 brightness_range: Tuple[float, float] = (0.75, 1.25),
                 color_range: Tuple[float, float] = (0.9, 1.1),
                 max_value: float = 255.0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomGammaBrightnessColor: prob must be in [0, 1], '
                             f'got {prob}')
        for name, r in (('gamma_range', gamma_range),
                        ('brightness_range', brightness_range),
                        ('color_range', color_range)):
            if len(r) != 2 or not 0 < r[0] <= r[1]:
                raise ValueError(f'RandomGammaBrightnessColor: {name} must be '
                                 f'(low, high) with 0 < low <= high, got {r}')
        self.prob = prob
        self.gamma_range = tuple(gamma_range)
        self.brightness_range = tuple(brightness_range)
        self.color_range = tuple(color_range)
        self.max_value = max_value

    @cache_randomness
    def _draw(self, channels: int):
        apply = np.random.rand() < self.prob
        gamma = np.random.uniform(*self.gamma_range)
        brightness = np.random.uniform(*self.brightness_range)
        colors = np.random.uniform(*self.color_range, size=channels)
        return apply, gamma, brightness, colors

    def transform(self, results: dict) -> dict:
        """Augment ``results['img']`` in colour; nothing else is read or written."""
        img = results['img']
        channels = img.shape[2] if img.ndim == 3 else 1
        apply, gamma, brightness, colors = self._draw(channels)
        if apply:
            if img.ndim == 2:
                img = gamma_brightness_color(img[..., None], gamma, brightness, colors,
                                             self.max_value)[..., 0]
            else:
                img = gamma_brightness_color(img, gamma, brightness, colors,
                                             self.max_value)
        results['img'] = img.astype(np.float32, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'gamma_range={self.gamma_range}, '
                f'brightness_range={self.brightness_range}, '
                f'color_range={self.color_range})')
