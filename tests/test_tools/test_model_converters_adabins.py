"""tools/model_converters/adabins2mmdepth.py on checkpoints in the exact layout the
official train script saves.

``train.py`` -> ``model_io.save_checkpoint`` saves ``{'model': model.state_dict(),
'optimizer': ..., 'epoch': ...}`` of a DistributedDataParallel / DataParallel model
(``module.`` prefix) or, trained on one ``--gpu``, of the bare model. The official layout
is made from a small project network with ``adabins_to_official``, whose agreement with
the official network itself is pinned by tests/test_official (fixture
tests/fixtures/official/adabins). Encoder here: EfficientNet-B0 (the converter maps the
encoder keys name for name, whatever the EfficientNet), decoder width 64, 8 queries.
"""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_official'))
from _official_equivalence import (fill_deterministic, load_converter,  # noqa: E402
                                   official_checkpoint)

CONFIG = 'configs/adabins/adabins_efficientnet-b5_4xb4-25k_nyu-416x544.py'
OPTIONS = {'model.backbone.pretrained': False,
           'model.backbone.model_name': 'tf_efficientnet_b0',
           'model.decode_head.in_channels': [16, 24, 40, 112, 1280],
           'model.decode_head.channels': 64, 'model.decode_head.n_query': 8}
LAYOUT = dict(prefix='module.', extra={'optimizer': 'optimizer', 'epoch': 'int'})


@pytest.fixture(scope='module')
def conv():
    return load_converter('adabins2mmdepth')


def _model(seed):
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.merge_from_dict(OPTIONS)
    model = MODELS.build(cfg.model)
    fill_deterministic(model, seed)
    return model


@pytest.fixture(scope='module')
def source():
    return _model(seed=1)


def _convert(conv, path, target):
    return conv.convert_checkpoint(str(path), target, lambda sd: conv.convert_adabins(sd)[0],
                                   conv.adabins_to_official, 'AdaBins',
                                   conv.rename_legacy_keys)


@pytest.mark.parametrize('prefix', ['module.', ''], ids=['data_parallel', 'single_gpu'])
def test_train_script_checkpoint_converts_and_loads_strictly(conv, source, prefix,
                                                             tmp_path):
    official = conv.adabins_to_official(source.state_dict())
    path = tmp_path / 'UnetAdaptiveBins_01-Dec_12-00-nodebs8-tep25-lr0.000357-wd0.1_best.pt'
    torch.save(official_checkpoint(official, LAYOUT, prefix=prefix), path)
    target = _model(seed=2)
    converted = _convert(conv, path, target)
    expected = source.state_dict()
    assert converted.keys() == expected.keys()
    assert all(torch.equal(target.state_dict()[k], v) for k, v in expected.items())
    # the only official keys left out are the unused encoder bn2
    _, dropped = conv.convert_adabins(official)
    assert dropped and all(k.startswith('encoder.original_model.bn2.') for k in dropped)


@pytest.mark.parametrize('key', ['decoder.up2._net.4.running_var',
                                 'encoder.original_model.bn2.weight'])
def test_converter_refuses_a_missing_key_naming_file_and_key(conv, source, key, tmp_path):
    official = conv.adabins_to_official(source.state_dict())
    del official[key]  # a used weight, and one the converter drops (must be there too)
    path = tmp_path / 'AdaBins_missing.pt'
    torch.save(official_checkpoint(official, LAYOUT), path)
    with pytest.raises(KeyError, match=rf'{path.name}.*missing keys.*{key}'):
        _convert(conv, path, _model(seed=2))


def test_converter_refuses_an_extra_key_naming_file_and_key(conv, source, tmp_path):
    official = conv.adabins_to_official(source.state_dict())
    official['adaptive_bins_layer.extra_head.weight'] = torch.zeros(2)
    path = tmp_path / 'AdaBins_extra.pt'
    torch.save(official_checkpoint(official, LAYOUT), path)
    with pytest.raises(KeyError, match=rf'{path.name}.*unexpected keys.*extra_head'):
        _convert(conv, path, _model(seed=2))


def test_older_official_key_names_convert_as_the_official_loader_renames_them(
        conv, source, tmp_path):
    official = conv.adabins_to_official(source.state_dict())
    legacy = {}
    for key, value in official.items():  # the names model_io.load_checkpoint renames
        key = key.replace('adaptive_bins_layer.conv3x3.',
                          'adaptive_bins_layer.embedding_conv.')
        key = key.replace('patch_transformer.embedding_convPxP',
                          'patch_transformer.embedding_encoder')
        legacy[key] = value
    assert legacy.keys() != official.keys()
    path = tmp_path / 'AdaBins_old_names.pt'
    torch.save(official_checkpoint(legacy, LAYOUT), path)
    target = _model(seed=2)
    _convert(conv, path, target)
    assert torch.equal(target.decode_head.mvit.conv3x3.weight,
                       source.decode_head.mvit.conv3x3.weight)


def test_unknown_key_raises_naming_it(conv):
    with pytest.raises(KeyError, match='decoder.not_a_layer.weight'):
        conv.convert_adabins({'decoder.not_a_layer.weight': torch.zeros(1)})


def test_cli_refuses_an_incomplete_checkpoint_naming_it(conv, source, tmp_path):
    official = conv.adabins_to_official(source.state_dict())
    del official['conv_out.0.bias']
    src, dst = tmp_path / 'AdaBins_nyu.pt', tmp_path / 'out.pth'
    torch.save(official_checkpoint(official, LAYOUT), src)
    options = [f'{k}={v}'.replace(' ', '') for k, v in OPTIONS.items()]
    script = osp.join(REPO, 'tools', 'model_converters', 'adabins2mmdepth.py')
    run = subprocess.run([sys.executable, script, str(src), str(dst), '--cfg-options',
                          *options], capture_output=True, text=True, cwd=REPO)
    assert run.returncode != 0
    assert str(src) in run.stderr and 'conv_out.0.bias' in run.stderr
    assert not dst.exists()
