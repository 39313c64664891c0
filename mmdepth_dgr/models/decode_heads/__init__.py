from .adabins_head import AdaBinsHead, adabins_depth
from .adabins_layers import (AdaBinsMiniViT, AdaBinsUpBlock, bin_edges_and_centers,
                             normalize_bin_widths, range_attention_maps)
from .depth_base_head import DepthBaseHead, add_loss, bounded_depth, stack_gt_depth
from .depthformer_fusion import DepthFormerGlobalLocalFusion
from .depthformer_head import DepthFormerHead
from .depthformer_transbins import (DepthFormerTransbins, bin_centers_from_widths,
                                    depth_from_bins)
from .dpt_depth_head import DPT_DEPTH_ACTIVATIONS, DPTDepthHead, dpt_depth_output
from .hu_decoder_head import HuDecoderHead
from .hu_up_projection import HuUpProjection
from .newcrfs_head import NeWCRFsHead
from .pixelformer_head import PixelFormerHead
from .regression_head import DepthRegressionHead
from .swindepth_fusion import SwinDepthFusionAttention, scale_softmax_fuse
from .swindepth_head import SwinDepthHead
from .transdepth_agd import TransDepthAttentionGate, dynamic_local_filter
from .transdepth_head import TransDepthHead

__all__ = ['AdaBinsHead', 'adabins_depth', 'AdaBinsMiniViT', 'AdaBinsUpBlock', 'bin_edges_and_centers', 'normalize_bin_widths', 'range_attention_maps', 'DPTDepthHead', 'dpt_depth_output', 'DPT_DEPTH_ACTIVATIONS', 'DepthFormerGlobalLocalFusion', 'DepthFormerHead', 'DepthFormerTransbins', 'bin_centers_from_widths', 'depth_from_bins', 'HuDecoderHead', 'HuUpProjection', 'SwinDepthFusionAttention', 'scale_softmax_fuse', 'SwinDepthHead', 'TransDepthAttentionGate', 'dynamic_local_filter', 'TransDepthHead', 'DepthBaseHead', 'NeWCRFsHead', 'PixelFormerHead', 'DepthRegressionHead', 'bounded_depth', 'stack_gt_depth', 'add_loss']
