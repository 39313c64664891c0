"""Shared machinery of the depth datasets: split-list parsing, folder scanning, checks.

The community depth codebases (BTS, NeWCRFs, PixelFormer, ...) describe a split as a text
file with one sample per line::

    <rgb path> <depth path | None> <focal in px> [ignored extra fields]

e.g. ``bathroom/rgb_00045.jpg bathroom/sync_depth_00045.png 518.8579`` (NYU) or
``2011_09_26/.../image_02/data/0000000069.png 2011_09_26_drive_0002_sync/proj_depth/
groundtruth/image_02/0000000069.png 721.5377`` (KITTI). Two official NYU train lists exist:
BTS/AdaBins' ``nyudepthv2_train_files_with_gt.txt`` (24,231 lines, with the focal) and
NeWCRFs/PixelFormer's ``nyudepthv2_train_files_with_gt_dense.txt`` (36,253 lines
``<rgb> <depth> <dense depth>``: no focal, a third *path* their loaders never read; they
hard-code NYU's focal). Both parse here (see :func:`parse_split_line`). This module parses
the format with line-accurate errors and hosts :class:`BaseDepthDataset`, the
:class:`mmengine.dataset.BaseDataset` subclass the NYU / KITTI / folder datasets share.

We subclass mmengine's ``BaseDataset`` rather than mmseg's ``BaseSegDataset``: the latter
carries class/palette/label-map machinery that has no meaning for depth. The packed
samples are still mmseg ``SegDataSample`` objects (see ``PackDepthInputs``).
"""
import logging
import math
import os
import os.path as osp
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger, print_log
from mmseg.registry import TRANSFORMS

__all__ = [
    'SplitEntry', 'SplitFileError', 'normalize_rel_path', 'parse_split_line',
    'read_split_file', 'scan_image_depth_pairs', 'scene_category', 'BaseDepthDataset'
]

#: Token used in the split lists for "no ground truth" (KITTI Eigen test list).
NO_GT_TOKEN = 'None'


class SplitFileError(ValueError):
    """A split list is malformed or empty; the message names the file (and line)."""


class SplitEntry(NamedTuple):
    """One parsed split-list line.

    Attributes:
        img_rel (str): RGB path relative to the image prefix.
        depth_rel (str | None): depth path relative to the depth prefix; ``None`` when
            the list says ``None`` (no ground truth for this frame).
        focal (float | None): focal length in pixels from the third field (or the
            dataset's ``default_focal`` when the line has only two fields).
        lineno (int): 1-based line number in the split file.
    """
    img_rel: str
    depth_rel: Optional[str]
    focal: Optional[float]
    lineno: int


def normalize_rel_path(path: str) -> str:
    """Make a split-list path relative to its prefix.

    BTS train lists write ``/kitchen_0028b/rgb_00045.jpg``; BTS's loader joins it as
    ``data_path + "./" + path`` so the leading slash is meaningless. ``osp.join`` would
    instead treat it as absolute and drop the prefix, hence we strip leading ``/`` and
    ``./``.

    Args:
        path (str): path as written in the list.

    Returns:
        str: the same path without leading ``/`` or ``./``.
    """
    while path.startswith('/') or path.startswith('./'):
        path = path[1:] if path.startswith('/') else path[2:]
    return path


#: Suffixes that mark a third split-list field as a file path (an extra column such as
#: the NeWCRFs/PixelFormer dense-depth path), not a focal length.
EXTRA_PATH_SUFFIXES = ('.png', '.jpg', '.jpeg', '.npy', '.h5', '.mat', '.tif', '.tiff')


def _is_path_field(field: str) -> bool:
    return osp.splitext(field)[1].lower() in EXTRA_PATH_SUFFIXES


