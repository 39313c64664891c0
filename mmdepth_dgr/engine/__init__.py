from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .runner import DepthRunner, build_runner, runner_class
from .schedulers import *  # noqa: F401,F403
from .schedulers import __all__ as _schedulers_all

__all__ = [*_hooks_all, *_schedulers_all, 'DepthRunner', 'build_runner',
           'runner_class']
