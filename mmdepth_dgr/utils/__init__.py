from .mmcv_compat import MissingMmcvOpError, ensure_mmcv_ext, has_compiled_mmcv
from .checkpoint import (CheckpointHashError, allow_mmengine_checkpoint_globals,  # noqa: E402,I001
                         download_checkpoint, hash_prefix_from_filename,
                         register_checkpoint_loaders, sha256_file, verify_file_hash)

__all__ = ['ensure_mmcv_ext', 'has_compiled_mmcv', 'MissingMmcvOpError',
           'CheckpointHashError', 'allow_mmengine_checkpoint_globals',
           'download_checkpoint', 'hash_prefix_from_filename',
           'register_checkpoint_loaders', 'sha256_file', 'verify_file_hash']
