from .mono_depth_estimator import MonoDepthEstimator, flip_tta

__all__ = ['MonoDepthEstimator', 'flip_tta']
