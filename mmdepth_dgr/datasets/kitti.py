"""KITTI depth dataset (Eigen split lists, or the official depth-prediction layout)."""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import mmengine.fileio as fileio
from mmseg.registry import DATASETS

from .base import BaseDepthDataset

__all__ = ['KITTIDepthDataset', 'KITTI_FOCALS', 'read_kitti_calib_focal']

#: fx (px) of the rectified colour cameras (``P_rect_02[0, 0]``, equal to
#: ``P_rect_03[0, 0]``) per recording date, as written in the BTS Eigen lists (checked
#: against ``kitti_eigen_test.txt``: every line of a date carries this value).
KITTI_FOCALS = {
    '2011_09_26': 721.5377,
    '2011_09_28': 707.0493,
    '2011_09_29': 718.3351,
    '2011_09_30': 707.0912,
    '2011_10_03': 718.856,
}

_DRIVE_RE = re.compile(r'^(\d{4}_\d{2}_\d{2})_drive_\d{4}_sync$')


def read_kitti_calib_focal(calib_path: str, camera: str = 'image_02') -> float:
    """Read fx of a rectified camera from a raw-KITTI ``calib_cam_to_cam.txt``.

    Args:
        calib_path (str): path of ``<date>/calib_cam_to_cam.txt``.
        camera (str): ``'image_02'`` or ``'image_03'``. Defaults to ``'image_02'``.

    Returns:
        float: ``P_rect_0X[0, 0]`` in pixels.

    Raises:
        ValueError: the file has no ``P_rect_0X`` line (message names file and key).
    """
    key = f'P_rect_{camera[-2:]}:'
    with open(calib_path) as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1])
    raise ValueError(f'{calib_path}: no {key} line')


