from .dgr_backbone import SUPPORTED_HOSTS, DGRBackbone
from .timm_encoder import TIMMEncoder, timm_encoder_forward

__all__ = ['DGRBackbone', 'SUPPORTED_HOSTS', 'TIMMEncoder', 'timm_encoder_forward']
