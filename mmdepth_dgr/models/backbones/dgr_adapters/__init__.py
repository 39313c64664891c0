"""DGR host adapters: how :class:`~mmdepth_dgr.models.backbones.DGRBackbone` runs each
host family with refinement points (see :mod:`.base` for the contract)."""
from .base import (DGR_HOST_ADAPTERS, DGRHostAdapter, RefineFn, find_dgr_adapter, refine_tokens,
                   supported_host_names)
from .mit import MixVisionTransformerAdapter
from .mscan import MSCANAdapter
from .resnet import ResNetAdapter
from .swin import SwinTransformerAdapter
from .timm_encoder import TIMMEncoderAdapter
from .vit import VisionTransformerAdapter

__all__ = ['DGR_HOST_ADAPTERS', 'DGRHostAdapter', 'RefineFn', 'find_dgr_adapter',
           'refine_tokens', 'supported_host_names', 'MixVisionTransformerAdapter',
           'MSCANAdapter', 'ResNetAdapter', 'SwinTransformerAdapter', 'TIMMEncoderAdapter',
           'VisionTransformerAdapter']
