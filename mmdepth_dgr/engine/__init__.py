from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .runner import DepthRunner, build_runner

__all__ = [*_hooks_all, 'DepthRunner', 'build_runner']
