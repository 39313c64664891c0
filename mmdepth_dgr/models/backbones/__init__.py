from .cnn_vit_hybrid import CNNViTHybrid, vit_out_channels
from .dgr_backbone import SUPPORTED_HOSTS, DGRBackbone
from .segformer_mit import SegFormerMiT
from .timm_encoder import TIMMEncoder, timm_encoder_forward
from .timm_resnetv2 import StdConv2dSameLegacy, TIMMResNetV2, legacy_standardized_weight
from .transunet_resnet import TransUNetBottleneck, TransUNetResNetV2, pad_to_stride
from .vit_no_pos_embed import VisionTransformerNoPos

__all__ = ['DGRBackbone', 'SUPPORTED_HOSTS', 'TIMMEncoder', 'timm_encoder_forward',
           'CNNViTHybrid', 'vit_out_channels', 'SegFormerMiT', 'TIMMResNetV2',
           'StdConv2dSameLegacy', 'legacy_standardized_weight', 'TransUNetResNetV2',
           'TransUNetBottleneck', 'pad_to_stride', 'VisionTransformerNoPos']
