"""NYU-Depth-V2 dataset (BTS split lists, or mmseg's images/annotations layout)."""
import os.path as osp
from typing import Dict, List, Optional

from mmseg.registry import DATASETS

from .base import BaseDepthDataset, scan_image_depth_pairs, scene_category

__all__ = ['NYUDepthDataset', 'NYU_FOCAL']

#: fx of the NYU-Depth-V2 Kinect RGB camera (px); the value every BTS/NeWCRFs list uses.
NYU_FOCAL = 518.8579


@DATASETS.register_module()
class NYUDepthDataset(BaseDepthDataset):
    """NYU-Depth-V2 for monocular depth estimation.

    Two layouts:

    * ``layout='split_file'`` (default): a BTS split list, one sample per line
      ``scene/rgb_00045.jpg scene/sync_depth_00045.png 518.8579``. The BTS train list
      writes paths with a leading ``/`` (``/kitchen_0028b/rgb_00045.jpg``); it is
      stripped so the path stays relative to its prefix. The usual folders (BTS
      ``nyu_depth_v2``) are::

          data/nyu/
          ├── sync/<scene>/{rgb_*.jpg, sync_depth_*.png}           # train (24231)
          └── official_splits/test/<scene>/{rgb_*.jpg, sync_depth_*.png}   # test (654)

      train: ``data_prefix=dict(img_path='sync', depth_map_path='sync')``,
      ``split_file='nyudepthv2_train_files_with_gt.txt'``;
      test: ``data_prefix=dict(img_path='official_splits/test',
      depth_map_path='official_splits/test')``, ``split_file='nyudepthv2_test_files_with_gt.txt'``
      (654 lines).
    * ``layout='mmseg'``: mmseg's NYU converter output ``images/{train,test}/*.jpg``
      and ``annotations/{train,test}/*.png`` with the same file stem; use
      ``data_prefix=dict(img_path='images/test', depth_map_path='annotations/test')``.
      No focal is stored there: ``default_focal`` (518.8579) is used. A missing
      annotation for an image is an error, never a skip.

    Depth PNGs are uint16 millimetres: ``depth_scale=1000.0``; 0 is invalid.

    ``scene`` is the first path component (``kitchen_0028b``; for the test list the
    room type itself, ``bathroom``) or, for the mmseg layout, the file stem without its
    frame number; ``category`` is the scene without its ``_0028b`` suffix.

    The white border of NYU RGB frames is not removed here: use ``NYUBorderCrop`` in
    the train pipeline, and the Eigen crop in the metric for evaluation.

    Args:
        split_file (str): split list (``layout='split_file'``), relative to
            ``data_root`` unless absolute. Defaults to ``''``.
        data_root (str): dataset root. Defaults to ``''``.
        data_prefix (dict): image / depth folders. Defaults to
            ``dict(img_path='', depth_map_path='')``.
        layout (str): ``'split_file'`` or ``'mmseg'``. Defaults to ``'split_file'``.
        depth_scale (float): PNG value per metre. Defaults to 1000.0.
        default_focal (float): focal (px) for the mmseg layout and two-field lines.
            Defaults to 518.8579.
        img_suffix (str): image suffix for the mmseg layout. Defaults to ``'.jpg'``.
        depth_suffix (str): depth suffix for the mmseg layout. Defaults to ``'.png'``.
        check_files (bool): check every file exists at init. Defaults to False.
        **kwargs: see :class:`BaseDepthDataset` / mmengine ``BaseDataset``.
    """

    METAINFO = dict(
        dataset_name='nyu', min_depth=1e-3, max_depth=10.0, eval_crop='eigen')
    LAYOUTS = ('split_file', 'mmseg')

    def __init__(self,
                 split_file: str = '',
                 data_root: str = '',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='', depth_map_path=''),
                 layout: str = 'split_file',
                 depth_scale: float = 1000.0,
                 default_focal: float = NYU_FOCAL,
                 img_suffix: str = '.jpg',
                 depth_suffix: str = '.png',
                 check_files: bool = False,
                 **kwargs) -> None:
        if layout not in self.LAYOUTS:
            raise ValueError(f'NYUDepthDataset: layout must be one of {self.LAYOUTS}, '
                             f'got {layout!r}')
        if layout == 'split_file' and not split_file:
            raise ValueError("NYUDepthDataset: layout='split_file' needs split_file "
                             "(or use layout='mmseg' for images/annotations folders)")
        self.layout = layout
        self.img_suffix = img_suffix
        self.depth_suffix = depth_suffix
        super().__init__(
            split_file=split_file if layout == 'split_file' else '',
            data_root=data_root,
            data_prefix=data_prefix,
            depth_scale=depth_scale,
            default_focal=default_focal,
            check_files=check_files,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Build the data_info list from the split file or the mmseg folders."""
        if self.layout == 'mmseg':
            return self._load_mmseg_layout()
        img_dir = self._prefix('img_path')
        depth_dir = self._prefix('depth_map_path')
        data_list = []
        for e in self._load_split_entries():
            scene = e.img_rel.split('/')[0] if '/' in e.img_rel else ''
            depth_path = None
            if e.depth_rel is not None and depth_dir is not None:
                depth_path = osp.join(depth_dir, e.depth_rel)
            data_list.append(
                self._make_info(
                    osp.join(img_dir, e.img_rel),
                    depth_path,
                    e.focal,
                    scene=scene,
                    category=scene_category(scene),
                    split_line=f'{self.split_file}:{e.lineno}'))
        return data_list

    def _load_mmseg_layout(self) -> List[dict]:
        pairs = scan_image_depth_pairs(
            self._prefix('img_path'),
            self._prefix('depth_map_path'),
            img_suffix=self.img_suffix,
            depth_suffix=self.depth_suffix,
            backend_args=self.backend_args)
        data_list = []
        for img_path, depth_path in pairs:
            stem = osp.splitext(osp.basename(img_path))[0]
            scene = stem.rsplit('_', 1)[0] if '_' in stem else stem
            data_list.append(
                self._make_info(
                    img_path,
                    depth_path,
                    self.default_focal,
                    scene=scene,
                    category=scene_category(scene)))
        if self._prefix('depth_map_path') is not None:
            # Pairing is by name; a missing annotation must not be skipped silently.
            self._check_files_exist([dict(depth_map_path=d['depth_map_path'])
                                     for d in data_list])
        return data_list
