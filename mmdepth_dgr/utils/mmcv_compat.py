"""A narrow stand-in for ``mmcv._ext`` when only ``mmcv-lite`` is installed.

Why this exists: mmsegmentation 1.2.2 imports ``mmcv.ops`` at ``import mmseg.utils``,
and ``mmcv.ops`` loads the compiled extension ``mmcv._ext`` that the ``mmcv-lite`` wheel
does not ship. Monocular depth estimation uses none of the compiled ops (only PSA/CC
heads, focal loss, deformable convolution and similar need them), so rather than force
a 10-12 minute source build of full mmcv, we register a module object under
``mmcv._ext`` whose every attribute is a function that raises a clear error *when it is
called*. Importing works; calling a compiled op fails loudly, naming the op.

The stand-in is installed only when ``mmcv._ext`` is truly absent: with full mmcv
(``bash tools/setup_env.sh --full-mmcv``) the real extension is found and used.

The module carries a ``ModuleSpec`` with no loader: mmengine's registry scanner walks
``sys.modules`` and calls ``importlib.util.find_spec`` on entries, which fails on a module
whose ``__spec__`` is ``None``.
"""
import importlib.machinery
import importlib.util
import sys
import types

__all__ = ['ensure_mmcv_ext', 'has_compiled_mmcv', 'MissingMmcvOpError']

_STANDIN_FLAG = '__mmdepth_dgr_standin__'


class MissingMmcvOpError(RuntimeError):
    """Raised when a compiled mmcv op is called while only mmcv-lite is installed."""


def _make_missing_op(name: str):

    def _missing_op(*args, **kwargs):
        raise MissingMmcvOpError(
            f'mmcv compiled op "{name}" was called, but only mmcv-lite is '
            'installed (no mmcv._ext). Depth estimation in mmdepth_dgr does not '
            'need compiled ops; if your model does (e.g. deformable conv, PSA, '
            'CC attention, focal loss), install full mmcv with '
            '`bash tools/setup_env.sh --full-mmcv`.')

    _missing_op.__name__ = name
    return _missing_op


def _standin_getattr(name: str):
    if name.startswith('__') and name.endswith('__'):
        raise AttributeError(name)
    return _make_missing_op(name)


def has_compiled_mmcv() -> bool:
    """Whether the real compiled ``mmcv._ext`` is importable.

    Returns:
        bool: True when full mmcv (with compiled ops) is installed.
    """
    mod = sys.modules.get('mmcv._ext')
    if mod is not None:
        return not getattr(mod, _STANDIN_FLAG, False)
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def ensure_mmcv_ext() -> bool:
    """Make ``import mmcv.ops`` work, installing the stand-in only if needed.

    Returns:
        bool: True if the stand-in was installed (or already was), False when
        the real compiled extension is present.
    """
    if has_compiled_mmcv():
        return False
    if 'mmcv._ext' in sys.modules:
        return True
    import mmcv  # noqa: F401  (the parent package must exist first)
    module = types.ModuleType('mmcv._ext')
    module.__doc__ = 'mmdepth_dgr stand-in for the compiled mmcv extension.'
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    module.__getattr__ = _standin_getattr
    setattr(module, _STANDIN_FLAG, True)
    sys.modules['mmcv._ext'] = module
    mmcv._ext = module
    return True
