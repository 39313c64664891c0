"""Write RGB | colour-mapped GT depth side by side after the train pipeline.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR --num N \
        [--split train|val|test] [--cmap turbo] [--max-depth M] \
        [--channel-order bgr|rgb] [--cfg-options k=v ...]

Each output ``DIR/<index>_<image stem>.png`` is the image as the model sees it (after
augmentation; float images are clipped to ``[0, 255]``) next to its ``gt_depth_map``
coloured with a matplotlib colormap between ``min_depth`` and ``max_depth`` (default:
the dataset metainfo's ``max_depth``, else the 99th percentile of the valid depths);
invalid pixels (``gt <= 0`` or non-finite) are black. Use it to check crops, rotations,
flips and photometric changes by eye.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np

import mmdepth_dgr  # noqa: F401  (must come before mmseg; registers everything)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='Browse a depth dataset after its pipeline')
    p.add_argument('config', help='config file')
    p.add_argument('--output-dir', required=True, help='folder for the PNGs')
    p.add_argument('--num', type=int, default=10, help='number of samples')
    p.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                   help='which <split>_dataloader.dataset to browse')
    p.add_argument('--cmap', default='turbo',
                   help='matplotlib colormap (turbo maps no valid depth to black)')
    p.add_argument('--min-depth', type=float, default=0.0)
    p.add_argument('--max-depth', type=float, default=None)
    p.add_argument('--channel-order', default='bgr', choices=['bgr', 'rgb'],
                   help='channel order of the packed image (LoadRGBFromFile default: '
                   'bgr)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def colorize_depth(depth_m: np.ndarray,
                   min_depth: float,
                   max_depth: float,
                   cmap: str = 'turbo') -> np.ndarray:
    """Colour-map a depth map; invalid pixels are black.

    Args:
        depth_m (np.ndarray): ``(H, W)`` depth in metres, 0 / non-finite = invalid.
        min_depth (float): depth mapped to the colormap's start.
        max_depth (float): depth mapped to the colormap's end.
        cmap (str): matplotlib colormap name. Defaults to ``'turbo'``.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    import matplotlib
    valid = np.isfinite(depth_m) & (depth_m > 0)
    span = max(max_depth - min_depth, 1e-6)
    norm = np.clip((np.where(valid, depth_m, min_depth) - min_depth) / span, 0, 1)
    rgb = (matplotlib.colormaps[cmap](norm)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb


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
    max_depth = args.max_depth or dataset.metainfo.get('max_depth')
    os.makedirs(args.output_dir, exist_ok=True)
    n = min(args.num, len(dataset))
    for i in range(n):
        sample = dataset[i]
        img, depth = sample_to_arrays(sample, args.channel_order)
        panels = [img]
        if depth is not None:
            valid = depth[np.isfinite(depth) & (depth > 0)]
            hi = max_depth or (float(np.percentile(valid, 99)) if valid.size else 1.0)
            panels.append(colorize_depth(depth, args.min_depth, hi, args.cmap))
        canvas = np.concatenate(panels, axis=1)
        stem = osp.splitext(osp.basename(dataset.get_data_info(i)['img_path']))[0]
        out = osp.join(args.output_dir, f'{i:05d}_{stem}.png')
        cv2.imwrite(out, canvas[..., ::-1])
        print(out)
    print(f'wrote {n} images to {args.output_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
