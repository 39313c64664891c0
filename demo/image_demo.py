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
``mmdepth_dgr.utils.checkpoint``). It must match the config's model (strict loading;
``--non-strict`` loads the matching weights and warns about the rest).

Folder mode mirrors the input folder: ``imgs/a/x.jpg`` -> ``vis/a/x.png``. Images that
share a stem (``x.jpg`` and ``x.png``) keep their extension in the name instead
(``x_jpg.png``, ``x_png.png``), so no output is overwritten.

Arguments are checked before the model is built: ``--focal`` must be positive, and the
output files need a known extension (``--out-file``: an image format OpenCV writes,
``--out-npy``: ``.npy``, ``--out-ply``: ``.ply``; folder mode: folders, no extension).

``--colorbar`` appends a vertical colour bar in metres to the right of the depth image;
the depth image itself keeps the input's exact resolution.

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
from mmdepth_dgr.utils import OutputNames, distinct_stems  # noqa: E402
from mmdepth_dgr.visualization import colorize_depth, depth_range, vertical_colorbar  # noqa: E402

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: Extensions cv2.imwrite handles for --out-file.
OUT_IMG_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
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
    """Save a colour-mapped depth image, optionally with a colour bar in metres.

    The depth image keeps its exact (H, W); ``colorbar`` appends a vertical bar with
    tick labels in metres on the right (about 70 px wide), drawn into the pixels.

    Args:
        path (str): Output image (extension chooses the format).
        depth_m (np.ndarray): (H, W) depth in metres.
        cmap (str): Matplotlib colormap. Defaults to 'magma_r'.
        vmin (float, optional): Depth at the low end. Defaults to the image minimum.
        vmax (float, optional): Depth at the high end. Defaults to the image maximum.
        colorbar (bool): Append the colour bar. Defaults to False.
    """
    lo, hi = depth_range(depth_m)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    rgb = colorize_depth(depth_m, vmin, vmax, cmap)
    if colorbar:
        rgb = np.concatenate(
            [rgb, vertical_colorbar(rgb.shape[0], vmin, vmax, cmap, 'depth (m)')], axis=1)
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {path}')


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


def plan_outputs(images: List[str], root: Optional[str]) -> dict:
    """Output stem (relative, no extension) per input image, distinct for all inputs.

    Args:
        images (list[str]): Input files.
        root (str, optional): The input folder (folder mode); None for one image.

    Returns:
        dict[str, str]: image -> stem relative to the output folder (see
        :func:`mmdepth_dgr.utils.distinct_stems`); empty in single-image mode.
    """
    if root is None:
        return {}
    rels = {img: osp.relpath(img, root) for img in images}
    stems = distinct_stems(rels.values())
    return {img: stems[rel] for img, rel in rels.items()}


def _out_path(target: Optional[str], img: str, stems: dict, ext: str,
              names: OutputNames):
    """Single-image mode: ``target`` is the file; folder mode: a folder."""
    if target is None:
        return None
    out = osp.join(target, stems[img] + ext) if stems else target
    names.claim(out, img)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    return out


def check_args(args, folder_mode: bool) -> None:
    """Refuse impossible arguments before the model is built.

    Args:
        args (argparse.Namespace): Parsed arguments.
        folder_mode (bool): IMG is a folder (the --out-* values are folders).

    Raises:
        ValueError: A non-positive or non-finite ``--focal``, ``--vmin >= --vmax``, or an
            output path with a missing/unknown extension (single image) or with an
            extension (folder mode).
    """
    import math
    if args.focal is not None and not (math.isfinite(args.focal) and args.focal > 0):
        raise ValueError(f'--focal must be a positive number of pixels, got {args.focal}')
    if args.vmin is not None and args.vmax is not None and not args.vmin < args.vmax:
        raise ValueError(f'--vmin ({args.vmin}) must be below --vmax ({args.vmax})')
    wanted = (('--out-file', args.out_file, OUT_IMG_SUFFIXES),
              ('--out-npy', args.out_npy, ('.npy', )),
              ('--out-ply', args.out_ply, ('.ply', )))
    for flag, value, suffixes in wanted:
        if value is None:
            continue
        ext = osp.splitext(value)[1].lower()
        if folder_mode:
            if ext in OUT_IMG_SUFFIXES + ('.npy', '.ply') and not osp.isdir(value):
                raise ValueError(
                    f'{flag} {value}: IMG is a folder, so {flag} must be a folder (one '
                    'file per image is written into it), not a file name')
        elif ext not in suffixes:
            what = 'has no extension' if not ext else f'has extension {ext!r}'
            raise ValueError(f'{flag} {value} {what}; expected one of '
                             f'{", ".join(suffixes)}')


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
                        help='append a colour bar in metres right of the depth image (which keeps '
                        'the input resolution)')
    parser.add_argument('--cmap', default='magma_r', help='matplotlib colormap')
    parser.add_argument('--vmin', type=float, default=None, help='depth (m) at the '
                        'low end of the colour map (default: image min)')
    parser.add_argument('--vmax', type=float, default=None, help='depth (m) at the '
                        'high end of the colour map (default: image max)')
    parser.add_argument('--flip', action='store_true', help='flip test-time augmentation')
    parser.add_argument('--device', default='cpu', help='torch device, e.g. cuda:0')
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint that does not match the model exactly (the unmatched '
        'weights keep their random initialisation, with a warning). Default: an error '
        'naming the file and the missing/unexpected keys.')
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
    check_args(args, folder_mode=root is not None)
    stems = plan_outputs(images, root)
    names = OutputNames('demo output')
    if args.checkpoint is None:
        print('image_demo: no checkpoint given: random weights (smoke run)',
              file=sys.stderr)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       strict=not args.non_strict)
    written = []
    for path in tqdm(images, desc='depth', unit='img', disable=len(images) == 1):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f'cannot decode image {path}')
        depth_m = inference_model(model, img, flip=args.flip)
        out = _out_path(args.out_file, path, stems, '.png', names)
        if out:
            save_depth_png(out, depth_m, args.cmap, args.vmin, args.vmax, args.colorbar)
            written.append(out)
        out = _out_path(args.out_npy, path, stems, '.npy', names)
        if out:
            np.save(out, depth_m.astype(np.float32))
            written.append(out)
        out = _out_path(args.out_ply, path, stems, '.ply', names)
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
