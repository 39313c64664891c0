"""Shared start-up for tools/train.py and tools/test.py (not a registry module).

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` unconditionally
and its DDP wrapper passes ``device_ids=[rank]``; both fail on a CPU-only machine. When
CUDA is absent we initialise the gloo process group ourselves (the Runner then sees an
initialised group and skips its own ``init_dist``) and wrap the model with
``device_ids=None``. With CUDA, mmengine's own path (NCCL) is used unchanged.
"""
import os
import os.path as osp
import sys

import torch
import torch.distributed as dist

# Make ``import mmdepth_dgr`` work from a source checkout without installation.
_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def setup_launcher(cfg, launcher: str) -> None:
    """Prepare ``cfg`` for ``launcher`` ('none', 'pytorch', 'slurm', 'mpi')."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} without CUDA is not supported; use '
            'tools/dist_train.sh (torchrun, --launcher pytorch) for CPU runs.')
    if not dist.is_initialized():
        for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if key not in os.environ:
                raise RuntimeError(
                    f'--launcher pytorch needs the torchrun environment ({key} is '
                    'unset); start it with tools/dist_train.sh.')
        dist.init_process_group(backend='gloo')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<config file name without .py>``, mmseg's convention."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def load_config(config_path: str, cfg_options=None, launcher: str = 'none',
                work_dir=None):
    """Read a config, apply ``--cfg-options``, prepare the launcher, set the work dir.

    Shared by tools/train.py and tools/test.py.

    Returns:
        mmengine.Config: the prepared config.
    """
    from mmengine.config import Config
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'Config file not found: {config_path}')
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    setup_launcher(cfg, launcher)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config_path)
    return cfg


def teardown_launcher() -> None:
    """Destroy the process group so every rank exits cleanly."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
