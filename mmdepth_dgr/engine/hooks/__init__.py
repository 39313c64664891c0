from .nonfinite_loss_hook import NonFiniteLossHook, find_nonfinite
from .progress_bar_hook import LineProgress, ProgressBarHook, format_metrics_table, make_progress
from .rng_state_hook import RNGStateHook, get_torch_rng_states, set_torch_rng_states

__all__ = ['NonFiniteLossHook', 'find_nonfinite', 'RNGStateHook',
           'get_torch_rng_states', 'set_torch_rng_states', 'ProgressBarHook',
           'LineProgress', 'make_progress', 'format_metrics_table']
