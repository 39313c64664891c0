"""Depth losses: OTDL (Sec. 3.3), masked MSE (Eq. 17), SILog, Hu et al. (Eq. 18), and
AdaBins' bin chamfer loss, each a functional twin plus a :class:`BaseDepthLoss` module.

The optimal-transport solver OTDL uses lives in :mod:`mmdepth_dgr.ot`."""
from .base import BaseDepthLoss, depth_loss, reduce_depth_loss
from .bins_chamfer import BinsChamferLoss, bins_chamfer_loss
from .hu_loss import HuDepthLoss, hu_depth_loss
from .mse import MaskedMSELoss, masked_mse_loss
from .otdl import OTDLoss, check_otdl_options, otdl_loss
from .silog import SILogDepthLoss, silog_depth_loss
from .utils import check_depth_pair, depth_valid_mask

__all__ = [
    'BaseDepthLoss', 'depth_loss', 'reduce_depth_loss', 'check_depth_pair',
    'depth_valid_mask', 'OTDLoss', 'otdl_loss', 'check_otdl_options', 'MaskedMSELoss',
    'masked_mse_loss', 'SILogDepthLoss', 'silog_depth_loss', 'HuDepthLoss', 'hu_depth_loss',
    'BinsChamferLoss', 'bins_chamfer_loss'
]
