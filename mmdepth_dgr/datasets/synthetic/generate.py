"""``generate_dataset``: write a complete synthetic NYU- or KITTI-style dataset.

Determinism: every scene (NYU room) or drive (KITTI street) is one job seeded with
``np.random.SeedSequence(seed, spawn_key=(kind, split, job))``; the job derives the
seeds of its views from that. Output bytes therefore depend only on the parameters, not
on the number of worker processes or their scheduling.

Idempotence: ``<out_dir>/synthetic_manifest.json`` records the parameters. It is written
with ``"complete": false`` before generation and rewritten with ``true`` at the end; a
later call with the same parameters on a complete dataset whose listed files all exist
returns immediately (``"skipped": true`` in the returned dict).
"""
import json
import multiprocessing as mp
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from .camera import KITTI_INTRINSICS, NYU_INTRINSICS, CameraIntrinsics, scale_intrinsics
from .indoor import generate_indoor_scene
from .outdoor import generate_drive
from .writers import (KITTI_DEPTH_SCALE, NYU_DEPTH_SCALE, kitti_paths, kitti_split_line,
                      nyu_paths, nyu_split_line, parse_split_line, write_depth_png, write_rgb,
                      write_split_file)

__all__ = ['generate_dataset', 'DATASET_DEFAULTS', 'MANIFEST_NAME', 'GENERATOR_VERSION',
           'KITTI_DATES', 'dataset_is_complete']

MANIFEST_NAME = 'synthetic_manifest.json'
#: Bump when the renderer changes so that stale folders are regenerated.
GENERATOR_VERSION = 1
KITTI_DATES = ('2011_09_26', '2011_09_28', '2011_09_29', '2011_09_30', '2011_10_03')
#: Per kind: default counts, image size, views per job and split file names.
DATASET_DEFAULTS = {
    'nyu': dict(num_train=300, num_test=60, height=240, width=320, views_per_job=4,
                splits=('nyu_train.txt', 'nyu_test.txt')),
    'kitti': dict(num_train=200, num_test=50, height=192, width=640, views_per_job=8,
                  splits=('kitti_eigen_train.txt', 'kitti_eigen_test.txt')),
}
_KIND_CODE = {'nyu': 1, 'kitti': 2}
_SPLITS = ('train', 'test')


def _intrinsics(kind: str, height: int, width: int) -> CameraIntrinsics:
    base = NYU_INTRINSICS if kind == 'nyu' else KITTI_INTRINSICS
    return scale_intrinsics(base, height, width)


def _jobs(params: Dict) -> List[Dict]:
    """Split the requested samples into per-scene / per-drive jobs."""
    jobs = []
    per = params['views_per_job']
    for split_code, split in enumerate(_SPLITS):
        total = params[f'num_{split}']
        for job, first in enumerate(range(0, total, per)):
            jobs.append(dict(params, split=split, split_code=split_code, job=job, first=first,
                             count=min(per, total - first)))
    return jobs


def _run_job(job: Dict) -> Tuple[str, int, List[str]]:
    """Render and write one scene / drive; returns ``(split, job, split lines)``."""
    kind, split, root = job['kind'], job['split'], job['out_dir']
    intr = _intrinsics(kind, job['height'], job['width'])
    seq = np.random.SeedSequence(job['seed'],
                                 spawn_key=(_KIND_CODE[kind], job['split_code'], job['job']))
    lines = []
    if kind == 'nyu':
        room, views = generate_indoor_scene(seq, intr, job['count'])
        # Train and test rooms are numbered in one sequence so that names never clash.
        number = job['job'] + (0 if split == 'train' else 5000)
        scene = f'{room.room_type}_{number:04d}'
        for k, (rgb, depth) in enumerate(views):
            index = job['first'] + k
            rgb_rel, depth_rel = nyu_paths(scene, index)
            write_rgb(osp.join(root, split, rgb_rel), rgb)
            write_depth_png(osp.join(root, split, depth_rel), depth, NYU_DEPTH_SCALE)
            lines.append(nyu_split_line(scene, index, intr.fx))
    else:
        date = KITTI_DATES[job['job'] % len(KITTI_DATES)]
        drive = 1 + job['job'] + (0 if split == 'train' else 5000)
        _, frames = generate_drive(seq, intr, job['count'], gt_values=job['gt_values'])
        for frame, (rgb, sparse, _) in enumerate(frames):
            img_rel, gt_rel = kitti_paths(date, drive, frame)
            write_rgb(osp.join(root, img_rel), rgb)
            # Like the real list, some test frames have no ground truth: frame 0 of every
            # test drive of two or more frames.
            has_gt = not (split == 'test' and frame == 0 and len(frames) > 1)
            if has_gt:
                write_depth_png(osp.join(root, gt_rel), sparse, KITTI_DEPTH_SCALE)
            lines.append(kitti_split_line(date, drive, frame, intr.fx, has_gt))
    return split, job['job'], lines


