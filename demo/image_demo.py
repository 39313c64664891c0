"""Predict metric depth for an image (or every image of a folder) and save it.

Examples::

    # colour-mapped depth with a metre colour bar, raw metres, coloured point cloud
    python demo/image_demo.py room.jpg CONFIG CKPT --out-file depth.png --colorbar \\
        --out-npy depth.npy --out-ply room.ply
    # a folder: the --out-* values are folders, one file per image (<stem>.png|.npy|.ply)
    python demo/image_demo.py imgs/ CONFIG CKPT --out-file vis/ --out-npy npy/
    # smoke run with random weights
    python demo/image_demo.py room.jpg CONFIG --checkpoint none --out-file depth.png

CKPT may be a local file or an http(s) URL (cached and hash-checked, see
``mmdepth_dgr.utils.checkpoint``).

Point cloud: pinhole back-projection of every valid pixel (finite depth > 0),
``X = (u - cx)·Z/f, Y = (v - cy)·Z/f, Z = depth``, with ``(cx, cy) = ((W-1)/2, (H-1)/2)``
(the centre of the pixel grid) and ``f`` from ``--focal`` or the camera preset scaled to
the image width (NYU: 518.8579 px at 640 px wide; KITTI: 721.5377 px at 1242 px wide).
Axes follow OpenCV: x right, y down, z forward, metres. Vertex colours are the image's.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import cv2
import numpy as np

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import mmdepth_dgr  # noqa: E402,F401  (first: mmcv stand-in, registrations)
from mmdepth_dgr.apis import inference_model, init_model  # noqa: E402
from mmdepth_dgr.visualization import colorize_depth, depth_range  # noqa: E402

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: (focal in px, image width in px it refers to)
CAMERA_PRESETS = {'nyu': (518.8579, 640.0), 'kitti': (721.5377, 1242.0)}


def default_focal(width: int, camera: str = 'nyu') -> float:
    """The preset focal length scaled to an image ``width`` (pixels).

    Args:
        width (int): Image width in pixels.
        camera (str): 'nyu' or 'kitti'. Defaults to 'nyu'.

    Returns:
        float: Focal length in pixels.
    """
    if camera not in CAMERA_PRESETS:
        raise ValueError(f'--camera must be one of {sorted(CAMERA_PRESETS)}, '
                         f'got {camera!r}')
    focal, ref_width = CAMERA_PRESETS[camera]
    return focal * width / ref_width


def depth_to_points(depth_m: np.ndarray, focal: float,
                    rgb: Optional[np.ndarray] = None,
                    center: Optional[Tuple[float, float]] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Back-project the valid pixels of a depth map to 3-D points.

    Args:
        depth_m (np.ndarray): (H, W) depth in metres; valid where finite and > 0.
        focal (float): Focal length in pixels (fx = fy).
        rgb (np.ndarray, optional): (H, W, 3) uint8 colours. Defaults to grey.
        center (tuple[float, float], optional): (cx, cy); defaults to
            ((W-1)/2, (H-1)/2).

    Returns:
        tuple[np.ndarray, np.ndarray]: (N, 3) float32 xyz in metres and (N, 3) uint8
        colours, N = number of valid pixels, in row-major pixel order.
    """
    h, w = depth_m.shape
    cx, cy = center if center is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
    valid = np.isfinite(depth_m) & (depth_m > 0)
    v, u = np.nonzero(valid)
    z = depth_m[v, u].astype(np.float64)
    xyz = np.stack([(u - cx) * z / focal, (v - cy) * z / focal, z], axis=1)
    if rgb is None:
        colours = np.full((len(z), 3), 200, np.uint8)
    else:
        colours = np.asarray(rgb, np.uint8)[v, u]
    return xyz.astype(np.float32), colours


