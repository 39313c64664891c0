from .mono_depth_estimator import FLIP_FUSIONS, MonoDepthEstimator, flip_tta, fuse_flip

__all__ = ['MonoDepthEstimator', 'flip_tta', 'fuse_flip', 'FLIP_FUSIONS']
