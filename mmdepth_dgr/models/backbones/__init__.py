from .dgr_adapters import (DGR_HOST_ADAPTERS, DGRHostAdapter, find_dgr_adapter,
                           supported_host_names)
from .dgr_backbone import DGRBackbone
from .swin_pretrained import (SWIN_LAYOUTS, PretrainedSwinTransformer,
                              check_swin_coverage, convert_swin_state_dict,
                              swin_state_dict_layout)
from .timm_encoder import TIMMEncoder, timm_encoder_forward

__all__ = ['DGRBackbone', 'DGR_HOST_ADAPTERS', 'DGRHostAdapter', 'find_dgr_adapter',
           'supported_host_names', 'TIMMEncoder', 'timm_encoder_forward',
           'PretrainedSwinTransformer', 'convert_swin_state_dict',
           'swin_state_dict_layout', 'check_swin_coverage', 'SWIN_LAYOUTS']
