from .derivatives import (PADDING_MODES, THIRD_ORDER_OPERATORS, FixedDerivatives,
                          depthwise_fixed_conv, laplacian, laplacian_kernel, third_order,
                          third_order_kernels)
from .dgr import INTERACTIONS, DGRBlock, dgr_interaction, dgr_merge, pixel_outer_product

__all__ = [
    'PADDING_MODES', 'THIRD_ORDER_OPERATORS', 'FixedDerivatives', 'depthwise_fixed_conv',
    'laplacian', 'laplacian_kernel', 'third_order', 'third_order_kernels', 'INTERACTIONS',
    'DGRBlock', 'dgr_interaction', 'dgr_merge', 'pixel_outer_product'
]
