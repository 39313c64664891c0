from .depth_base_head import DepthBaseHead, bounded_depth, stack_gt_depth
from .regression_head import DepthRegressionHead

__all__ = ['DepthBaseHead', 'DepthRegressionHead', 'bounded_depth', 'stack_gt_depth']
