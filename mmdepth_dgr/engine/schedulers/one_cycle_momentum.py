"""The momentum half of the one-cycle policy (torch ``OneCycleLR(cycle_momentum=True)``)."""
from typing import Optional

from mmengine.optim.scheduler.momentum_scheduler import MomentumSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, OneCycleParamScheduler, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS

__all__ = ['OneCycleMomentum']


@PARAM_SCHEDULERS.register_module()
class OneCycleMomentum(MomentumSchedulerMixin, _ParamScheduler):
    """Cycle SGD momentum / Adam's ``beta1`` inversely to a one-cycle LR.

    torch's ``OneCycleLR(cycle_momentum=True)`` moves the momentum with the same
    phases as the LR, in the opposite direction: from ``max_momentum`` down to
    ``base_momentum`` while the LR rises (the first ``pct_start`` of ``total_steps``;
    the phase ends at step ``pct_start * total_steps - 1``, a float), then back up to
    ``max_momentum`` (at step ``total_steps - 1``), with the same annealing function
    (cosine: ``end + (start - end) / 2 * (1 + cos(pi * pct))``). With Adam-type
    optimisers the momentum is ``betas[0]`` (mmengine's ``MomentumSchedulerMixin``).

    Why hand-written: mmengine 0.10.7 has ``OneCycleLR`` but no momentum counterpart
    (its ``OneCycleParamScheduler`` accepts only ``param_name='lr'``). AdaBins
    (``train.py``) uses ``base_momentum=0.85, max_momentum=0.95`` on AdamW; pair this
    with :class:`~mmdepth_dgr.engine.schedulers.OneCycleOptimLR` (or mmengine's
    ``OneCycleLR``) with the same ``total_steps`` and ``pct_start``.

    Args:
        optimizer (Optimizer | OptimWrapper): the optimiser.
        base_momentum (float): lowest momentum (at the LR peak). Defaults to 0.85.
        max_momentum (float): highest momentum (at the start and end). Defaults to
            0.95.
        total_steps (int, optional): steps of the cycle; ``end - begin`` when None.
            Defaults to None.
        pct_start (float): fraction of the cycle spent lowering the momentum.
            Defaults to 0.3.
        anneal_strategy (str): ``'cos'`` or ``'linear'``. Defaults to ``'cos'``.
        three_phase (bool): torch's three-phase variant (down, up, then constant at
            ``max_momentum``). Defaults to False.
        begin (int): first step. Defaults to 0.
        end (int): last step (exclusive). Defaults to INF.
        last_step (int): last step index, for resuming. Defaults to -1.
        by_epoch (bool): step per epoch (True) or per iteration. Defaults to True.
        verbose (bool): print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 base_momentum: float = 0.85,
                 max_momentum: float = 0.95,
                 total_steps: Optional[int] = None,
                 pct_start: float = 0.3,
                 anneal_strategy: str = 'cos',
                 three_phase: bool = False,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False):
        total_steps = end - begin if total_steps is None else total_steps
        if not (isinstance(total_steps, int) and total_steps > 0):
            raise ValueError(f'OneCycleMomentum: total_steps must be a positive int, '
                             f'got {total_steps}')
        if not (isinstance(pct_start, float) and 0.0 <= pct_start <= 1.0):
            raise ValueError(f'OneCycleMomentum: pct_start must be a float in [0, 1], '
                             f'got {pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError(f"OneCycleMomentum: anneal_strategy must be 'cos' or "
                             f"'linear', got {anneal_strategy!r}")
        if not 0.0 <= base_momentum <= max_momentum:
            raise ValueError(f'OneCycleMomentum: need 0 <= base_momentum <= '
                             f'max_momentum, got {base_momentum}, {max_momentum}')
        self.total_steps = total_steps
        self.base_momentum = base_momentum
        self.max_momentum = max_momentum
        self.anneal_func = (OneCycleParamScheduler._annealing_cos
                            if anneal_strategy == 'cos' else
                            OneCycleParamScheduler._annealing_linear)
        peak = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(peak, max_momentum, base_momentum),
                            (float(2 * pct_start * total_steps) - 2, base_momentum,
                             max_momentum),
                            (total_steps - 1, max_momentum, max_momentum)]
        else:
            self._phases = [(peak, max_momentum, base_momentum),
                            (total_steps - 1, base_momentum, max_momentum)]
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, total_steps=None,
                              by_epoch=True, epoch_length=None, **kwargs):
        """Convert an epoch-based config to iterations (as mmengine's OneCycle)."""
        assert by_epoch and epoch_length, 'needs by_epoch=True and an epoch_length'
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        if total_steps is not None:
            total_steps = total_steps * epoch_length
        return cls(*args, begin=begin, end=end, total_steps=total_steps,
                   by_epoch=False, **kwargs)

    def _momentum_at(self, step: int) -> float:
        if step > self.total_steps:
            raise ValueError(f'OneCycleMomentum: stepped {step + 1} times, more than '
                             f'total_steps={self.total_steps}')
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(self._phases):
            if step <= end_step or i == len(self._phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                return self.anneal_func(start, end, pct)
            start_step = end_step
        raise AssertionError('unreachable')

    def _get_value(self):
        value = self._momentum_at(self.last_step)
        return [value for _ in self.optimizer.param_groups]
