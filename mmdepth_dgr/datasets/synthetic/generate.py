"""``generate_dataset``: write a complete synthetic NYU- or KITTI-style dataset.

Determinism: every scene (NYU room) or drive (KITTI street) is one job seeded with
``np.random.SeedSequence(seed, spawn_key=(kind, split, job))``; the job derives the
seeds of its views from that. Output bytes therefore depend only on the parameters (and
the code and image libraries that render and encode them), not on the number of worker
processes or their scheduling.

Fingerprint and reuse: ``<out_dir>/synthetic_manifest.json`` records the parameters, the
``generator_version`` of the code that wrote the folder and ``content_sha256``, a hash of
every file it wrote (:func:`content_hash`). It is written with ``"complete": false``
before generation and rewritten with ``true`` at the end. A later call with the same
parameters reuses the folder (``"skipped": true`` in the returned dict) only when it is
what the current code would write (:func:`stale_reason` returns None):

* the manifest is complete and its ``generator_version`` equals :data:`GENERATOR_VERSION`;
* the files on disk still hash to the recorded ``content_sha256`` (nothing edited,
  truncated or deleted since);
* the first two views of every split, rendered again in a temporary folder, give the
  same bytes as the files on disk. This spot check (a second or two) catches a renderer or
  encoder change made without bumping :data:`GENERATOR_VERSION`, and a different
  OpenCV/numpy build that encodes differently; a hand-maintained version number alone
  did not (folders written by earlier code were reused silently).

Otherwise the folder is regenerated, or, with ``regenerate_stale=False``
(``--no-overwrite``), refused with an error naming the folder and the mismatch.
"""
import hashlib
import json
import multiprocessing as mp
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np

from .camera import KITTI_INTRINSICS, NYU_INTRINSICS, CameraIntrinsics, scale_intrinsics
from .indoor import generate_indoor_scene
from .outdoor import generate_drive
from .writers import (KITTI_DEPTH_SCALE, NYU_DEPTH_SCALE, kitti_paths, kitti_split_line, nyu_paths,
                      nyu_split_line, parse_split_line, write_depth_png, write_rgb,
                      write_split_file)

__all__ = ['generate_dataset', 'DATASET_DEFAULTS', 'MANIFEST_NAME', 'GENERATOR_VERSION',
           'KITTI_DATES', 'dataset_is_complete', 'content_hash', 'stale_reason',
           'read_fingerprint', 'StaleDatasetError']

MANIFEST_NAME = 'synthetic_manifest.json'
#: Bump when the renderer or the writers change what is written. Version 1 folders carry
#: no content hash and were written by several renderer revisions; they are all stale.
GENERATOR_VERSION = 2
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


class StaleDatasetError(FileExistsError):
    """A folder holds a synthetic dataset that the current code would not write; the
    message names the folder and the mismatch."""


def _user_params(man: Dict) -> Dict:
    """The manifest's generation parameters, without the version (version-1 manifests
    kept ``generator_version`` among them)."""
    return {k: v for k, v in (man.get('params') or {}).items() if k != 'generator_version'}


def _manifest_version(man: Dict):
    return man.get('generator_version', (man.get('params') or {}).get('generator_version'))


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def content_hash(out_dir: str, man: Optional[Dict] = None) -> Optional[Tuple[str, int]]:
    """SHA-256 over every file a generated dataset consists of.

    The files are the split lists and every image / depth map they name (not the
    manifest). The digest is that of the text ``"<sha256 of file>  <relative path>\n"``
    per file in sorted path order (the ``sha256sum`` format), so it depends on the bytes
    and the names only, not on timestamps or the machine.

    Args:
        out_dir (str): Dataset root.
        man (dict, optional): Its manifest; None = read ``out_dir``'s.

    Returns:
        tuple[str, int] | None: ``(hex digest, number of files)``; None when there is no
        manifest, a split file is missing or a listed file is missing.
    """
    man = _read_manifest(out_dir) if man is None else man
    if not man:
        return None
    files = _listed_files(out_dir, man['params']['kind'], man['split_files'])
    if files is None:
        return None
    files = files + [osp.join(out_dir, n) for n in man['split_files']]
    if not all(osp.isfile(f) for f in files):
        return None
    lines = sorted(f'{osp.relpath(f, out_dir).replace(os.sep, "/")}' for f in files)
    h = hashlib.sha256()
    for rel in lines:
        h.update(f'{_sha256_file(osp.join(out_dir, rel))}  {rel}\n'.encode('utf-8'))
    return h.hexdigest(), len(lines)


