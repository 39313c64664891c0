"""Swin pretrained weights in the Microsoft / timm layouts load into mmseg's Swin.

The strong check: a tiny timm ``swin_tiny_patch4_window7_224`` (random weights; timm
keeps the Microsoft key names, with the patch merging one stage later) is saved to a
file, loaded into :class:`PretrainedSwinTransformer` through ``init_cfg``, and both
encoders must give the same features on the same input.
"""
import re

import pytest
import timm
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmdepth_dgr.models.backbones import (DGRBackbone, PretrainedSwinTransformer,
                                          convert_swin_state_dict, swin_state_dict_layout)

DIMS, DEPTHS, HEADS = 32, (2, 2, 2, 2), (1, 2, 4, 8)
# 448 px: every stage (112, 56, 28, 14 tokens) is larger than the 7-token window. At
# 224 px the last stage is one 7x7 window, where the classification Swin (timm,
# Microsoft) switches the shift off and the segmentation Swin (mmseg, the hosts' copy)
# keeps it: an architecture difference, not a weight-loading one.
IMG = 448


def _timm_swin():
    torch.manual_seed(0)
    m = timm.create_model('swin_tiny_patch4_window7_224', pretrained=False, img_size=IMG,
                          embed_dim=DIMS, depths=DEPTHS, num_heads=HEADS, num_classes=0)
    with torch.no_grad():  # make every LayerNorm non-trivial, so a lost norm shows
        for mod in m.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m.eval()


def _timm_to_microsoft(sd):
    """timm >= 0.9 keeps Microsoft's names but merges patches at the start of stage i+1;
    move them back to the end of stage i (the original release's layout)."""
    out = {}
    for k, v in sd.items():
        m = re.match(r'^layers\.(\d+)\.downsample\.(.*)$', k)
        if m:
            k = f'layers.{int(m.group(1)) - 1}.downsample.{m.group(2)}'
        out[k] = v
    return out


def _mmseg_swin(checkpoint=None, **kw):
    cfg = dict(type='PretrainedSwinTransformer', pretrain_img_size=224, embed_dims=DIMS,
               depths=DEPTHS, num_heads=HEADS, window_size=7, drop_path_rate=0.0,
               out_indices=(0, 1, 2, 3), **kw)
    if checkpoint is not None:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint)
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()  # mmseg's Swin.train() returns None: do not chain
    return model


def _timm_features(m, x):
    feats = m.forward_intermediates(x, indices=4, norm=False, intermediates_only=True)
    # mmseg normalises each returned level with a fresh LayerNorm (weight 1, bias 0).
    return [F.layer_norm(f.permute(0, 2, 3, 1), (f.shape[1], )).permute(0, 3, 1, 2)
            for f in feats]


@pytest.mark.parametrize('layout', ['timm', 'microsoft'])
def test_swin_features_equal_timm_after_loading_its_weights(tmp_path, layout):
    ref = _timm_swin()
    sd = ref.state_dict()
    if layout == 'microsoft':
        sd = {'model': _timm_to_microsoft(sd)}  # the release wraps tensors in 'model'
    path = str(tmp_path / f'swin_{layout}.pth')
    torch.save(sd, path)
    ours = _mmseg_swin(path)
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():
        want, got = _timm_features(ref, x), ours(x)
    assert len(got) == 4
    for w, g in zip(want, got):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_plain_mmseg_swin_with_a_microsoft_file_does_not_reproduce_timm(tmp_path):
    # The problem this class solves: mmseg's loader "succeeds" with the wrong keys.
    ref = _timm_swin()
    path = str(tmp_path / 'ms.pth')
    torch.save({'model': _timm_to_microsoft(ref.state_dict())}, path)
    plain = MODELS.build(dict(type='SwinTransformer', pretrain_img_size=224,
                              embed_dims=DIMS, depths=DEPTHS, num_heads=HEADS,
                              window_size=7, drop_path_rate=0.0,
                              init_cfg=dict(type='Pretrained', checkpoint=path)))
    plain.init_weights()
    plain.eval()
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():
        diff = (plain(x)[0] - _timm_features(ref, x)[0]).abs().max()
    assert diff > 1e-2


def test_layout_detection():
    sd = _timm_swin().state_dict()
    assert swin_state_dict_layout(sd) == 'timm'
    assert swin_state_dict_layout(_timm_to_microsoft(sd)) == 'microsoft'
    assert swin_state_dict_layout(convert_swin_state_dict(sd)) == 'mmseg'
    assert swin_state_dict_layout({'conv1.weight': torch.zeros(1)}) is None


def test_mmseg_layout_file_loads_unchanged(tmp_path):
    src = _mmseg_swin(_save(tmp_path, {'model': _timm_to_microsoft(
        _timm_swin().state_dict())}))
    path = _save(tmp_path, {'state_dict': {f'backbone.{k}': v
                                           for k, v in src.state_dict().items()}}, 'mm')
    dst = _mmseg_swin(path)
    for k, v in src.state_dict().items():
        if not re.match(r'^norm\d', k):
            assert torch.equal(dst.state_dict()[k], v), k


def _save(tmp_path, obj, name='ckpt'):
    path = str(tmp_path / f'{name}.pth')
    torch.save(obj, path)
    return path


def test_foreign_checkpoint_fails_naming_the_file(tmp_path):
    path = _save(tmp_path, {'state_dict': {'conv1.weight': torch.zeros(8, 3, 7, 7),
                                           'fc.weight': torch.zeros(10, 8)}}, 'resnet')
    with pytest.raises(RuntimeError, match=r'resnet\.pth.*layout: None.*0/\d+ encoder'):
        _mmseg_swin(path)


def test_other_swin_variant_fails_with_shape_mismatch(tmp_path):
    big = timm.create_model('swin_tiny_patch4_window7_224', pretrained=False,
                            embed_dim=48, depths=DEPTHS, num_heads=(2, 4, 8, 16),
                            num_classes=0)
    path = _save(tmp_path, big.state_dict(), 'swin48')
    with pytest.raises(RuntimeError, match=r'swin48\.pth.*layout: timm.*another\s+shape'):
        _mmseg_swin(path)


def test_non_strict_option_only_warns(tmp_path):
    path = _save(tmp_path, {'conv1.weight': torch.zeros(8, 3, 7, 7)}, 'foreign')
    model = _mmseg_swin(path, strict_pretrained=False)
    assert isinstance(model, PretrainedSwinTransformer)


def test_dgr_backbone_wraps_it_as_a_swin_and_loads_through_it(tmp_path):
    ref = _timm_swin()
    path = _save(tmp_path, ref.state_dict(), 'timm')
    wrapper = MODELS.build(dict(
        type='DGRBackbone', host_type='PretrainedSwinTransformer', pretrain_img_size=224,
        embed_dims=DIMS, depths=DEPTHS, num_heads=HEADS, window_size=7,
        drop_path_rate=0.0, init_cfg=dict(type='Pretrained', checkpoint=path)))
    assert isinstance(wrapper, DGRBackbone) and wrapper.host_kind == 'SwinTransformer'
    wrapper.init_weights()
    wrapper.eval()
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():  # DGR is the identity at init: features equal timm's
        got, want = wrapper(x), _timm_features(ref, x)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)
