"""``DepthRunner``: mmengine's Runner with this project's checkpoint loading."""
from typing import Callable, Optional, Union

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from ..utils.checkpoint import (CheckpointLoadError, checkpoint_loading, extract_state_dict,
                                load_state_dict_checked, read_checkpoint)

__all__ = ['DepthRunner', 'build_runner', 'runner_class']


@RUNNERS.register_module()
class DepthRunner(Runner):
    """mmengine ``Runner`` whose checkpoint loading names the file and checks the fit.

    Differences from ``mmengine.runner.Runner`` (everything else is inherited):

    * ``train()``, ``val()`` and ``test()`` run inside
      :func:`~mmdepth_dgr.utils.checkpoint_loading`, so ``load_from=URL``,
      ``resume``, and ``init_cfg=dict(type='Pretrained', checkpoint=URL)`` use the
      hash-checked download and torch's weights-only loading with the allow-list of
      Runner checkpoint types (needed by ``resume`` under torch >= 2.6); nothing is
      changed outside those calls.
    * :meth:`load_checkpoint` reads with :func:`~mmdepth_dgr.utils.read_checkpoint`
      (empty, truncated, not a checkpoint, HTTP errors: an error naming the file) and
      loads through ``model.load_state_dict`` (the modules' state-dict hooks run), with
      missing / unexpected / shape-mismatched keys counted and named. ``load_from``
      stays non-strict as in mmengine (fine-tuning from another head is legitimate;
      the mismatch is logged as a warning naming the file).
    * :meth:`resume` is strict: a checkpoint of another model, or one without training
      state (``meta``, ``message_hub``), is an error naming the file.
    * ``load_from`` is strict in :meth:`val` and :meth:`test` (evaluating another
      model's checkpoint with random weights in place of the missing ones would give
      meaningless metrics); set ``cfg.strict_load_from = False`` to allow it.

    Select it with ``runner_type='DepthRunner'`` in a config built by
    ``RUNNERS.build(cfg)``, or :func:`build_runner` (what ``tools/train.py`` and
    ``tools/test.py`` use).
    """

    _resuming = False
    _evaluating = False

    def train(self):
        """``Runner.train`` inside :func:`checkpoint_loading`."""
        with checkpoint_loading():
            return super().train()

    def val(self) -> dict:
        """``Runner.val`` inside :func:`checkpoint_loading`, ``load_from`` strict."""
        return self._evaluate(super().val)

    def test(self) -> dict:
        """``Runner.test`` inside :func:`checkpoint_loading`, ``load_from`` strict."""
        return self._evaluate(super().test)

    def _evaluate(self, run):
        self._evaluating = bool(self.cfg.get('strict_load_from', True))
        try:
            with checkpoint_loading():
                return run()
        finally:
            self._evaluating = False

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """``Runner.resume`` with strict weight loading and a check for training state.

        Args:
            filename (str): Checkpoint path or URL.
            resume_optimizer (bool): Restore the optimizer. Defaults to True.
            resume_param_scheduler (bool): Restore the schedulers. Defaults to True.
            map_location (str | Callable): As ``Runner.resume``. Defaults to
                'default' (the current device).
        """
        self._resuming = True
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler,
                           map_location)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: Optional[list] = None) -> dict:
        """Load the weights of ``filename`` into the model.

        Args:
            filename (str): Local path, http(s) URL or another mmengine scheme.
            map_location (str | Callable): As ``torch.load``. Defaults to 'cpu'.
            strict (bool): Mismatching keys are an error (always during
                :meth:`resume`, and in :meth:`val` / :meth:`test`). Defaults to False
                (mmengine's default, for ``load_from`` before training).
            revise_keys (list, optional): ``(pattern, replacement)`` key rewrites.
                Defaults to stripping a DDP ``module.`` prefix.

        Returns:
            dict: The checkpoint.
        """
        if revise_keys is None:
            revise_keys = [(r'^module\.', '')]
        checkpoint = read_checkpoint(filename, map_location)
        state_dict = extract_state_dict(checkpoint, filename)
        if self._resuming:
            meta = checkpoint.get('meta') if state_dict is not checkpoint else None
            meta = meta if isinstance(meta, dict) else {}
            absent = [k for k, ok in (('meta.epoch', 'epoch' in meta),
                                      ('meta.iter', 'iter' in meta),
                                      ('message_hub', 'message_hub' in checkpoint))
                      if not ok]
            if absent:
                raise CheckpointLoadError(
                    f'cannot resume from checkpoint {filename}: it holds no training state '
                    f'({", ".join(absent)} missing), only weights. Resume needs a '
                    'checkpoint saved by a training run; to start a new run from these '
                    f'weights use --cfg-options load_from={filename} instead.')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_state_dict_checked(model, state_dict, filename,
                                strict=bool(strict or self._resuming or self._evaluating),
                                revise_keys=revise_keys, logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint if state_dict is not checkpoint else {'state_dict': checkpoint}


def runner_class(cfg) -> type:
    """The Runner class a config asks for: its ``runner_type`` (a registered name in
    ``mmseg.registry.RUNNERS`` or a class), else :class:`DepthRunner` (mmseg's tools use a
    plain ``Runner`` in that case). The one place the choice is made (used by
    :func:`build_runner` and by ``tools/_launch.py``).

    Args:
        cfg (mmengine.Config): The full config.

    Returns:
        type: A :class:`~mmengine.runner.Runner` subclass.

    Raises:
        KeyError: ``runner_type`` names no registered runner.
    """
    runner_type = cfg.get('runner_type')
    if runner_type is None:
        return DepthRunner
    if isinstance(runner_type, str):
        cls = RUNNERS.get(runner_type)
        if cls is None:
            raise KeyError(f'runner_type={runner_type!r} of the config is not a registered '
                           'runner (mmseg.registry.RUNNERS)')
        return cls
    return runner_type


def build_runner(cfg) -> Runner:
    """The runner of :func:`runner_class` built from the config (``from_cfg``).

    Args:
        cfg (mmengine.Config): The full config.

    Returns:
        Runner: The runner.
    """
    return runner_class(cfg).from_cfg(cfg)