def _spot_check(out_dir: str, man: Dict) -> Optional[str]:
    """Render the first two views of each split again in a temporary folder and compare.

    Returns:
        str | None: what differs (a file name or a split line), None when identical.
    """
    params = man['params']
    tmp = tempfile.mkdtemp(prefix='synthetic_check_')
    try:
        for split, name in zip(_SPLITS, man['split_files']):
            jobs = [j for j in _jobs(dict(params, out_dir=tmp))
                    if j['split'] == split and j['job'] == 0 and j['count'] > 0]
            if not jobs:
                continue
            # The first two views suffice: views are seeded one by one (SeedSequence
            # children do not depend on how many are spawned), and two keep KITTI's
            # "frame 0 of a multi-frame test drive has no GT" rule as on disk.
            _, _, lines = _run_job(dict(jobs[0], count=min(2, jobs[0]['count'])))
            with open(osp.join(out_dir, name), encoding='utf-8') as f:
                on_disk = f.read().splitlines()[:len(lines)]
            if on_disk != lines:
                return f'{name} lines 1-{len(lines)}'
        for dirpath, _, names in os.walk(tmp):
            for n in sorted(names):
                rel = osp.relpath(osp.join(dirpath, n), tmp)
                disk = osp.join(out_dir, rel)
                if not osp.isfile(disk) or _sha256_file(disk) != _sha256_file(
                        osp.join(dirpath, n)):
                    return rel.replace(os.sep, '/')
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def stale_reason(out_dir: str, params: Optional[Dict] = None,
                 spot_check: bool = True) -> Optional[str]:
    """Why ``out_dir`` is not what the current code would write (None: it is).

    Checks, in order: a manifest exists (and has these ``params`` when given), generation
    finished, the generator version is :data:`GENERATOR_VERSION`, a content hash is
    recorded, every listed file exists, the files hash to the recorded
    ``content_sha256``, and (``spot_check``) the first two views of every split render to
    the same bytes again.

    Args:
        out_dir (str): Dataset root.
        params (dict, optional): Expected generation parameters (as in the manifest's
            ``params``); None = accept the recorded ones.
        spot_check (bool): Re-render the first two views of each split. Defaults to True.

    Returns:
        str | None: a sentence naming the mismatch, or None when the folder can be reused.
    """
    man = _read_manifest(out_dir)
    if man is None:
        return f'it holds no {MANIFEST_NAME}'
    if params is not None and _user_params(man) != params:
        return f'it was generated with other parameters ({_user_params(man)})'
    if not man.get('complete'):
        return 'its generation did not finish ("complete": false in the manifest)'
    version = _manifest_version(man)
    if version != GENERATOR_VERSION:
        return (f'it was written by generator version {version}; this code writes version '
                f'{GENERATOR_VERSION}')
    recorded = man.get('content_sha256')
    if not recorded:
        return 'its manifest records no content_sha256'
    now = content_hash(out_dir, man)
    if now is None:
        return 'files listed by its split files are missing'
    if now[0] != recorded:
        return (f'its files changed after generation (content sha256 {now[0][:12]}, '
                f'recorded {recorded[:12]})')
    if spot_check:
        differs = _spot_check(out_dir, man)
        if differs is not None:
            return (f'this code renders {differs} differently from the file on disk (the '
                    'renderer or an image library changed without a generator version '
                    'bump)')
    return None


def read_fingerprint(out_dir: str, verify: bool = True) -> Optional[Dict]:
    """The fingerprint of a generated dataset, for run records and dataset classes.

    Args:
        out_dir (str): Dataset root.
        verify (bool): Hash the files again and report whether they still match the
            recorded ``content_sha256`` (``'verified'``); False = trust the manifest.
            Defaults to True.

    Returns:
        dict | None: ``source`` ('synthetic'), ``kind``, ``generator_version``,
        ``content_sha256`` (as recorded), ``num_files``, ``params``, ``complete`` and
        ``verified`` (True / False; None when not checked or nothing is recorded). None
        when ``out_dir`` holds no manifest.
    """
    try:
        man = _read_manifest(out_dir)
    except ValueError:
        return None
    if not man:
        return None
    recorded = man.get('content_sha256')
    verified = None
    if verify and recorded:
        now = content_hash(out_dir, man)
        verified = now is not None and now[0] == recorded
    return dict(source='synthetic', kind=(man.get('params') or {}).get('kind'),
                generator_version=_manifest_version(man), content_sha256=recorded,
                num_files=man.get('num_files'), params=_user_params(man),
                complete=bool(man.get('complete')), verified=verified)


