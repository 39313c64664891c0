"""One-cycle LR whose peak is the optimiser's (possibly auto-scaled) learning rate."""
from typing import Optional, Sequence, Union

from mmengine.optim.scheduler import OneCycleLR
from mmengine.optim.scheduler.param_scheduler import INF
from mmseg.registry import PARAM_SCHEDULERS

__all__ = ['OneCycleOptimLR']


@PARAM_SCHEDULERS.register_module()
class OneCycleOptimLR(OneCycleLR):
    """mmengine's ``OneCycleLR`` with ``eta_max`` defaulting to each group's LR.

    mmengine's ``OneCycleLR`` takes an absolute ``eta_max`` and overwrites the
    optimiser's LR with ``eta_max / div_factor``, so ``auto_scale_lr`` (which scales
    the optimiser's LR before the schedulers are built) would have no effect. With
    ``eta_max=None`` the peak is each group's current LR. Everything else is
    mmengine's (= ``torch.optim.lr_scheduler.OneCycleLR``): start ``peak /
    div_factor``, cosine rise over ``pct_start`` of ``total_steps``, cosine fall to
    ``start / final_div_factor``.

    AdaBins (``train.py``): ``OneCycleLR(optimizer, max_lr=3.57e-4, epochs, steps_per_
    epoch, div_factor=25, final_div_factor=100)`` with torch's defaults
    ``pct_start=0.3``, ``anneal_strategy='cos'``; a scalar ``max_lr`` gives every
    parameter group the same schedule.

    Args:
        optimizer (Optimizer | OptimWrapper): the optimiser.
        eta_max (float | Sequence[float], optional): peak LR(s); None takes each
            group's LR. Defaults to None.
        **kwargs: mmengine ``OneCycleLR`` arguments (``total_steps``, ``pct_start``,
            ``anneal_strategy``, ``div_factor``, ``final_div_factor``,
            ``three_phase``, ``begin``, ``end``, ``last_step``, ``by_epoch``,
            ``verbose``).
    """

    def __init__(self,
                 optimizer,
                 eta_max: Optional[Union[float, Sequence[float]]] = None,
                 begin: int = 0,
                 end: int = INF,
                 **kwargs):
        if eta_max is None:
            eta_max = [g['lr'] for g in optimizer.param_groups]
        super().__init__(optimizer, eta_max=eta_max, begin=begin, end=end, **kwargs)
