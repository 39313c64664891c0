"""Stop training at the first non-finite loss, before a NaN checkpoint is written."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['NonFiniteLossHook', 'find_nonfinite']


def find_nonfinite(outputs: Optional[dict]) -> dict:
    """Entries of a Runner ``train_step`` output dict that are NaN or ±inf.

    Args:
        outputs (dict | None): ``{'loss': tensor, 'decode.loss_x': tensor, ...}``.

    Returns:
        dict: name → float value of every non-finite scalar entry.
    """
    bad = {}
    for name, value in (outputs or {}).items():
        if isinstance(value, torch.Tensor):
            if value.numel() == 1 and not torch.isfinite(value).all():
                bad[name] = float(value)
        elif isinstance(value, float) and not math.isfinite(value):
            bad[name] = value
    return bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` (naming the iteration and the loss terms) as soon
    as the training loss is NaN/inf, or the weights after the optimizer step are.

    It runs with priority ``ABOVE_NORMAL``, i.e. before ``CheckpointHook``
    (``VERY_LOW``) in ``after_train_iter``, so the checkpoint of a diverged
    iteration is never written and the last saved checkpoint stays finite.

    The loss of iteration k is computed *before* that iteration's update, so an update
    that turns the weights NaN/inf (e.g. a far too high learning rate) only shows in the
    loss of iteration k + 1 -- after the checkpoint of iteration k was saved with the
    broken weights. ``check_weights`` closes that gap: the parameters are checked after
    the update too (one fused reduction per check, negligible next to a training step).

    Args:
        check_every (int): Check every n iterations. Defaults to 1.
        check_weights (bool): Also check that every parameter is finite after the
            optimizer step. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_every: int = 1, check_weights: bool = True):
        if check_every < 1:
            raise ValueError(f'check_every must be >= 1, got {check_every}.')
        self.check_every = check_every
        self.check_weights = check_weights

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.check_every):
            return
        bad = find_nonfinite(outputs)
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise FloatingPointError(
                f'Non-finite loss at iteration {runner.iter + 1} '
                f'(epoch {runner.epoch}): {terms}. Training stopped before saving '
                'a checkpoint of this iteration; lower the learning rate, check '
                'the data (all-invalid GT?) or resume from the last checkpoint.')
        model = getattr(runner, 'model', None)
        if self.check_weights and model is not None:
            params = [p for p in model.parameters()]
            if params and not bool(torch.stack(
                    [torch.isfinite(p.detach()).all() for p in params]).all()):
                names = [n for n, p in model.named_parameters()
                         if not torch.isfinite(p.detach()).all()]
                raise FloatingPointError(
                    f'Non-finite weights after the update of iteration {runner.iter + 1} '
                    f'(epoch {runner.epoch}): {len(names)} of {len(params)} parameter '
                    f'tensors, e.g. {", ".join(names[:3])}. The loss of this iteration '
                    'was finite, so the optimizer step diverged (learning rate too high?). '
                    'Training stopped before saving a checkpoint of this iteration; '
                    'resume from the last checkpoint with a lower learning rate.')
