"""Generate the procedural synthetic NYU- or KITTI-style depth dataset.

Examples::

    python tools/dataset_converters/generate_synthetic.py --kind nyu --out data/synthetic_nyu
    python tools/dataset_converters/generate_synthetic.py --kind kitti --out data/synthetic_kitti \\
        --num-train 200 --num-test 50 --height 192 --width 640

Re-running with the same parameters does nothing when the folder holds what this code
writes (``<out>/synthetic_manifest.json`` keeps the parameters, the generator version and a
content hash; the first views are rendered again to compare). A folder written by other
code, or whose files changed, is regenerated -- or refused with ``--no-overwrite``. Other
parameters need ``--overwrite``.
The layouts are documented in ``mmdepth_dgr/datasets/synthetic/writers.py``.
"""
import argparse
import os.path as osp
import sys
import time

import mmdepth_dgr  # noqa: F401  (must come first: installs the mmcv._ext stand-in)

# isort: split
from mmdepth_dgr.datasets.synthetic import DATASET_DEFAULTS, generate_dataset


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--kind', default='nyu', choices=sorted(DATASET_DEFAULTS),
                        help='nyu: indoor rooms, dense mm PNG; kitti: streets, sparse '
                             'LiDAR PNG (metres*256)')
    parser.add_argument('--out', default=None,
                        help='output folder (default: data/synthetic_<kind>)')
    parser.add_argument('--num-train', type=int, default=None,
                        help='training images (default: 300 nyu / 200 kitti)')
    parser.add_argument('--num-test', type=int, default=None,
                        help='test images (default: 60 nyu / 50 kitti)')
    parser.add_argument('--height', type=int, default=None,
                        help='image height (default: 240 nyu / 192 kitti)')
    parser.add_argument('--width', type=int, default=None,
                        help='image width (default: 320 nyu / 640 kitti)')
    parser.add_argument('--seed', type=int, default=0, help='master seed (default: 0)')
    parser.add_argument('--views-per-scene', type=int, default=None,
                        help='views per room / frames per drive (default: 4 nyu / 8 kitti)')
    parser.add_argument('--gt-values', default='pixel', choices=['pixel', 'lidar'],
                        help='kitti ground truth: exact pixel depth at LiDAR hits (pixel) '
                             "or the hits' own depth (lidar)")
    parser.add_argument('--workers', type=int, default=2, help='worker processes (default: 2)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--overwrite', action='store_true',
                      help='replace a dataset with other parameters in --out')
    mode.add_argument('--no-overwrite', action='store_true',
                      help='never replace files: refuse (exit code 2) when --out holds a '
                      'dataset with these parameters that this code would not write '
                      '(older generator version, changed files) instead of regenerating '
                      'it')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = args.out or osp.join('data', f'synthetic_{args.kind}')
    start = time.perf_counter()
    try:
        man = generate_dataset(out, kind=args.kind, num_train=args.num_train,
                               num_test=args.num_test, height=args.height, width=args.width,
                               seed=args.seed, progress=not args.no_progress,
                               num_workers=args.workers, overwrite=args.overwrite,
                               views_per_job=args.views_per_scene, gt_values=args.gt_values,
                               regenerate_stale=not args.no_overwrite)
    except (ValueError, OSError) as e:  # bad option / folder: one clear line, exit code 2
        print(f'generate_synthetic.py: error: {e}', file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    root = osp.abspath(out)
    p, k = man['params'], man['intrinsics']
    fingerprint = (f'generator version {man["generator_version"]}, content sha256 '
                   f'{man["content_sha256"][:12]}')
    if man['skipped']:
        print(f'{root} already holds this dataset ({p["kind"]}, {p["num_train"]} train / '
              f'{p["num_test"]} test, {p["height"]}x{p["width"]}, seed {p["seed"]}; '
              f'{fingerprint}); nothing to do.')
        return 0
    c = man['counts']
    if man.get('regenerated'):
        print(f'Regenerated {root}: {man["regenerated"]}')
    print(f'Wrote synthetic {p["kind"]} dataset to {root} in {elapsed:.1f} s ({fingerprint})')
    print(f'  train: {c["train"]} images ({c["train_without_gt"]} without GT) -> '
          f'{man["split_files"][0]}')
    print(f'  test:  {c["test"]} images ({c["test_without_gt"]} without GT) -> '
          f'{man["split_files"][1]}')
    print(f'  size {p["height"]}x{p["width"]}, fx={k["fx"]:.4f} fy={k["fy"]:.4f} '
          f'cx={k["cx"]:.4f} cy={k["cy"]:.4f}, depth PNG scale {man["depth_scale"]:g}/m')
    print(f'  data_prefix train={man["data_prefix"]["train"]} '
          f'test={man["data_prefix"]["test"]} (relative to {root})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
