"""mmdepth_dgr: monocular depth estimation with Depth Gradient Refinement (DGR) and the
Optimal Transport Depth Loss (OTDL), as an OpenMMLab (mmengine/mmseg 1.x) plugin.

Importing the package (configs do it through ``custom_imports``) registers every dataset,
transform, model, loss, metric, hook, visualizer and the ``DepthRunner`` into mmseg's
registries (after installing the ``mmcv._ext`` stand-in when mmcv's compiled ops are
absent, see :mod:`mmdepth_dgr.utils.mmcv_compat`), and changes no other global state: the
hash-checked URL checkpoint loader and torch's allow-list for Runner checkpoints are
installed only inside :func:`mmdepth_dgr.utils.checkpoint_loading` (entered by the tools,
``init_model`` and ``DepthRunner``), and no default scope is set.
"""
# The compatibility stand-in must be installed before anything imports mmseg.
from .utils.mmcv_compat import ensure_mmcv_ext

ensure_mmcv_ext()

import mmcv  # noqa: E402
import mmengine  # noqa: E402
from mmengine.utils import digit_version  # noqa: E402

from .version import __version__, version_info  # noqa: E402

MMCV_MIN, MMCV_MAX = '2.0.0rc4', '2.2.0'
MMENGINE_MIN, MMENGINE_MAX = '0.7.0', '1.0.0'
MMSEG_MIN, MMSEG_MAX = '1.2.0', '1.3.0'


def _check_window(name: str, version: str, low: str, high: str) -> None:
    """Assert ``low <= version < high`` with an actionable message."""
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise AssertionError(
            f'{name}=={version} is used but incompatible with mmdepth_dgr '
            f'{__version__}: please install {name}>={low}, <{high} '
            '(see requirements/ and `bash tools/setup_env.sh`).')


_check_window('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check_window('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)

import mmseg  # noqa: E402

_check_window('mmsegmentation', mmseg.__version__, MMSEG_MIN, MMSEG_MAX)

from . import datasets, engine, evaluation, models, probe, visualization  # noqa: E402,F401

__all__ = ['__version__', 'version_info', 'datasets', 'engine', 'evaluation',
           'models', 'probe', 'visualization']