def write_ply(path: str, xyz: np.ndarray, rgb: np.ndarray, binary: bool = True) -> None:
    """Write a coloured point cloud as PLY (``binary_little_endian`` or ``ascii``).

    Vertex properties: float x, y, z; uchar red, green, blue.

    Args:
        path (str): Output file.
        xyz (np.ndarray): (N, 3) coordinates.
        rgb (np.ndarray): (N, 3) uint8 colours.
        binary (bool): Binary little-endian (compact) or ASCII. Defaults to True.
    """
    n = len(xyz)
    fmt = 'binary_little_endian' if binary else 'ascii'
    header = (f'ply\nformat {fmt} 1.0\ncomment mmdepth_dgr image_demo, metres\n'
              f'element vertex {n}\nproperty float x\nproperty float y\n'
              'property float z\nproperty uchar red\nproperty uchar green\n'
              'property uchar blue\nend_header\n')
    with open(path, 'wb') as f:
        f.write(header.encode('ascii'))
        if binary:
            rec = np.empty(n, dtype=[('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                                     ('r', 'u1'), ('g', 'u1'), ('b', 'u1')])
            rec['x'], rec['y'], rec['z'] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
            rec['r'], rec['g'], rec['b'] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
            f.write(rec.tobytes())
        else:
            lines = (f'{x:.6f} {y:.6f} {z:.6f} {r} {g} {b}\n'
                     for (x, y, z), (r, g, b) in zip(xyz.tolist(), rgb.tolist()))
            f.write(''.join(lines).encode('ascii'))


def save_depth_png(path: str, depth_m: np.ndarray, cmap: str = 'magma_r',
                   vmin: Optional[float] = None, vmax: Optional[float] = None,
                   colorbar: bool = False) -> None:
    """Save a colour-mapped depth image, optionally with a colour bar in metres."""
    lo, hi = depth_range(depth_m)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    rgb = colorize_depth(depth_m, vmin, vmax, cmap)
    if not colorbar:
        if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f'cannot write {path} (unknown image extension?)')
        return
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h, w = depth_m.shape
    fig, ax = plt.subplots(figsize=(max(w / 100.0, 2.0) + 1.2, max(h / 100.0, 2.0)),
                           dpi=100)
    im = ax.imshow(np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m, np.nan),
                   cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, label='depth (m)', fraction=0.046, pad=0.03)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def list_images(path: str) -> List[str]:
    """One image, or every image of a folder (sorted, recursive)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'image or folder not found: {path}')
    found = []
    for root, _, files in os.walk(path):
        found += [osp.join(root, f) for f in files if f.lower().endswith(IMG_SUFFIXES)]
    if not found:
        raise FileNotFoundError(f'no images ({", ".join(IMG_SUFFIXES)}) in {path}')
    return sorted(found)


def _out_path(target: Optional[str], img: str, root: Optional[str], ext: str):
    """Single-image mode: ``target`` is the file; folder mode: a folder."""
    if target is None:
        return None
    if root is None:
        out = target
    else:
        rel = osp.splitext(osp.relpath(img, root))[0]
        out = osp.join(target, rel + ext)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Monocular depth demo: colour map, raw metres and point cloud.')
    parser.add_argument('img', help='image file, or a folder of images')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint_pos', nargs='?', default=None, metavar='checkpoint',
                        help="checkpoint path or URL; omit or 'none' for random weights")
    parser.add_argument('--checkpoint', default=None,
                        help='same as the positional checkpoint (e.g. --checkpoint none)')
    parser.add_argument('--out-file', default=None,
                        help='colour-mapped depth image (a folder when IMG is a folder); '
                        'default depth.png (folder: depth_vis/) when no --out-* is given')
    parser.add_argument('--out-npy', help='raw depth in metres, float32 .npy '
                        '(a folder when IMG is a folder)')
    parser.add_argument('--out-ply', help='coloured point cloud .ply (a folder when '
                        'IMG is a folder)')
    parser.add_argument('--ply-ascii', action='store_true',
                        help='write ASCII PLY instead of binary little-endian')
    parser.add_argument('--focal', type=float, default=None,
                        help='focal length in pixels for the point cloud (default: '
                        'the --camera preset scaled to the image width)')
    parser.add_argument('--camera', default='nyu', choices=sorted(CAMERA_PRESETS),
                        help='focal preset when --focal is not given')
    parser.add_argument('--colorbar', action='store_true',
                        help='add a colour bar in metres (matplotlib)')
    parser.add_argument('--cmap', default='magma_r', help='matplotlib colormap')
    parser.add_argument('--vmin', type=float, default=None, help='depth (m) at the '
                        'low end of the colour map (default: image min)')
    parser.add_argument('--vmax', type=float, default=None, help='depth (m) at the '
                        'high end of the colour map (default: image max)')
    parser.add_argument('--flip', action='store_true', help='flip test-time augmentation')
    parser.add_argument('--device', default='cpu', help='torch device, e.g. cuda:0')
    args = parser.parse_args(argv)
    if args.checkpoint is not None and args.checkpoint_pos is not None:
        parser.error('give the checkpoint either positionally or with --checkpoint')
    args.checkpoint = args.checkpoint if args.checkpoint is not None \
        else args.checkpoint_pos
    if args.checkpoint is not None and args.checkpoint.lower() == 'none':
        args.checkpoint = None
    return args


def main(argv=None) -> List[str]:
    """Run the demo; returns the written files."""
    args = parse_args(argv)
    from tqdm import tqdm
    images = list_images(args.img)
    root = args.img if osp.isdir(args.img) else None
    if args.out_file is None and args.out_npy is None and args.out_ply is None:
        args.out_file = 'depth.png' if root is None else 'depth_vis'
    if args.checkpoint is None:
        print('image_demo: no checkpoint given: random weights (smoke run)',
              file=sys.stderr)
    model = init_model(args.config, args.checkpoint, device=args.device)
    written = []
    for path in tqdm(images, desc='depth', unit='img', disable=len(images) == 1):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f'cannot decode image {path}')
        depth_m = inference_model(model, img, flip=args.flip)
        out = _out_path(args.out_file, path, root, '.png')
        if out:
            save_depth_png(out, depth_m, args.cmap, args.vmin, args.vmax, args.colorbar)
            written.append(out)
        out = _out_path(args.out_npy, path, root, '.npy')
        if out:
            np.save(out, depth_m.astype(np.float32))
            written.append(out)
        out = _out_path(args.out_ply, path, root, '.ply')
        if out:
            focal = args.focal if args.focal is not None else \
                default_focal(depth_m.shape[1], args.camera)
            xyz, rgb = depth_to_points(depth_m, focal,
                                       cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            write_ply(out, xyz, rgb, binary=not args.ply_ascii)
            written.append(out)
    for f in written if len(written) <= 6 else written[:3] + ['...']:
        print(f)
    return written


if __name__ == '__main__':
    main()