def parse_split_line(line: str,
                     split_file: str,
                     lineno: int,
                     default_focal: Optional[float] = None) -> SplitEntry:
    """Parse one non-blank split-list line.

    A line without a focal uses ``default_focal``: a two-field line, or a line whose
    third field is a file path (a token with a data-file suffix such as ``.png``, see
    ``EXTRA_PATH_SUFFIXES``), as in the NeWCRFs/PixelFormer dense NYU list
    ``<rgb> <depth> <dense depth path>``, whose third column their loaders never read.
    Any other non-numeric third field is a malformed focal.

    Args:
        line (str): the line (no newline needed).
        split_file (str): path of the list, only used in error messages.
        lineno (int): 1-based line number, only used in error messages.
        default_focal (float, optional): focal used when the line has no focal field
            (two fields, or a path in the third). ``None`` (default) makes such a
            line an error.

    Returns:
        SplitEntry: the parsed entry. Fields after the focal (BTS's right-camera
        columns), or a path in the third field, are ignored.

    Raises:
        SplitFileError: too few fields, or a focal that is not a positive finite
            number; the message reads ``<split_file>:<lineno>: ...``.
    """
    where = f'{split_file}:{lineno}'
    fields = line.split()
    need = 2 if default_focal is not None else 3
    if len(fields) < need:
        raise SplitFileError(
            f'{where}: expected at least {need} whitespace-separated fields '
            f'"<rgb> <depth|None> <focal>", got {len(fields)}: {line.strip()!r}')
    if len(fields) >= 3 and not (default_focal is not None
                                 and _is_path_field(fields[2])):
        try:
            focal = float(fields[2])
        except ValueError:
            spaces = ' (paths containing spaces are not supported: the fields are ' \
                'separated by whitespace; rename the folders or files)' \
                if len(fields) > 3 else ''
            raise SplitFileError(
                f'{where}: focal (3rd field) must be a number, got {fields[2]!r}{spaces}'
            ) from None
        if not (math.isfinite(focal) and focal > 0):
            raise SplitFileError(
                f'{where}: focal (3rd field) must be positive and finite, got '
                f'{fields[2]!r}')
    else:
        focal = float(default_focal)
    depth_rel = None if fields[1] == NO_GT_TOKEN else normalize_rel_path(fields[1])
    return SplitEntry(normalize_rel_path(fields[0]), depth_rel, focal, lineno)


def read_split_file(split_file: str,
                    default_focal: Optional[float] = None,
                    backend_args: Optional[dict] = None) -> List[SplitEntry]:
    """Read and parse a whole split list.

    Blank lines (a trailing newline, or none: the NYU/KITTI test lists end without
    one) are not entries and are ignored; every other line must parse.

    Args:
        split_file (str): path of the list.
        default_focal (float, optional): see :func:`parse_split_line`.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[SplitEntry]: entries in file order.

    Raises:
        FileNotFoundError: the list does not exist (message names it).
        SplitFileError: a malformed line, or a list with no entries.
    """
    if not split_file:
        raise SplitFileError('split_file is empty: give the path of a split list')
    if not fileio.exists(split_file, backend_args=backend_args):
        raise FileNotFoundError(f'split file not found: {split_file}'
                                f'{_where_hint(split_file, backend_args)}')
    text = fileio.get_text(split_file, backend_args=backend_args)
    entries = [
        parse_split_line(line, split_file, i, default_focal)
        for i, line in enumerate(text.splitlines(), start=1) if line.strip()
    ]
    if not entries:
        raise SplitFileError(f'split file lists no samples: {split_file}')
    return entries


def _where_hint(path: str, backend_args: Optional[dict] = None) -> str:
    """How a missing local ``path`` was resolved, for error messages.

    Relative data roots and split files are resolved against the current directory,
    which is the usual surprise (a command run from another folder); ``--cfg-options``
    also removes spaces from values (mmengine's ``DictAction``), so a path with spaces
    given there arrives without them.

    Args:
        path (str): The path that was not found.
        backend_args (dict, optional): A non-local file backend gets no hint.

    Returns:
        str: ``' (absolute path ...; relative paths ... current directory ...; the
        deepest existing folder ...)'`` or ``''`` for remote paths.
    """
    if backend_args or re.match(r'^[A-Za-z][A-Za-z0-9+.-]*://', str(path)):
        return ''
    full = osp.abspath(path)
    parts = [f'absolute path {full}']
    if not osp.isabs(path):
        parts.append('relative paths (data_root, split_file) are resolved against the '
                     f'current directory {os.getcwd()}')
    existing = full
    while existing and not osp.isdir(existing) and osp.dirname(existing) != existing:
        existing = osp.dirname(existing)
    if existing != osp.dirname(full):
        parts.append(f'the deepest existing folder is {existing}')
    parts.append('paths with spaces are unsupported: --cfg-options removes spaces from '
                 'values (mmengine)')
    return ' (' + '; '.join(parts) + ')'


