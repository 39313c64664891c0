"""Registered evaluation metrics (``METRICS``)."""
from .depth_metric import DepthEvalMetric

__all__ = ['DepthEvalMetric']
