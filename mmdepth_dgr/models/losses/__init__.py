"""Depth losses: OTDL (Sec. 3.3), masked MSE (Eq. 17), SILog, Hu et al. (Eq. 18), and
AdaBins' bin chamfer loss."""
from .bins_chamfer import BinsChamferLoss, bins_chamfer_loss
from .hu_loss import HuDepthLoss, hu_depth_loss
from .mse import MaskedMSELoss, masked_mse_loss
from .otdl import (OTDLoss, entropic_ot_grid, otdl_loss, sinkhorn_grid_potentials,
                   sinkhorn_grid_symmetric)
from .silog import SILogDepthLoss, silog_depth_loss

__all__ = [
    'OTDLoss', 'otdl_loss', 'entropic_ot_grid', 'sinkhorn_grid_potentials',
    'sinkhorn_grid_symmetric',
    'MaskedMSELoss', 'masked_mse_loss', 'SILogDepthLoss', 'silog_depth_loss',
    'HuDepthLoss', 'hu_depth_loss', 'BinsChamferLoss', 'bins_chamfer_loss'
]
