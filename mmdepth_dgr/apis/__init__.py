"""User-facing inference API: :func:`init_model` and :func:`inference_model`."""
from .inference import (INFERENCE_DROPPED_TRANSFORMS, build_inference_pipeline,
                        disable_pretrained_weights, inference_model, init_model)

__all__ = [
    'init_model', 'inference_model', 'build_inference_pipeline',
    'disable_pretrained_weights', 'INFERENCE_DROPPED_TRANSFORMS'
]
