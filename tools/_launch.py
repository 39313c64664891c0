"""Shared start-up for tools/train.py, tools/test.py and tools/quickstart.py (not a
registry module).

Launcher: mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device``
unconditionally and its DDP wrapper passes ``device_ids=[rank]``; both fail on a CPU-only
machine. When CUDA is absent we initialise the gloo process group ourselves (the Runner
then sees an initialised group and skips its own ``init_dist``) and wrap the model with
``device_ids=None``. With CUDA, mmengine's own path (NCCL) is used unchanged.

Console (:func:`build_runner`, :func:`announce_run`): by default the console shows a short
run header (config, work dir, device, data fingerprint, schedule, commit), a progress bar
per phase (:class:`~mmdepth_dgr.engine.hooks.ProgressBarHook`), the metrics, and every
warning or error. Everything mmengine logs -- environment, the full config, the hook
table, the periodic log lines -- still goes to the log file in the work dir, and
``run_record.json`` beside it records the provenance
(:func:`mmdepth_dgr.utils.run_record.make_run_record`). ``--verbose`` shows mmengine's
console output unchanged instead of the bars.
"""
import json
import logging
import os
import os.path as osp
import sys
import warnings

import torch
import torch.distributed as dist

# Make ``import mmdepth_dgr`` work from a source checkout without installation.
_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

# mmengine's ``is_installed`` (resolving ``mmseg::`` config references) imports and then
# reloads ``pkg_resources``; setuptools 81 warns at each import that the API is deprecated.
# The pin keeps setuptools < 82 where it still exists (requirements/runtime.txt); the
# warning is about mmengine's code, not the user's run, so exactly that one is filtered.
warnings.filterwarnings('ignore', message=r'pkg_resources is deprecated as an API',
                        category=UserWarning)

#: mmengine-internal deprecation notices raised by mmengine's own hooks on every run
#: (nothing a user's config can change); kept out of the console, still in the log file.
_CONSOLE_NOISE = ('"FileClient" will be deprecated in future',
                  '"HardDiskBackend" is the alias of "LocalBackend"',
                  # DepthEvalMetric keeps unprefixed keys ('d1', 'abs_rel', ...) on purpose
                  'The prefix is not set in metric class')


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


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(msg.startswith(n) for n in _CONSOLE_NOISE)


def _quiet_console_runner_class(base):
    """A subclass of ``base`` whose console handler shows warnings and errors only."""

    class QuietConsoleRunner(base):
        """mmengine's Runner with the logger's console handler at WARNING; its log file
        keeps every INFO line (environment, config, hook table, iteration logs)."""

        def build_logger(self, log_level='INFO', log_file=None, **kwargs):
            logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:  # not the FileHandler
                    handler.setLevel(max(handler.level, logging.WARNING))
                    handler.addFilter(_DropNoise())
            return logger

    return QuietConsoleRunner


def build_runner(cfg, verbose: bool = False, show_metrics: bool = True):
    """Build the Runner for ``cfg`` with the console set up (see the module docstring).

    The class is the config's ``runner_type`` or, by default,
    :class:`~mmdepth_dgr.engine.DepthRunner` (strict, diagnosed checkpoint loading).

    Args:
        cfg (mmengine.Config): the prepared config.
        verbose (bool): mmengine's full console output, no progress bars. Defaults to
            False.
        show_metrics (bool): the progress hook prints each evaluation's metrics.
            Defaults to True.

    Returns:
        mmengine.runner.Runner
    """
    from mmdepth_dgr.engine import build_runner as build_depth_runner
    from mmdepth_dgr.engine import runner_class
    if verbose:
        return build_depth_runner(cfg)
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'ProgressBarHook' for h in hooks):
        hooks.append(dict(type='ProgressBarHook', show_metrics=show_metrics))
    cfg.custom_hooks = hooks
    # mmseg's SegVisualizationHook warns "The draw is False ..." whenever drawing is off
    # (the default; --show-dir turns it on): it says nothing about the run.
    warnings.filterwarnings('ignore', message=r'The draw is False', category=UserWarning)
    return _quiet_console_runner_class(runner_class(cfg)).from_cfg(cfg)


def _data_root(cfg, key: str):
    loader = cfg.get(key) or {}
    dataset = loader.get('dataset') or {}
    while isinstance(dataset, dict) and 'dataset' in dataset:  # wrappers
        dataset = dataset['dataset']
    return dataset.get('data_root') if isinstance(dataset, dict) else None


