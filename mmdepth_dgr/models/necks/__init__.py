from .dgr_neck import DGRNeck

__all__ = ['DGRNeck']
