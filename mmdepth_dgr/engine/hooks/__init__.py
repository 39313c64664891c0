from .nonfinite_loss_hook import NonFiniteLossHook, find_nonfinite

__all__ = ['NonFiniteLossHook', 'find_nonfinite']