def _as_tuple(suffix: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    return (suffix, ) if isinstance(suffix, str) else tuple(suffix)


def scan_image_depth_pairs(
        img_dir: str,
        depth_dir: Optional[str],
        img_suffix: Union[str, Sequence[str]] = ('.jpg', '.jpeg', '.png'),
        depth_suffix: str = '.png',
        depth_name_replace: Sequence[Tuple[str, str]] = (),
        recursive: bool = True,
        backend_args: Optional[dict] = None) -> List[Tuple[str, Optional[str]]]:
    """List the images of a folder and the depth file that goes with each.

    The depth file of ``<img_dir>/<rel>/<stem><img_suffix>`` is
    ``<depth_dir>/<rel>/<stem'><depth_suffix>`` where ``stem'`` is ``stem`` after the
    ``(old, new)`` string replacements of ``depth_name_replace`` (e.g.
    ``(('rgb_', 'sync_depth_'),)`` for BTS-style NYU names). Pairing is by name only;
    existence of depth files is checked by the caller.

    Args:
        img_dir (str): image folder.
        depth_dir (str, optional): depth folder; ``None`` lists images only.
        img_suffix (str | Sequence[str]): image suffixes. Defaults to
            ``('.jpg', '.jpeg', '.png')``.
        depth_suffix (str): depth suffix. Defaults to ``'.png'``.
        depth_name_replace (Sequence[tuple[str, str]]): replacements on the stem.
            Defaults to ``()``.
        recursive (bool): scan sub-folders. Defaults to True.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[tuple[str, str | None]]: sorted ``(img_path, depth_path)`` pairs.

    Raises:
        FileNotFoundError: ``img_dir`` does not exist.
        ValueError: no image with the given suffixes under ``img_dir``.
    """
    if not fileio.isdir(img_dir, backend_args=backend_args):
        raise FileNotFoundError(f'image folder not found: {img_dir}'
                                f'{_where_hint(img_dir, backend_args)}')
    suffixes = _as_tuple(img_suffix)
    rels = sorted(
        fileio.list_dir_or_file(
            img_dir,
            list_dir=False,
            suffix=suffixes,
            recursive=recursive,
            backend_args=backend_args))
    if depth_dir is not None and osp.normpath(depth_dir) == osp.normpath(img_dir):
        # Same folder: a depth file may carry an image suffix (.png) too; keep only the
        # files that are not some image's depth counterpart.
        depth_names = {_depth_rel(r, suffixes, depth_suffix, depth_name_replace)
                       for r in rels}
        rels = [r for r in rels if r not in depth_names]
    if not rels:
        raise ValueError(f'no image with suffix {suffixes} found in {img_dir}')
    pairs = []
    for rel in rels:
        depth_path = None
        if depth_dir is not None:
            depth_path = osp.join(
                depth_dir, _depth_rel(rel, suffixes, depth_suffix, depth_name_replace))
        pairs.append((osp.join(img_dir, rel), depth_path))
    return pairs


def _depth_rel(rel: str, suffixes: Tuple[str, ...], depth_suffix: str,
               replace: Sequence[Tuple[str, str]]) -> str:
    stem = rel
    for s in suffixes:
        if rel.endswith(s):
            stem = rel[:-len(s)]
            break
    head, name = osp.split(stem)
    for old, new in replace:
        name = name.replace(old, new)
    return osp.join(head, name + depth_suffix)


class BaseDepthDataset(BaseDataset):
    """Base of the depth datasets: common arguments, data_info layout and checks.

    Each data_info holds ``img_path``, ``depth_map_path`` (``None`` when there is no
    ground truth), ``focal`` (px, float or ``None`` when unknown), ``depth_scale``
    (stored value / ``depth_scale`` = metres), ``seg_fields`` (empty list, filled by
    ``LoadDepthFromFile``) and, when meaningful, ``scene`` / ``category``.

    Subclasses implement :meth:`load_data_list`; they may call :meth:`_make_info` and
    :meth:`_load_split_entries`.

    Args:
        split_file (str): split list; relative paths are joined to ``data_root`` (like
            mmengine's ``ann_file``). Defaults to ``''``.
        data_root (str): dataset root. Defaults to ``''``.
        data_prefix (dict): ``img_path`` and ``depth_map_path`` folders, relative to
            ``data_root`` unless absolute; a ``None`` value means "absent". Defaults to
            ``dict(img_path='', depth_map_path='')``.
        depth_scale (float): stored depth value per metre. Defaults to 1.0.
        default_focal (float, optional): focal for two-field split lines / folders.
            Defaults to None.
        check_files (bool): check at init that every listed file exists (error names
            the first missing one and its split line). Defaults to False (the loading
            transforms check each file when they read it).
        backend_args (dict, optional): mmengine file backend arguments.
        **kwargs: forwarded to :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``serialize_data``, ``lazy_init``,
            ``metainfo``, ...).
    """

    METAINFO: dict = dict(dataset_name='depth')

    def __init__(self,
                 split_file: str = '',
                 data_root: str = '',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='', depth_map_path=''),
                 depth_scale: float = 1.0,
                 default_focal: Optional[float] = None,
                 check_files: bool = False,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if 'ann_file' in kwargs:
            raise TypeError(f'{type(self).__name__}: use split_file=..., not ann_file')
        if not (isinstance(depth_scale, (int, float)) and math.isfinite(depth_scale)
                and depth_scale > 0):
            raise ValueError(f'{type(self).__name__}: depth_scale must be a positive '
                             f'number, got {depth_scale!r}')
        self.depth_scale = float(depth_scale)
        self.default_focal = None if default_focal is None else float(default_focal)
        self.check_files = check_files
        self.backend_args = backend_args.copy() if backend_args else None
        prefix = dict(data_prefix)
        # mmengine requires string prefixes; ``None`` means "no such folder".
        self._absent_prefixes = {k for k, v in prefix.items() if v is None}
        prefix = {k: v for k, v in prefix.items() if v is not None}
        # Transform dicts are built through mmseg's TRANSFORMS registry: it honours a
        # default scope the caller has set (the Runner sets the config's, 'mmseg') and
        # falls back to mmseg's own registry when none is set (scripts, tests), where
        # mmengine's root registry would not see the mmseg/mmdepth_dgr transforms and
        # 'RandomFlip' must be mmseg's (it flips seg_fields, hence gt_depth_map; mmcv's
        # flips gt_seg_map only). No global scope is changed.
        if kwargs.get('pipeline'):
            kwargs['pipeline'] = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                                  for t in kwargs['pipeline']]
        super().__init__(
            ann_file=split_file, data_root=data_root, data_prefix=prefix, **kwargs)

    @property
    def split_file(self) -> str:
        """The split list path (joined to ``data_root``)."""
        return self.ann_file

    def _prefix(self, key: str) -> Optional[str]:
        if key in self._absent_prefixes:
            return None
        return self.data_prefix.get(key, '')

    def _make_info(self,
                   img_path: str,
                   depth_path: Optional[str],
                   focal: Optional[float],
                   **extra) -> dict:
        info = dict(
            img_path=img_path,
            depth_map_path=depth_path,
            focal=focal,
            depth_scale=self.depth_scale,
            seg_fields=[])
        info.update(extra)
        return info

    def _load_split_entries(self) -> List[SplitEntry]:
        return read_split_file(self.split_file, self.default_focal, self.backend_args)

    def _check_files_exist(self, data_list: List[dict]) -> None:
        """Raise ``FileNotFoundError`` naming the first missing image or depth file."""
        for info in data_list:
            for key in ('img_path', 'depth_map_path'):
                path = info.get(key)
                if path is not None and not fileio.exists(
                        path, backend_args=self.backend_args):
                    origin = info.get('split_line')
                    origin = f' (listed at {origin})' if origin else ''
                    raise FileNotFoundError(
                        f'{type(self).__name__}: {key} file not found: {path}{origin}')

    def filter_data(self) -> List[dict]:
        """No filtering beyond what ``load_data_list`` logged; runs the file checks."""
        if not self.data_list:
            where = self.split_file or self._prefix('img_path')
            raise ValueError(f'{type(self).__name__}: no samples loaded from {where}')
        if self.check_files:
            self._check_files_exist(self.data_list)
        return self.data_list

    def data_fingerprint(self, verify: bool = False) -> Optional[dict]:
        """The fingerprint of generated data under ``data_root`` (generator version,
        content hash, parameters; see
        :func:`mmdepth_dgr.datasets.synthetic.read_fingerprint`), or None for data the
        generator did not write.

        Args:
            verify (bool): Hash the files again (``'verified'`` in the result). Defaults
                to False.
        """
        from .synthetic.generate import read_fingerprint  # lazy: the generator is heavy
        return read_fingerprint(self.data_root, verify=verify) if self.data_root else None

    @staticmethod
    def _log(msg: str, level: str = 'INFO') -> None:
        print_log(msg, logger=MMLogger.get_current_instance(),
                  level=getattr(logging, level))


_SCENE_NUM_RE = re.compile(r'_\d+[a-z]?$')


def scene_category(scene: str) -> str:
    """NYU scene folder -> room category: ``'kitchen_0028b'`` -> ``'kitchen'``."""
    return _SCENE_NUM_RE.sub('', scene)