@DATASETS.register_module()
class KITTIDepthDataset(BaseDepthDataset):
    """KITTI for monocular depth estimation (annotated ``proj_depth/groundtruth``).

    Two layouts:

    * ``layout='split_file'`` (default): an Eigen list (BTS format), one sample a line
      ``2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png
      2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000069.png
      721.5377``. The RGB path is relative to ``data_prefix['img_path']`` (the raw
      KITTI root with the date folders), the depth path to
      ``data_prefix['depth_map_path']`` (BTS: the annotated drives of
      ``data_depth_annotated/{train,val}`` merged in one folder). NeWCRFs/PixelFormer
      instead keep the GT under a date folder (``<gt>/2011_09_26/2011_09_26_drive_...``):
      set ``depth_date_subdir=True`` to prepend the RGB path's date folder.
      Extra fields after the focal (BTS's right-camera columns) are ignored.

      Lines whose GT is ``None`` (frames without annotated depth; 45 of the 697 lines
      of the standard Eigen test list) are dropped -- in training (nothing to learn
      from) and in test mode (nothing to evaluate: the standard list yields 652
      evaluable frames) -- and the count is logged once per dataset. Set
      ``keep_no_gt=True`` to keep them with ``depth_map_path=None`` (e.g. to predict
      on all 697 frames); a pipeline with ``LoadDepthFromFile`` then needs
      ``allow_missing_gt=True``.
    * ``layout='benchmark'``: the official depth-prediction layout, scanned. Set
      ``data_prefix=dict(img_path=<raw root>, depth_map_path='data_depth_annotated/val')``;
      every ``<drive>/proj_depth/groundtruth/<camera>/<frame>.png`` under the depth
      folder is paired with ``<raw root>/<date>/<drive>/<camera>/data/<frame>.png``
      (``date`` = the drive name's first 10 characters). Focal: ``P_rect_0X`` of
      ``<raw root>/<date>/calib_cam_to_cam.txt`` when that file exists, else
      :data:`KITTI_FOCALS`; an unknown date is an error.

    Depth PNGs are uint16 with metres = value / 256 (``depth_scale=256.0``); 0 is
    invalid. Images are about 375 x 1242 (the size varies a little per date); use
    ``KBCrop`` to get the 352 x 1216 benchmark crop.

    Args:
        split_file (str): split list (``layout='split_file'``). Defaults to ``''``.
        data_root (str): dataset root. Defaults to ``''``.
        data_prefix (dict): image / depth roots. Defaults to
            ``dict(img_path='', depth_map_path='')``.
        layout (str): ``'split_file'`` or ``'benchmark'``. Defaults to
            ``'split_file'``.
        depth_scale (float): PNG value per metre. Defaults to 256.0.
        depth_date_subdir (bool): prepend the date folder to split-list GT paths
            (NeWCRFs layout). Defaults to False.
        keep_no_gt (bool): keep ``None``-GT lines (``depth_map_path=None``). Defaults
            to False.
        cameras (Sequence[str]): cameras scanned in the benchmark layout. Defaults to
            ``('image_02',)``.
        check_files (bool): check every file exists at init. Defaults to False.
        **kwargs: see :class:`BaseDepthDataset` / mmengine ``BaseDataset``.
    """

    METAINFO = dict(
        dataset_name='kitti', min_depth=1e-3, max_depth=80.0, eval_crop='garg')
    LAYOUTS = ('split_file', 'benchmark')

    def __init__(self,
                 split_file: str = '',
                 data_root: str = '',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='', depth_map_path=''),
                 layout: str = 'split_file',
                 depth_scale: float = 256.0,
                 depth_date_subdir: bool = False,
                 keep_no_gt: bool = False,
                 cameras: Sequence[str] = ('image_02', ),
                 check_files: bool = False,
                 **kwargs) -> None:
        if layout not in self.LAYOUTS:
            raise ValueError(f'KITTIDepthDataset: layout must be one of '
                             f'{self.LAYOUTS}, got {layout!r}')
        if layout == 'split_file' and not split_file:
            raise ValueError("KITTIDepthDataset: layout='split_file' needs split_file "
                             "(or use layout='benchmark' to scan the official layout)")
        bad = [c for c in cameras if c not in ('image_02', 'image_03')]
        if bad:
            raise ValueError(f'KITTIDepthDataset: cameras must be image_02/image_03, '
                             f'got {bad}')
        self.layout = layout
        self.depth_date_subdir = depth_date_subdir
        self.keep_no_gt = keep_no_gt
        self.cameras = tuple(cameras)
        #: number of split lines dropped because their GT is ``None``.
        self.num_no_gt = 0
        super().__init__(
            split_file=split_file if layout == 'split_file' else '',
            data_root=data_root,
            data_prefix=data_prefix,
            depth_scale=depth_scale,
            check_files=check_files,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Build the data_info list (split list or benchmark scan)."""
        if self.layout == 'benchmark':
            return self._scan_benchmark()
        img_dir = self._prefix('img_path')
        depth_dir = self._prefix('depth_map_path')
        data_list, no_gt = [], 0
        entries = self._load_split_entries()
        for e in entries:
            parts = e.img_rel.split('/')
            date = parts[0] if len(parts) > 1 else ''
            drive = parts[1] if len(parts) > 2 else ''
            depth_path = None
            if e.depth_rel is None:
                no_gt += 1
                if not self.keep_no_gt:
                    continue
            elif depth_dir is not None:
                rel = osp.join(date, e.depth_rel) if self.depth_date_subdir \
                    else e.depth_rel
                depth_path = osp.join(depth_dir, rel)
            data_list.append(
                self._make_info(
                    osp.join(img_dir, e.img_rel),
                    depth_path,
                    e.focal,
                    scene=drive,
                    category=date,
                    split_line=f'{self.split_file}:{e.lineno}'))
        self.num_no_gt = no_gt
        if no_gt:
            what = 'kept with depth_map_path=None' if self.keep_no_gt else \
                'skipped (no ground truth to train on or evaluate)'
            self._log(f'KITTIDepthDataset: {no_gt} of {len(entries)} '
                      f'lines of {self.split_file} have GT "None": {what}; '
                      f'{len(data_list)} samples loaded')
        return data_list

    def _focal_for(self, img_root: str, date: str, camera: str) -> float:
        calib = osp.join(img_root, date, 'calib_cam_to_cam.txt')
        if osp.isfile(calib):
            return read_kitti_calib_focal(calib, camera)
        if date in KITTI_FOCALS:
            return KITTI_FOCALS[date]
        raise ValueError(f'KITTIDepthDataset: unknown focal for date {date!r}: '
                         f'{calib} not found and the date is not in KITTI_FOCALS')

    def _scan_benchmark(self) -> List[dict]:
        img_root = self._prefix('img_path')
        depth_root = self._prefix('depth_map_path')
        if depth_root is None or not osp.isdir(depth_root):
            raise FileNotFoundError(
                f'KITTIDepthDataset: benchmark depth folder not found: {depth_root}')
        data_list = []
        for drive in sorted(os.listdir(depth_root)):
            m = _DRIVE_RE.match(drive)
            if m is None:
                continue  # not a drive folder (e.g. a README); nothing to load there
            date = m.group(1)
            for cam in self.cameras:
                gt_dir = osp.join(depth_root, drive, 'proj_depth', 'groundtruth', cam)
                if not osp.isdir(gt_dir):
                    continue
                focal = self._focal_for(img_root, date, cam)
                for frame in sorted(
                        fileio.list_dir_or_file(gt_dir, list_dir=False, suffix='.png')):
                    data_list.append(
                        self._make_info(
                            osp.join(img_root, date, drive, cam, 'data', frame),
                            osp.join(gt_dir, frame),
                            focal,
                            scene=drive,
                            category=date))
        if not data_list:
            raise ValueError(
                'KITTIDepthDataset: no <drive>/proj_depth/groundtruth/'
                f'{{{",".join(self.cameras)}}}/*.png found under {depth_root}')
        return data_list
