"""Depth datasets (registered in ``mmseg.registry.DATASETS``) and transforms."""
import importlib.util as _ilu

from .base import (BaseDepthDataset, SplitEntry, SplitFileError, parse_split_line, read_split_file,
                   scan_image_depth_pairs)
from .folder import DepthFolderDataset
from .kitti import KITTI_FOCALS, KITTIDepthDataset
from .nyu import NYU_FOCAL, NYUDepthDataset
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

if _ilu.find_spec(f'{__name__}.synthetic') is not None:
    from . import synthetic  # noqa: F401  (owned by another module; registers itself)

__all__ = [
    'BaseDepthDataset', 'SplitEntry', 'SplitFileError', 'parse_split_line',
    'read_split_file', 'scan_image_depth_pairs', 'NYUDepthDataset', 'NYU_FOCAL',
    'KITTIDepthDataset', 'KITTI_FOCALS', 'DepthFolderDataset'
] + list(_transforms_all)
