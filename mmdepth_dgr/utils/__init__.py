from .mmcv_compat import MissingMmcvOpError, ensure_mmcv_ext, has_compiled_mmcv

__all__ = ['ensure_mmcv_ext', 'has_compiled_mmcv', 'MissingMmcvOpError']
