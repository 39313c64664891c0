"""Evaluation: the community depth protocol (crops, caps, metrics) and edge metrics."""
from . import functional, metrics
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403

__all__ = ['functional', 'metrics', *functional.__all__, *metrics.__all__]
