from .mmcv_compat import MissingMmcvOpError, ensure_mmcv_ext, has_compiled_mmcv

# isort: split
from .checkpoint import (CheckpointHashError, CheckpointLoadError,  # noqa: E402
                         CheckpointMismatchError, LoadReport, allow_mmengine_checkpoint_globals,
                         checkpoint_loading, download_checkpoint, extract_state_dict,
                         hash_prefix_from_filename, load_checkpoint, load_state_dict_checked,
                         read_checkpoint, register_checkpoint_loaders, sha256_file,
                         verify_file_hash)
from .output_paths import (OutputCollisionError, OutputNames, distinct_stems,  # noqa: E402
                           output_relpath)

__all__ = ['ensure_mmcv_ext', 'has_compiled_mmcv', 'MissingMmcvOpError',
           'CheckpointHashError', 'CheckpointLoadError', 'CheckpointMismatchError',
           'LoadReport', 'allow_mmengine_checkpoint_globals', 'checkpoint_loading',
           'download_checkpoint', 'extract_state_dict', 'hash_prefix_from_filename',
           'load_checkpoint', 'load_state_dict_checked', 'read_checkpoint',
           'register_checkpoint_loaders', 'sha256_file', 'verify_file_hash',
           'OutputCollisionError', 'OutputNames', 'distinct_stems', 'output_relpath']
