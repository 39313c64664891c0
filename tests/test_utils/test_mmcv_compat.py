import sys

import pytest

from mmdepth_dgr.utils import MissingMmcvOpError, ensure_mmcv_ext, has_compiled_mmcv


def test_mmseg_imports_work_with_or_without_compiled_mmcv():
    import mmseg.models  # noqa: F401
    import mmseg.utils  # noqa: F401
    assert 'mmcv._ext' in sys.modules or has_compiled_mmcv()


def test_ensure_is_idempotent_and_reports_the_standin():
    first = ensure_mmcv_ext()
    second = ensure_mmcv_ext()
    assert first == second == (not has_compiled_mmcv())


@pytest.mark.skipif(has_compiled_mmcv(), reason='full mmcv installed: real ops')
def test_standin_op_raises_a_clear_error_when_called():
    import mmcv._ext as ext
    assert ext.__spec__ is not None and ext.__spec__.loader is None
    with pytest.raises(MissingMmcvOpError, match='nms.*mmcv-lite'):
        ext.nms(None)
    with pytest.raises(AttributeError):
        ext.__wrapped__  # dunder lookups must not be faked


def test_mmengine_registry_scan_survives_the_standin():
    from mmengine.registry import DefaultScope  # noqa: F401
    from mmseg.registry import MODELS
    assert MODELS.get('MixVisionTransformer') is not None
