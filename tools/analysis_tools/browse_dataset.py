"""Write RGB | colour-mapped GT depth side by side after the train pipeline.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR --num N \
        [--split train|val|test] [--cmap turbo] [--min-depth M] [--max-depth M] \
        [--channel-order bgr|rgb] [--cfg-options k=v ...]

Each output ``DIR/<index>_<image stem>.png`` shows two titled panels: the image as the
model sees it (after augmentation; float images are clipped to ``[0, 255]``) and its
``gt_depth_map`` coloured with a matplotlib colormap over the image's own valid depth
range (``--min-depth`` / ``--max-depth`` fix either end instead), with a colour bar in
metres under it; pixels without valid depth (``gt <= 0`` or non-finite) are grey, a colour
none of the usual colormaps contains. Panels narrower than 256 px are enlarged (nearest
neighbour) so the labels stay legible. Use it to check crops, rotations, flips and
photometric changes by eye.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np

import mmdepth_dgr  # noqa: F401  (must come before mmseg; registers everything)
from mmdepth_dgr.visualization import (INVALID_COLOR, colorbar_strip, colorize_depth, depth_range,
                                       hstack_panels, labelled_panel, upscale_nearest)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='Browse a depth dataset after its pipeline')
    p.add_argument('config', help='config file')
    p.add_argument('--output-dir', required=True, help='folder for the PNGs')
    p.add_argument('--num', type=int, default=10, help='number of samples')
    p.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                   help='which <split>_dataloader.dataset to browse')
    p.add_argument('--cmap', default='turbo', help='matplotlib colormap')
    p.add_argument('--min-depth', type=float, default=None,
                   help='depth (m) at the start of the colormap (default: the smallest '
                   'valid depth of each image)')
    p.add_argument('--max-depth', type=float, default=None,
                   help='depth (m) at the end of the colormap (default: the largest '
                   'valid depth of each image)')
    p.add_argument('--channel-order', default='bgr', choices=['bgr', 'rgb'],
                   help='channel order of the packed image (LoadRGBFromFile default: '
                   'bgr)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def draw_sample(img: np.ndarray, depth: Optional[np.ndarray],
                min_depth: Optional[float] = None, max_depth: Optional[float] = None,
                cmap: str = 'turbo', caption: Optional[str] = None,
                min_panel_width: int = 256) -> np.ndarray:
    """Titled image and depth panels, the depth with a colour bar in metres.

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB.
        depth (np.ndarray, optional): (H, W) metres; 0 / non-finite = invalid.
        min_depth (float, optional): Colormap start. Defaults to the valid minimum.
        max_depth (float, optional): Colormap end. Defaults to the valid maximum.
        cmap (str): Matplotlib colormap. Defaults to 'turbo'.
        caption (str, optional): Text under the image panel (the file name).
        min_panel_width (int): Narrower panels are enlarged. Defaults to 256.

    Returns:
        np.ndarray: The uint8 RGB canvas.
    """
    big = upscale_nearest(img, min_panel_width)
    panels = [labelled_panel(big, 'image (after pipeline)', caption=caption)]
    if depth is not None:
        lo, hi = depth_range(depth)
        lo = lo if min_depth is None else float(min_depth)
        hi = hi if max_depth is None else float(max_depth)
        if not hi > lo:
            hi = lo + 1e-3
        vis = upscale_nearest(colorize_depth(depth, lo, hi, cmap, INVALID_COLOR),
                              min_panel_width)
        valid = np.isfinite(depth) & (depth > 0)
        panels.append(labelled_panel(
            vis, f'GT depth ({100 * valid.mean():.0f}% valid)',
            colorbar_strip(vis.shape[1], lo, hi, cmap, 'depth (m)',
                           invalid_color=INVALID_COLOR, invalid_label='no depth')))
    return hstack_panels(panels)


def sample_to_arrays(sample: dict, channel_order: str = 'bgr'):
    """Image ``(H, W, 3)`` uint8 RGB and depth ``(H, W)`` (or None) from a sample.

    Accepts a packed sample (``inputs`` + ``data_samples``) or raw pipeline results
    (``img`` + ``gt_depth_map``).
    """
    if 'inputs' in sample:
        img = sample['inputs'].detach().cpu().numpy().transpose(1, 2, 0)
        ds = sample.get('data_samples')
        depth = None
        if ds is not None and 'gt_depth_map' in ds:
            depth = ds.gt_depth_map.data.detach().cpu().numpy()[0]
    else:
        img, depth = sample['img'], sample.get('gt_depth_map')
    img = np.clip(np.asarray(img, dtype=np.float32), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if channel_order == 'bgr':
        img = img[..., ::-1]
    return np.ascontiguousarray(img), depth


def main(argv: Optional[Sequence[str]] = None) -> int:
    import cv2
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    key = f'{args.split}_dataloader'
    if key not in cfg:
        print(f'error: {args.config} has no {key}', file=sys.stderr)
        return 1
    dataset = DATASETS.build(cfg[key]['dataset'])
    os.makedirs(args.output_dir, exist_ok=True)
    n = min(args.num, len(dataset))
    for i in range(n):
        sample = dataset[i]
        img, depth = sample_to_arrays(sample, args.channel_order)
        img_path = dataset.get_data_info(i)['img_path']
        canvas = draw_sample(img, depth, args.min_depth, args.max_depth, args.cmap,
                             caption=osp.basename(img_path))
        stem = osp.splitext(osp.basename(img_path))[0]
        out = osp.join(args.output_dir, f'{i:05d}_{stem}.png')
        cv2.imwrite(out, canvas[..., ::-1])
        print(out)
    print(f'wrote {n} images to {args.output_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
