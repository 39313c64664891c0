"""Pure (numpy) evaluation functions: standard depth metrics, crops, edge metrics."""
from .depth_metrics import (DEPTH_METRIC_NAMES, SILOG_CONVENTIONS, DepthEvalFrame,
                            NoValidDepthError, compute_depth_metrics, depth_errors,
                            prepare_depth_eval, to_depth_map)
from .edge_metrics import (EDGE_METRIC_NAMES, depth_boundary_errors, detect_depth_edges,
                           edge_continuity_metrics, gradient_continuity_errors,
                           nearest_valid_indices)
from .eval_crops import (CROP_CONVENTIONS, EVAL_CROPS, NYU_EIGEN_BOX, NYU_FRAME_SHAPE,
                         check_crop_name, crop_box, crop_box_in_kb_frame, crop_mask)

__all__ = [
    'DEPTH_METRIC_NAMES', 'SILOG_CONVENTIONS', 'DepthEvalFrame', 'NoValidDepthError',
    'compute_depth_metrics', 'depth_errors', 'prepare_depth_eval', 'to_depth_map',
    'EDGE_METRIC_NAMES', 'depth_boundary_errors', 'detect_depth_edges',
    'edge_continuity_metrics', 'gradient_continuity_errors', 'nearest_valid_indices',
    'CROP_CONVENTIONS', 'EVAL_CROPS', 'NYU_EIGEN_BOX', 'NYU_FRAME_SHAPE', 'check_crop_name',
    'crop_box', 'crop_box_in_kb_frame', 'crop_mask'
]