def _log_file(runner):
    for handler in runner.logger.handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return osp.join(runner.log_dir, f'{runner.timestamp}.log')


def _rel(path) -> str:
    """``path`` relative to the current directory, unless that climbs two levels up."""
    path = osp.normpath(str(path))
    rel = osp.relpath(path) if osp.isabs(path) else path
    return rel if not rel.startswith('..' + os.sep + '..') else path


def format_header(mode: str, config_path: str, runner, record: dict,
                  checkpoint=None) -> str:
    """The run header: config, work dir and log file, device, data fingerprint, schedule
    (train) or checkpoint (test), commit."""
    from mmengine.dist import get_world_size
    cfg = runner.cfg
    dev = record['device']
    world = get_world_size()
    device = (f'{dev["type"]}: {dev["name"]}' + (f' (x{dev["count"]})' if dev['count'] > 1
                                                 else '')
              + f', {dev["torch_threads"]} torch threads'
              + (f', {world} processes' if world > 1 else ''))
    data = record.get('data')
    root = record.get('data_root') or '(none)'
    if data:
        data_txt = (f'{root}: generated {data["kind"]}, generator v{data["generator_version"]}'
                    f', content sha256 {(data.get("content_sha256") or "none")[:12]}')
        if data.get('verified') is False:
            data_txt += ' -- FILES CHANGED SINCE GENERATION'
    else:
        data_txt = f'{root} (not generated data: no fingerprint)'
    git = record['git']
    commit = 'not a git checkout' if not git.get('commit') else (
        git['commit'][:12] + (' + uncommitted changes' if git.get('dirty') else ''))
    lines = [f'[{mode}] {config_path}',
             f'  work dir    {_rel(cfg.work_dir)} (full log: {_rel(_log_file(runner))})',
             f'  device      {device}',
             f'  data        {data_txt}']
    if mode == 'train':
        tc = cfg.get('train_cfg') or {}
        if tc.get('max_iters') is not None:
            sched = f'{tc["max_iters"]} iterations'
        else:
            sched = f'{tc.get("max_epochs")} epochs'
        batch = (cfg.get('train_dataloader') or {}).get('batch_size')
        sched += f', batch {batch}' + (' per process' if world > 1 else '')
        iters = tc.get('max_iters', tc.get('max_epochs'))
        if tc.get('val_interval') is not None:
            no_val = iters is not None and (tc['val_interval'] > iters
                                            or tc.get('val_begin', 1) > iters)
            sched += (', no validation during training' if no_val
                      else f', validation every {tc["val_interval"]}')
        ckpt = ((cfg.get('default_hooks') or {}).get('checkpoint') or {}).get('interval')
        if ckpt is not None:
            sched += f', checkpoint every {ckpt}'
        if cfg.get('resume'):
            sched += ', resuming' + (f' from {cfg.load_from}' if cfg.get('load_from')
                                     else ' from the last checkpoint in the work dir')
        lines.append(f'  schedule    {sched}')
    if checkpoint is not None:
        lines.append(f'  checkpoint  {checkpoint}')
    lines.append(f'  commit      {commit}')
    return '\n'.join(lines)


def announce_run(runner, mode: str, config_path: str, checkpoint=None) -> dict:
    """Print the run header and write ``run_record.json`` into the run's log dir (rank 0).

    Args:
        runner: the built Runner.
        mode (str): 'train' or 'test'.
        config_path (str): the config file as given.
        checkpoint (str, optional): the evaluated checkpoint (test).

    Returns:
        dict: the run record (:func:`mmdepth_dgr.utils.run_record.make_run_record`).
    """
    from mmengine.dist import is_main_process

    from mmdepth_dgr.utils.run_record import make_run_record
    key = 'train_dataloader' if mode == 'train' else 'test_dataloader'
    record = make_run_record(data_root=_data_root(runner.cfg, key), extra=dict(
        mode=mode, config=config_path, work_dir=runner.cfg.work_dir, checkpoint=checkpoint))
    if is_main_process():
        with open(osp.join(runner.log_dir, 'run_record.json'), 'w', encoding='utf-8') as f:
            json.dump(record, f, indent=1)
        print(format_header(mode, config_path, runner, record, checkpoint), flush=True)
    return record
