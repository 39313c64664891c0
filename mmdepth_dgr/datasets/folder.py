"""Depth dataset over plain folders: images only (inference) or image/depth pairs."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmseg.registry import DATASETS

from .base import BaseDepthDataset, scan_image_depth_pairs

__all__ = ['DepthFolderDataset']


@DATASETS.register_module()
class DepthFolderDataset(BaseDepthDataset):
    """Images of a folder, optionally paired with depth maps of a declared scale.

    (a) Inference: ``data_prefix=dict(img_path='imgs', depth_map_path=None)`` lists the
    images (``depth_map_path`` is ``None`` in every data_info; use a pipeline without
    ``LoadDepthFromFile``).

    (b) Evaluation: ``data_prefix=dict(img_path='rgb', depth_map_path='depth')`` with
    ``depth_scale`` (stored value per metre, e.g. 1000 for uint16 millimetres, 256 for
    KITTI, 5000 for TUM) pairs ``rgb/<rel>/<stem><img_suffix>`` with
    ``depth/<rel>/<stem'><depth_suffix>``, where ``stem'`` is ``stem`` after the
    ``depth_name_replace`` string replacements (``(('rgb_', 'sync_depth_'),)`` for
    BTS-named NYU frames). Every image must have its depth file: a missing one is an
    error naming it, never a skip. The two folders may be the same folder.

    Args:
        data_root (str): root joined to relative prefixes. Defaults to ``''``.
        data_prefix (dict): ``img_path`` folder and ``depth_map_path`` folder or
            ``None``. Defaults to ``dict(img_path='', depth_map_path=None)``.
        img_suffix (str | Sequence[str]): image suffixes. Defaults to
            ``('.jpg', '.jpeg', '.png')``.
        depth_suffix (str): depth suffix. Defaults to ``'.png'``.
        depth_name_replace (Sequence[tuple[str, str]]): stem replacements image ->
            depth. Defaults to ``()``.
        depth_scale (float, optional): stored value per metre; required when a depth
            folder is given. Defaults to None.
        focal (float, optional): focal (px) of every image, ``None`` when unknown.
            Defaults to None.
        recursive (bool): scan sub-folders. Defaults to True.
        check_files (bool): kept for symmetry; depth files are always checked here.
            Defaults to True.
        **kwargs: see :class:`BaseDepthDataset` / mmengine ``BaseDataset``.
    """

    METAINFO = dict(dataset_name='folder')

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Dict[str, Optional[str]] = dict(
                     img_path='', depth_map_path=None),
                 img_suffix: Union[str, Sequence[str]] = ('.jpg', '.jpeg', '.png'),
                 depth_suffix: str = '.png',
                 depth_name_replace: Sequence[Tuple[str, str]] = (),
                 depth_scale: Optional[float] = None,
                 focal: Optional[float] = None,
                 recursive: bool = True,
                 check_files: bool = True,
                 **kwargs) -> None:
        if 'split_file' in kwargs:
            raise TypeError('DepthFolderDataset scans folders; it takes no split_file '
                            '(use NYUDepthDataset/KITTIDepthDataset for split lists)')
        has_depth = data_prefix.get('depth_map_path') is not None
        if has_depth and depth_scale is None:
            raise ValueError('DepthFolderDataset: depth_scale is required when '
                             "data_prefix['depth_map_path'] is set (stored value per "
                             'metre, e.g. 1000.0 for millimetres)')
        self.img_suffix = img_suffix
        self.depth_suffix = depth_suffix
        self.depth_name_replace = tuple(tuple(r) for r in depth_name_replace)
        self.recursive = recursive
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            depth_scale=depth_scale if has_depth else 1.0,
            default_focal=focal,
            check_files=check_files,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Scan the folders into data_infos."""
        depth_dir = self._prefix('depth_map_path')
        pairs = scan_image_depth_pairs(
            self._prefix('img_path'),
            depth_dir,
            img_suffix=self.img_suffix,
            depth_suffix=self.depth_suffix,
            depth_name_replace=self.depth_name_replace,
            recursive=self.recursive,
            backend_args=self.backend_args)
        data_list = [
            self._make_info(img, depth, self.default_focal) for img, depth in pairs
        ]
        if depth_dir is None:
            for info in data_list:
                info.pop('depth_scale')  # no depth: the scale is meaningless
        return data_list
