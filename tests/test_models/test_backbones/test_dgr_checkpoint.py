"""DGR onto a trained model: a checkpoint of the bare host (a baseline) loads strictly into
a DGRBackbone model through its load-state-dict pre-hook, and the model then computes the
baseline's function (the DGR blocks keep their identity initialisation)."""
import copy
import logging
import os.path as osp
import re
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import load_state_dict as mmengine_load_state_dict
from mmseg.registry import MODELS

from mmdepth_dgr.apis import init_model
from mmdepth_dgr.models.backbones import DGRBackbone
from tests.conftest import REPO_ROOT
from tests.test_models.test_backbones.test_dgr_backbone import HOSTS, SMALL_DGR, _equal

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'mit-b0_regression_1xb4-600iter_synnyu-240x320.py')
QUICKSTART_DGR = osp.join(REPO_ROOT, 'configs', 'dgr',
                          'mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320.py')
TINY_MIT = {'model.backbone.num_layers': [1, 2, 1, 1], 'model.backbone.embed_dims': 16,
            'model.decode_head.in_channels': [16, 32, 80, 128]}


class _Model(nn.Module):
    """backbone + a head reading its deepest map (keys 'backbone.*', 'head.*')."""

    def __init__(self, backbone: nn.Module, width: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        out = list(self.backbone(x))[-1]
        return self.head(out[0] if isinstance(out, (list, tuple)) else out)


def _randomised(module: nn.Module, seed: int = 1) -> nn.Module:
    """Every float tensor of ``module`` set to fresh random values (so that a load that
    misses or mixes up a tensor shows in the outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) * 0.2 + 0.9
                        if t.dim() == 1 else torch.randn(t.shape, generator=g) * 0.1)
    return module


def _pair(name, **dgr_kwargs):
    host = MODELS.build(copy.deepcopy(HOSTS[name]))
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS[name]), dgr=SMALL_DGR, **dgr_kwargs)
    width = wrapper.out_channels[-1]
    base = _randomised(_Model(host, width))
    dgr = _Model(wrapper, width)
    base.eval(), dgr.eval()
    return base, dgr


def _dgr_tensors(model):
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.startswith(('backbone.dgr.', 'backbone.shared_se.'))}


@pytest.mark.parametrize('loader', ['torch', 'mmengine'])
@pytest.mark.parametrize('name, kwargs', [
    ('mit', {}), ('swin', dict(share_se='stage')), ('vit_cls_out', {}),
    ('resnet18v1c', dict(placement='stage')), ('timm_mnv3', {})])
def test_baseline_checkpoint_loads_strictly_and_the_dgr_model_is_the_baseline(
        name, kwargs, loader):
    base, dgr = _pair(name, **kwargs)
    kept = _dgr_tensors(dgr)
    state = base.state_dict()
    keys_before = list(state)
    if loader == 'torch':
        result = dgr.load_state_dict(state, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
    else:
        mmengine_load_state_dict(dgr, state, strict=True)
    assert list(state) == keys_before  # the caller's dict is not modified
    loaded = dgr.state_dict()
    for k, v in base.state_dict().items():
        new = 'backbone.backbone.' + k[len('backbone.'):] if k.startswith('backbone.') else k
        assert torch.equal(loaded[new], v), k
    assert all(torch.equal(loaded[k], v) for k, v in kept.items())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(dgr(x), base(x))


def test_bare_host_state_dict_loads_into_the_wrapper_itself():
    host = _randomised(MODELS.build(copy.deepcopy(HOSTS['mit'])))
    wrapper = DGRBackbone(backbone=copy.deepcopy(HOSTS['mit']), dgr=SMALL_DGR)
    wrapper.load_state_dict(host.state_dict(), strict=True)
    host.eval(), wrapper.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _equal(wrapper(x), host(x))


def test_checkpoint_file_loads_strictly_with_mmengine_load_checkpoint(tmp_path):
    base, dgr = _pair('swin')
    path = str(tmp_path / 'baseline.pth')
    torch.save({'state_dict': base.state_dict(), 'meta': {}}, path)
    load_checkpoint(dgr, path, map_location='cpu', strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(dgr(x), base(x))


def test_one_info_line_counts_the_dgr_tensors_kept_at_initialisation():
    logger = MMLogger.get_instance(f'dgr-ckpt-{uuid.uuid4().hex}', log_level='INFO')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        base, dgr = _pair('swin', share_se='stage')
        expected = len(_dgr_tensors(dgr))  # DGR blocks + shared SE modules
        n_host = len(base.backbone.state_dict())
        dgr.load_state_dict(base.state_dict(), strict=True)
    finally:
        logger.removeHandler(handler)
    ours = [r for r in records if 'DGRBackbone' in r.getMessage()]
    assert len(ours) == 1 and ours[0].levelno == logging.INFO
    lines = [ours[0].getMessage()]
    assert f'{expected} DGR tensors absent from it kept at their initialisation' in lines[0]
    assert f'{n_host} host tensors moved under "backbone.backbone."' in lines[0]


def test_wrapper_layout_checkpoint_missing_a_dgr_tensor_still_fails_strict_loading():
    base, dgr = _pair('mit')
    state = dgr.state_dict()
    missing = next(k for k in state if k.startswith('backbone.dgr.'))
    del state[missing]
    with pytest.raises(RuntimeError, match=re.escape(missing)):
        dgr.load_state_dict(state, strict=True)
    # a stage-placement checkpoint does not load into a block-placement model either
    _, stage = _pair('mit', placement='stage')
    with pytest.raises(RuntimeError, match='backbone.dgr.0_0'):
        dgr.load_state_dict(stage.state_dict(), strict=True)


def test_foreign_keys_in_a_baseline_checkpoint_are_reported_under_their_own_name():
    base, dgr = _pair('mit')
    state = dict(base.state_dict())
    state['backbone.extra.weight'] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key.*"backbone\.extra\.weight"'):
        dgr.load_state_dict(state, strict=True)


def _tiny_quickstart(path):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(TINY_MIT)
    cfg.model.backbone.pop('init_cfg', None)
    return cfg


def test_init_model_puts_a_baseline_checkpoint_into_a_dgr_config(tmp_path):
    base_cfg = _tiny_quickstart(QUICKSTART)
    base = MODELS.build(base_cfg.model)
    base.init_weights()
    _randomised(base.backbone)
    path = str(tmp_path / 'baseline.pth')
    torch.save({'state_dict': base.state_dict(), 'meta': {}}, path)
    dgr = init_model(_tiny_quickstart(QUICKSTART_DGR), path)
    assert type(dgr.backbone).__name__ == 'DGRBackbone'
    assert dgr.backbone.placement == 'block' and len(dgr.backbone.dgr) == 5
    # strict, as test-time loading is by default
    load_checkpoint(dgr, path, map_location='cpu', strict=True)
    base.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(dgr._forward(x), base._forward(x))
