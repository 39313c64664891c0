"""Polynomial LR decay to a floor given as a ratio of each group's initial LR."""
from mmengine.optim.scheduler import PolyLR
from mmengine.optim.scheduler.param_scheduler import INF
from mmseg.registry import PARAM_SCHEDULERS

__all__ = ['PolyRatioLR']


@PARAM_SCHEDULERS.register_module()
class PolyRatioLR(PolyLR):
    """mmengine's ``PolyLR`` with ``eta_min = eta_min_ratio * initial_lr`` per group.

    ``lr_t = eta + (lr_0 - eta) * (1 - t / T) ** power`` with ``T = end - begin - 1``
    (mmengine's ``PolyLR`` convention: the floor is reached at step ``end - 1``) and
    ``eta = eta_min_ratio * lr_0``, ``lr_0`` the group's learning rate when the
    scheduler is built, i.e. after mmengine's ``auto_scale_lr`` has scaled it. Why not
    ``PolyLR``: its ``eta_min`` is absolute, so a rescaled LR would decay to the
    unscaled floor (NeWCRFs/PixelFormer decay to ``0.1 * lr``).

    The NeWCRFs/PixelFormer schedule (``train.py``: ``(lr - end) * (1 - step /
    total) ** 0.9 + end``, ``end = 0.1 * lr``, set before every optimiser step) is
    ``PolyRatioLR(eta_min_ratio=0.1, power=0.9, begin=0, end=total + 1,
    by_epoch=False)``.

    Args:
        optimizer (Optimizer | OptimWrapper): the optimiser.
        eta_min_ratio (float): floor as a fraction of each group's initial LR.
            Defaults to 0.0.
        power (float): polynomial power. Defaults to 1.0.
        begin (int): first step. Defaults to 0.
        end (int): step after which the LR stays at its last value. Defaults to INF.
        last_step (int): last step index, for resuming. Defaults to -1.
        by_epoch (bool): step per epoch (True) or per iteration. Defaults to True.
        verbose (bool): print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 eta_min_ratio: float = 0.0,
                 power: float = 1.0,
                 begin: int = 0,
                 end: int = INF,
                 last_step: int = -1,
                 by_epoch: bool = True,
                 verbose: bool = False):
        if not 0.0 <= eta_min_ratio <= 1.0:
            raise ValueError(f'PolyRatioLR: eta_min_ratio must be in [0, 1], got '
                             f'{eta_min_ratio}')
        self.eta_min_ratio = float(eta_min_ratio)
        super().__init__(optimizer, eta_min=0.0, power=power, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def _get_value(self):
        """Chainable form of ``PolyLR`` with a per-group floor."""
        groups = self.optimizer.param_groups
        if self.last_step == 0:
            return [g[self.param_name] for g in groups]
        factor = (1 - 1 / (self.total_iters - self.last_step + 1))**self.power
        values = []
        for g in groups:
            eta = self.eta_min_ratio * g[f'initial_{self.param_name}']
            values.append((g[self.param_name] - eta) * factor + eta)
        return values
