from .dgr_adapters import (DGR_HOST_ADAPTERS, DGRHostAdapter, find_dgr_adapter,
                           supported_host_names)
from .dgr_backbone import DGRBackbone
from .timm_encoder import TIMMEncoder, timm_encoder_forward

__all__ = ['DGRBackbone', 'DGR_HOST_ADAPTERS', 'DGRHostAdapter', 'find_dgr_adapter',
           'supported_host_names', 'TIMMEncoder', 'timm_encoder_forward']
