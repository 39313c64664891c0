from .one_cycle_momentum import OneCycleMomentum
from .one_cycle_optim_lr import OneCycleOptimLR
from .poly_ratio_lr import PolyRatioLR

__all__ = ['OneCycleMomentum', 'OneCycleOptimLR', 'PolyRatioLR']
