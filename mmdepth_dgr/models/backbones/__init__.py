from .cnn_vit_hybrid import CNNViTHybrid, vit_out_channels
from .dgr_adapters import DGR_HOST_ADAPTERS, DGRHostAdapter, find_dgr_adapter, supported_host_names
from .dgr_backbone import DGRBackbone
from .segformer_mit import SegFormerMiT
from .swin_pretrained import (SWIN_LAYOUTS, PretrainedSwinTransformer, check_swin_coverage,
                              convert_swin_state_dict, swin_state_dict_layout)
from .timm_encoder import TIMMEncoder, timm_encoder_forward
from .timm_resnetv2 import StdConv2dSameLegacy, TIMMResNetV2, legacy_standardized_weight
from .transunet_resnet import TransUNetBottleneck, TransUNetResNetV2, pad_to_stride
from .vit_no_pos_embed import VisionTransformerNoPos

__all__ = ['DGRBackbone', 'DGR_HOST_ADAPTERS', 'DGRHostAdapter', 'find_dgr_adapter',
           'supported_host_names', 'TIMMEncoder', 'timm_encoder_forward',
           'PretrainedSwinTransformer', 'convert_swin_state_dict',
           'swin_state_dict_layout', 'check_swin_coverage', 'SWIN_LAYOUTS',
           'CNNViTHybrid', 'vit_out_channels', 'SegFormerMiT', 'TIMMResNetV2',
           'StdConv2dSameLegacy', 'legacy_standardized_weight', 'TransUNetResNetV2',
           'TransUNetBottleneck', 'pad_to_stride', 'VisionTransformerNoPos']
