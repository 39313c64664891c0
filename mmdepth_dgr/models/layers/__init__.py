from .derivatives import (LAPLACIAN_STENCILS, PADDING_MODES, THIRD_ORDER_OPERATORS,
                          FixedDerivatives, depthwise_fixed_conv, laplacian, laplacian_kernel,
                          shifted_stencil, stencil_taps, third_order, third_order_kernels)
from .dgr import (DGR_PRESETS, FROM_PRESET, INTERACTION_OPERANDS, INTERACTIONS, SPATIAL_WIDTHS,
                  THIRD_ORDER_READINGS, DGRBlock, dgr_interaction, dgr_merge, pixel_outer_product)

__all__ = [
    'LAPLACIAN_STENCILS', 'PADDING_MODES', 'THIRD_ORDER_OPERATORS', 'FixedDerivatives',
    'depthwise_fixed_conv', 'laplacian', 'laplacian_kernel', 'shifted_stencil',
    'stencil_taps', 'third_order', 'third_order_kernels', 'DGR_PRESETS', 'FROM_PRESET',
    'INTERACTION_OPERANDS', 'INTERACTIONS', 'SPATIAL_WIDTHS', 'THIRD_ORDER_READINGS',
    'DGRBlock', 'dgr_interaction', 'dgr_merge', 'pixel_outer_product'
]