def _worker_init() -> None:
    import cv2
    cv2.setNumThreads(1)


def _pool_context():
    """A multiprocessing context whose workers start from a thread-free process.

    Plain ``fork`` deadlocks when the caller already ran thread pools (OpenCV's
    ``parallel_for``, torch, a DataLoader) -- their locks are copied into the child in the
    locked state. ``forkserver`` forks workers from a clean server process that imports
    this module once (the package import takes seconds, so ``spawn`` would pay it per
    worker); ``spawn`` is the fallback where forkserver does not exist.
    """
    if 'forkserver' in mp.get_all_start_methods():
        ctx = mp.get_context('forkserver')
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context('spawn')


def _listed_files(out_dir: str, kind: str, split_names) -> Optional[List[str]]:
    """All files named by the split files, or None when a split file is missing."""
    files = []
    for split, name in zip(_SPLITS, split_names):
        path = osp.join(out_dir, name)
        if not osp.isfile(path):
            return None
        prefix = osp.join(out_dir, split) if kind == 'nyu' else out_dir
        with open(path, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    img, depth, _ = parse_split_line(line)
                    files.append(osp.join(prefix, img))
                    if depth != 'None':
                        files.append(osp.join(prefix, depth))
    return files


def _read_manifest(out_dir: str) -> Optional[Dict]:
    path = osp.join(out_dir, MANIFEST_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'{path} is not a readable synthetic-dataset manifest: {e}') from e


def dataset_is_complete(out_dir: str, params: Optional[Dict] = None) -> bool:
    """Whether ``out_dir`` holds a complete dataset (with these ``params`` if given)."""
    man = _read_manifest(out_dir)
    if not man or not man.get('complete') or (params is not None and man['params'] != params):
        return False
    files = _listed_files(out_dir, man['params']['kind'], man['split_files'])
    return files is not None and all(osp.isfile(f) for f in files)


def _remove_old(out_dir: str, man: Dict) -> None:
    """Delete the files of a previous dataset (only those its split files list)."""
    files = _listed_files(out_dir, man['params']['kind'], man['split_files']) or []
    dirs = set()
    for f in files + [osp.join(out_dir, n) for n in man['split_files']]:
        if osp.isfile(f):
            os.remove(f)
            dirs.add(osp.dirname(f))
    for d in sorted(dirs, key=len, reverse=True):  # prune now-empty folders bottom-up
        while d.startswith(osp.abspath(out_dir) + os.sep) and osp.isdir(d) and not os.listdir(d):
            os.rmdir(d)
            d = osp.dirname(d)


def generate_dataset(out_dir: str, kind: str = 'nyu', num_train: Optional[int] = None,
                     num_test: Optional[int] = None, height: Optional[int] = None,
                     width: Optional[int] = None, seed: int = 0, progress: bool = True,
                     num_workers: int = 2, overwrite: bool = False,
                     views_per_job: Optional[int] = None, gt_values: str = 'pixel') -> Dict:
    """Generate a synthetic depth dataset on disk.

    Args:
        out_dir (str): Output root (created if needed).
        kind (str): ``'nyu'`` (indoor, dense mm PNG) or ``'kitti'`` (street, sparse
            LiDAR PNG). Defaults to 'nyu'.
        num_train (int, optional): Training samples; None = 300 (nyu) / 200 (kitti).
        num_test (int, optional): Test samples; None = 60 (nyu) / 50 (kitti). For kitti
            these include the lines without ground truth (``None``, frame 0 of every test
            drive that has two or more frames), as in the real Eigen test list.
        height (int, optional): Image height; None = 240 (nyu) / 192 (kitti).
        width (int, optional): Image width; None = 320 (nyu) / 640 (kitti).
        seed (int): Non-negative master seed. Defaults to 0.
        progress (bool): Show a tqdm progress bar. Defaults to True.
        num_workers (int): Worker processes (``<= 1`` = in this process). Defaults to 2.
        overwrite (bool): Replace a dataset with other parameters (or unknown files) in
            ``out_dir``. Defaults to False.
        views_per_job (int, optional): Views per NYU room / frames per KITTI drive;
            None = 4 (nyu) / 8 (kitti).
        gt_values (str): KITTI ground-truth values, ``'pixel'`` (exact pixel z-depth at
            LiDAR-hit pixels) or ``'lidar'`` (the hits' own depth); see :mod:`.lidar`.
            Defaults to 'pixel'.

    Returns:
        dict: The manifest (parameters, intrinsics, split files, data prefixes, counts) plus
        ``'skipped'``: True when an identical complete dataset was already there.
    """
    if kind not in DATASET_DEFAULTS:
        raise ValueError(f"unknown kind {kind!r}; choose 'nyu' or 'kitti'")
    if gt_values not in ('pixel', 'lidar'):
        raise ValueError(f"gt_values must be 'pixel' or 'lidar', got {gt_values!r}")
    dflt = DATASET_DEFAULTS[kind]
    params = dict(kind=kind, generator_version=GENERATOR_VERSION,
                  num_train=dflt['num_train'] if num_train is None else int(num_train),
                  num_test=dflt['num_test'] if num_test is None else int(num_test),
                  height=dflt['height'] if height is None else int(height),
                  width=dflt['width'] if width is None else int(width),
                  seed=int(seed),
                  views_per_job=dflt['views_per_job'] if views_per_job is None
                  else int(views_per_job),
                  gt_values=gt_values if kind == 'kitti' else None)
    for key in ('num_train', 'num_test'):
        if params[key] < 0:
            raise ValueError(f'{key} must be >= 0, got {params[key]}')
    if params['num_train'] + params['num_test'] == 0:
        raise ValueError('num_train + num_test must be > 0')
    for key, low in (('height', 8), ('width', 8), ('views_per_job', 1), ('seed', 0)):
        if params[key] < low:
            raise ValueError(f'{key} must be >= {low}, got {params[key]}')

    out_dir = osp.abspath(out_dir)
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise NotADirectoryError(f'--out {out_dir} exists and is not a directory')
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise PermissionError(f'cannot create output folder {out_dir}: {e}') from e
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise PermissionError(f'output folder {out_dir} is not writable')

    intr = _intrinsics(kind, params['height'], params['width'])
    manifest = dict(params=params, complete=False, split_files=list(dflt['splits']),
                    intrinsics=dict(fx=intr.fx, fy=intr.fy, cx=intr.cx, cy=intr.cy,
                                    height=intr.height, width=intr.width),
                    depth_scale=NYU_DEPTH_SCALE if kind == 'nyu' else KITTI_DEPTH_SCALE,
                    data_prefix=({s: dict(img_path=s, depth_map_path=s) for s in _SPLITS}
                                 if kind == 'nyu' else
                                 {s: dict(img_path='', depth_map_path='') for s in _SPLITS}))

    old = _read_manifest(out_dir)
    if old is not None and old.get('params') == params and dataset_is_complete(out_dir, params):
        old['skipped'] = True
        return old
    if old is not None and old.get('params') != params:
        if not overwrite:
            raise FileExistsError(
                f'{out_dir} already holds a synthetic dataset with other parameters '
                f'({old.get("params")}); pass overwrite=True (--overwrite) or choose '
                'another output folder')
        _remove_old(out_dir, old)
    elif old is None and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'{out_dir} is not empty and holds no {MANIFEST_NAME}; choose '
                              'an empty folder or pass overwrite=True (--overwrite)')

    man_path = osp.join(out_dir, MANIFEST_NAME)

    def dump(m):
        with open(man_path, 'w', encoding='utf-8', newline='\n') as f:
            json.dump(m, f, indent=2, sort_keys=True)
            f.write('\n')

    dump(manifest)
    jobs = _jobs(dict(params, out_dir=out_dir))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=params['num_train'] + params['num_test'], unit='img',
                   desc=f'synthetic {kind}')
    results = []
    try:
        if num_workers > 1 and len(jobs) > 1:
            with _pool_context().Pool(min(num_workers, len(jobs)),
                                      initializer=_worker_init) as pool:
                for res in pool.imap_unordered(_run_job, jobs):
                    results.append(res)
                    if bar is not None:
                        bar.update(len(res[2]))
        else:
            for job in jobs:
                results.append(_run_job(job))
                if bar is not None:
                    bar.update(len(results[-1][2]))
    finally:
        if bar is not None:
            bar.close()

    results.sort(key=lambda r: (_SPLITS.index(r[0]), r[1]))
    counts = {}
    for split, name in zip(_SPLITS, dflt['splits']):
        lines = [ln for s, _, ls in results if s == split for ln in ls]
        write_split_file(osp.join(out_dir, name), lines)
        counts[split] = len(lines)
        counts[f'{split}_without_gt'] = sum(ln.split()[1] == 'None' for ln in lines)
    manifest.update(complete=True, counts=counts)
    dump(manifest)
    return dict(manifest, skipped=False)