def dataset_is_complete(out_dir: str, params: Optional[Dict] = None) -> bool:
    """Whether ``out_dir`` holds a complete dataset (with these ``params`` if given) that
    the current code would write (see :func:`stale_reason`; no spot check here)."""
    try:
        return stale_reason(out_dir, params, spot_check=False) is None
    except ValueError:
        return False


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
                     views_per_job: Optional[int] = None, gt_values: str = 'pixel',
                     regenerate_stale: bool = True) -> Dict:
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
        progress (bool): Show a progress bar (on stdout: tqdm on a terminal, one line per
            tenth otherwise). Defaults to True.
        num_workers (int): Worker processes (``<= 1`` = in this process). Defaults to 2.
        overwrite (bool): Replace a dataset with other parameters (or unknown files) in
            ``out_dir``. Defaults to False.
        views_per_job (int, optional): Views per NYU room / frames per KITTI drive;
            None = 4 (nyu) / 8 (kitti).
        gt_values (str): KITTI ground-truth values, ``'pixel'`` (exact pixel z-depth at
            LiDAR-hit pixels) or ``'lidar'`` (the hits' own depth); see :mod:`.lidar`.
            Defaults to 'pixel'.
        regenerate_stale (bool): When ``out_dir`` holds a dataset with these parameters
            that the current code would not write (older generator version, files changed
            or missing, a spot-checked file renders differently; see
            :func:`stale_reason`), regenerate it. False: raise
            :class:`StaleDatasetError` naming the folder and the mismatch instead.
            Defaults to True.

    Returns:
        dict: The manifest (parameters, generator version, content hash, intrinsics, split
        files, data prefixes, counts) plus ``'skipped'``: True when the folder already
        held what this call would write, ``'regenerated'``: the reason a stale folder
        was replaced (None otherwise).

    Raises:
        FileExistsError: ``out_dir`` holds a dataset with other parameters or unknown
            files, and ``overwrite`` is False.
        StaleDatasetError: ``out_dir`` holds a stale dataset and ``regenerate_stale`` is
            False.
    """
    if kind not in DATASET_DEFAULTS:
        raise ValueError(f"unknown kind {kind!r}; choose 'nyu' or 'kitti'")
    if gt_values not in ('pixel', 'lidar'):
        raise ValueError(f"gt_values must be 'pixel' or 'lidar', got {gt_values!r}")
    dflt = DATASET_DEFAULTS[kind]
    params = dict(kind=kind,
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
    manifest = dict(params=params, generator_version=GENERATOR_VERSION, complete=False,
                    split_files=list(dflt['splits']),
                    intrinsics=dict(fx=intr.fx, fy=intr.fy, cx=intr.cx, cy=intr.cy,
                                    height=intr.height, width=intr.width),
                    depth_scale=NYU_DEPTH_SCALE if kind == 'nyu' else KITTI_DEPTH_SCALE,
                    data_prefix=({s: dict(img_path=s, depth_map_path=s) for s in _SPLITS}
                                 if kind == 'nyu' else
                                 {s: dict(img_path='', depth_map_path='') for s in _SPLITS}))

    old = _read_manifest(out_dir)
    regenerated = None
    if old is not None and _user_params(old) == params:
        regenerated = stale_reason(out_dir, params)
        if regenerated is None:
            return dict(old, skipped=True, regenerated=None)
        if not regenerate_stale:
            raise StaleDatasetError(
                f'{out_dir} holds a synthetic dataset with these parameters that this code '
                f'would not write: {regenerated}. Regenerate it (drop --no-overwrite / '
                'pass regenerate_stale=True) or choose another output folder.')
        _remove_old(out_dir, old)
    elif old is not None:
        if not overwrite:
            raise FileExistsError(
                f'{out_dir} already holds a synthetic dataset with other parameters '
                f'({_user_params(old)}); pass overwrite=True (--overwrite) or choose '
                'another output folder')
        _remove_old(out_dir, old)
    elif os.listdir(out_dir) and not overwrite:
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
    if progress:  # a tqdm bar on a terminal, a line per tenth in logs
        from mmdepth_dgr.engine.hooks.progress_bar_hook import make_progress
        bar = make_progress(params['num_train'] + params['num_test'], f'generate {kind}',
                            unit='img')
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
    digest, num_files = content_hash(out_dir, manifest)
    manifest.update(complete=True, counts=counts, content_sha256=digest, num_files=num_files)
    dump(manifest)
    return dict(manifest, skipped=False, regenerated=regenerated)
