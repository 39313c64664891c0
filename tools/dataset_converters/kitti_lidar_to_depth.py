"""Project a KITTI Velodyne scan into a sparse uint16 depth PNG (metres * 256, 0 = invalid).

Example (the real sample frame)::

    python tools/dataset_converters/kitti_lidar_to_depth.py \\
        ../shared/samples/kitti_object_vis/velodyne_000000.bin \\
        ../shared/samples/kitti_object_vis/calib_000000.txt \\
        --image ../shared/samples/kitti_object_vis/image_2_000000.png --out depth_000000.png

The calibration file is the object-benchmark kind (``P2``, ``R0_rect``,
``Tr_velo_to_cam``); the math is in ``mmdepth_dgr/datasets/kitti_lidar.py``.
"""
import argparse
import os.path as osp
import sys

import mmdepth_dgr  # noqa: F401  (must come first: installs the mmcv._ext stand-in)

# isort: split
import cv2

from mmdepth_dgr.datasets.kitti_lidar import (read_kitti_calib, read_velodyne_bin,
                                              velodyne_to_depth_map)
from mmdepth_dgr.datasets.synthetic.writers import KITTI_DEPTH_SCALE, write_depth_png


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('velodyne', help='float32 Nx4 .bin scan')
    parser.add_argument('calib', help='KITTI object calib .txt (P2, R0_rect, Tr_velo_to_cam)')
    parser.add_argument('--image', default=None, help='camera image; sets the output size')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help='output size when --image is not given (default: 375 1242)')
    parser.add_argument('--cam', type=int, default=2, help='camera index (default: 2)')
    parser.add_argument('--max-depth', type=float, default=None,
                        help='drop points farther than this (metres)')
    parser.add_argument('--out', required=True, help='output .png')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.image is not None:
            img = cv2.imread(args.image, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise FileNotFoundError(f'could not read --image {args.image}')
            height, width = img.shape[:2]
        else:
            height, width = args.size or (375, 1242)
        if not args.out.lower().endswith('.png'):
            raise ValueError(f'--out must be a .png file, got {args.out}')
        velo = read_velodyne_bin(args.velodyne)
        calib = read_kitti_calib(args.calib)
        depth = velodyne_to_depth_map(velo, calib, height, width, cam=args.cam,
                                      max_depth_m=args.max_depth, path_hint=args.calib)
        write_depth_png(args.out, depth, KITTI_DEPTH_SCALE)
    except (ValueError, KeyError, OSError) as e:
        print(f'kitti_lidar_to_depth.py: error: {e}', file=sys.stderr)
        return 2
    valid = depth > 0
    rng = (f'{depth[valid].min():.2f}-{depth[valid].max():.2f} m' if valid.any() else 'none')
    print(f'Wrote {osp.abspath(args.out)}: {height}x{width}, {len(velo)} points, '
          f'{valid.mean() * 100:.2f} % valid, range {rng}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
