from .adabins_head import AdaBinsHead, adabins_depth
from .adabins_layers import (AdaBinsMiniViT, AdaBinsUpBlock, bin_edges_and_centers,
                             normalize_bin_widths, range_attention_maps)
from .depth_base_head import DepthBaseHead, add_loss, bounded_depth, stack_gt_depth
from .depthformer_head import DepthFormerHead, DepthFormerUpBlock
from .depthformer_transbins import DepthFormerTransbins, depth_from_bins
from .dpt_depth_head import DPT_DEPTH_ACTIVATIONS, DPTDepthHead, dpt_depth_output
from .dpt_layers import (DPT_READOUTS, DPTFusionBlock, DPTReadout, DPTReassembleLevel,
                         DPTResidualConvUnit)
from .hu_decoder_head import HuDecoderHead
from .hu_up_projection import HuUpProjection
from .newcrfs_head import NeWCRFsHead
from .pixelformer_head import PixelFormerHead
from .regression_head import DepthRegressionHead
from .swindepth_fusion import SwinDepthFusionAttention, scale_softmax_fuse
from .swindepth_head import SwinDepthHead
from .transdepth_agd import (AGD_GATES, TransDepthAGD, TransDepthAttentionGate,
                             dynamic_local_filter, structured_attention)
from .transdepth_bts import BTSDecoder, BTSReduction, local_planar_guidance, plane_from_params
from .transdepth_head import TransDepthHead

__all__ = [
    'AdaBinsHead', 'adabins_depth', 'AdaBinsMiniViT', 'AdaBinsUpBlock', 'bin_edges_and_centers',
    'normalize_bin_widths', 'range_attention_maps', 'DPTDepthHead', 'dpt_depth_output',
    'DPT_DEPTH_ACTIVATIONS', 'DPT_READOUTS', 'DPTFusionBlock', 'DPTReadout',
    'DPTReassembleLevel', 'DPTResidualConvUnit', 'DepthFormerHead', 'DepthFormerUpBlock',
    'DepthFormerTransbins', 'depth_from_bins', 'HuDecoderHead', 'HuUpProjection',
    'SwinDepthFusionAttention', 'scale_softmax_fuse', 'SwinDepthHead', 'AGD_GATES',
    'TransDepthAGD', 'TransDepthAttentionGate', 'dynamic_local_filter', 'structured_attention',
    'BTSDecoder', 'BTSReduction', 'local_planar_guidance', 'plane_from_params',
    'TransDepthHead', 'DepthBaseHead', 'NeWCRFsHead', 'PixelFormerHead', 'DepthRegressionHead',
    'bounded_depth', 'stack_gt_depth', 'add_loss'
]
