"""init_model / inference_model on the quickstart model (random weights, tiny images)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmdepth_dgr.apis import (build_inference_pipeline, disable_pretrained_weights, inference_model,
                              init_model)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/quickstart/mit-b0_regression_1xb4-600iter_synnyu-240x320.py')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(CONFIG, None, device='cpu')


def _image(h, w, seed=0):
    rng = np.random.RandomState(seed)
    # smooth-ish content so that the model output varies across the image
    base = cv2.resize(rng.randint(0, 256, (8, 8, 3), dtype=np.uint8), (w, h))
    return base


def test_init_model_keeps_cfg_and_eval_mode(model):
    assert isinstance(model.cfg, Config)
    assert not model.training
    assert model.cfg.model.train_cfg is None


def test_odd_size_gives_depth_of_that_size_in_head_range(model):
    img = _image(250, 333)
    depth = inference_model(model, img)
    assert isinstance(depth, np.ndarray) and depth.dtype == np.float32
    assert depth.shape == (250, 333)
    head = model.decode_head
    assert np.isfinite(depth).all()
    assert depth.min() >= head.min_depth and depth.max() <= head.max_depth
    assert depth.std() > 0


def test_inference_matches_manual_normalise_pad_forward_unpad(model):
    """Independent re-derivation: BGR→RGB, (x−mean)/std, zero-pad right/bottom to the
    stride, network forward at the padded size, crop the top-left H×W."""
    h, w = 250, 333
    img = _image(h, w, seed=1)
    got = inference_model(model, img)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    x = (torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float() - mean) / std
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    x = F.pad(x[None], (0, pw - w, 0, ph - h), value=0)
    with torch.no_grad():
        d = model._forward(x)
    d = F.interpolate(d, size=(ph, pw), mode='bilinear', align_corners=False)
    expected = d[0, 0, :h, :w].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_list_in_list_out_and_path_equals_array(model, tmp_path):
    img = _image(64, 90, seed=2)
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, img)
    out = inference_model(model, [path, img, _image(40, 50)])
    assert isinstance(out, list) and len(out) == 3
    assert [o.shape for o in out] == [(64, 90), (64, 90), (40, 50)]
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


def test_flip_tta_is_mean_of_direct_and_unflipped_mirror_prediction(model):
    # a stride-multiple size: padding then sits on the same side for both passes
    img = _image(64, 96, seed=3)
    direct = inference_model(model, img)
    mirrored = inference_model(model, np.ascontiguousarray(img[:, ::-1]))
    tta = inference_model(model, img, flip=True)
    np.testing.assert_allclose(tta, 0.5 * (direct + mirrored[:, ::-1]), atol=1e-5)
    assert model.test_cfg.get('flip', False) is False  # switch restored


def test_return_datasamples_gives_pred_depth_map(model):
    sample = inference_model(model, _image(40, 50), return_datasamples=True)
    assert tuple(sample.pred_depth_map.data.shape) == (1, 40, 50)


def test_pipeline_drops_gt_loading_and_protocol_crops(tmp_path):
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile'),
        dict(type='KBCrop'), dict(type='PackDepthInputs')]))))
    img = _image(375, 1242)
    packed = build_inference_pipeline(cfg, from_array=True)(dict(img=img))
    assert tuple(packed['inputs'].shape) == (3, 375, 1242)
    path = str(tmp_path / 'k.png')
    cv2.imwrite(path, img)
    packed = build_inference_pipeline(cfg, from_array=False)(dict(img_path=path))
    assert tuple(packed['inputs'].shape) == (3, 375, 1242)
    assert 'gt_depth_map' not in packed['data_samples']


def test_bad_inputs_raise_errors_naming_them(model, tmp_path):
    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        inference_model(model, missing)
    with pytest.raises(ValueError, match='image 0'):
        inference_model(model, np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(FileNotFoundError, match='missing_cfg.py'):
        init_model(str(tmp_path / 'missing_cfg.py'))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(CONFIG, str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('img, error, match', [
    (np.zeros((10, 12, 3), np.float32), TypeError, 'dtype float32.*uint8.*input_scale=255'),
    (np.zeros((10, 12, 3), np.uint16), TypeError, 'dtype uint16.*input_scale=1/257'),
    (np.zeros((0, 0, 3), np.uint8), ValueError, 'empty'),
    (np.zeros((10, 12, 2), np.uint8), ValueError, r'\(10, 12, 2\)'),
    (np.zeros((10, 12, 4), np.uint8), ValueError, 'alpha'),
])
def test_arrays_other_than_uint8_bgr_are_refused_naming_what_was_given(model, img, error,
                                                                        match):
    with pytest.raises(error, match=match):
        inference_model(model, img)


def test_the_whole_list_is_checked_before_the_model_runs(model):
    with pytest.raises(TypeError, match='image 1 has dtype float64'):
        inference_model(model, [_image(32, 32), np.zeros((32, 32, 3))])


def test_input_scale_converts_float_and_16_bit_images_explicitly(model):
    img = _image(40, 50, seed=4)
    ref = inference_model(model, img)
    as_float = img.astype(np.float32) / 255.0
    np.testing.assert_allclose(inference_model(model, as_float, input_scale=255), ref,
                               atol=1e-5)
    as_u16 = img.astype(np.uint16) * 257
    np.testing.assert_allclose(inference_model(model, as_u16, input_scale=1 / 257), ref,
                               atol=1e-5)
    with pytest.raises(ValueError, match='outside 0..255'):
        inference_model(model, as_u16, input_scale=1.0)
    nan = as_float.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='non-finite'):
        inference_model(model, nan, input_scale=255)
    with pytest.raises(ValueError, match='already uint8'):
        inference_model(model, img, input_scale=255)


def test_grey_images_2d_and_single_channel_equal_the_bgr_repeat(model):
    grey = _image(40, 50, seed=5)[..., 0]
    ref = inference_model(model, np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_allclose(inference_model(model, grey), ref, atol=1e-6)
    np.testing.assert_allclose(inference_model(model, grey[..., None]), ref, atol=1e-6)


def _save_other_model_checkpoint(path):
    """A checkpoint of the quickstart model with a narrower head: the wrong model."""
    other = init_model(CONFIG, None, cfg_options={'model.decode_head.channels': 16})
    torch.save(dict(state_dict=other.state_dict(), meta=dict(iter=1)), path)
    return str(path)


def test_init_model_is_strict_by_default_and_names_the_file_and_keys(tmp_path):
    from mmdepth_dgr.utils import CheckpointMismatchError
    ckpt = _save_other_model_checkpoint(tmp_path / 'other.pth')
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(CONFIG, ckpt)
    msg = str(err.value)
    assert ckpt in msg and 'shape mismatches' in msg and 'decode_head.' in msg


def test_init_model_non_strict_loads_the_matching_weights(tmp_path):
    ckpt = _save_other_model_checkpoint(tmp_path / 'other.pth')
    saved = torch.load(ckpt, weights_only=True)['state_dict']
    model = init_model(CONFIG, ckpt, strict=False)
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            assert torch.equal(value, saved[key]), key


def test_init_model_names_a_truncated_checkpoint(tmp_path):
    from mmdepth_dgr.utils import CheckpointLoadError
    good = _save_other_model_checkpoint(tmp_path / 'good.pth')
    data = open(good, 'rb').read()
    bad = tmp_path / 'cut.pth'
    bad.write_bytes(data[:len(data) // 3])
    with pytest.raises(CheckpointLoadError, match='cut.pth is truncated'):
        init_model(CONFIG, str(bad))


def test_cfg_options_and_none_checkpoint(tmp_path):
    m = init_model(CONFIG, 'none', cfg_options={'model.decode_head.max_depth': 3.0})
    assert m.decode_head.max_depth == 3.0
    depth = inference_model(m, _image(33, 47))
    assert depth.shape == (33, 47) and depth.max() <= 3.0


def test_disable_pretrained_weights_reaches_nested_entries():
    cfg = dict(pretrained='x.pth', backbone=dict(
        host=dict(pretrained=True, init_cfg=dict(type='Pretrained', checkpoint='u')),
        init_cfg=[dict(type='Kaiming')]))
    disable_pretrained_weights(cfg)
    assert cfg['pretrained'] is None
    assert cfg['backbone']['host']['pretrained'] is False
    assert cfg['backbone']['host']['init_cfg'] is None
    assert cfg['backbone']['init_cfg'] == [dict(type='Kaiming')]


@pytest.mark.parametrize('name', ['mit-b0-dgr_regression_1xb4-600iter_synnyu-240x320',
                                  'mit-b0-dgrneck_regression_1xb4-600iter_synnyu-240x320'])
def test_readme_dgr_configs_predict_depth(name):
    """The README's "Add DGR to your model" configs, through the inference API."""
    path = osp.join(REPO, 'configs', 'dgr', f'{name}.py')
    assert osp.isfile(path), f'{path} is missing (a deleted config fails, never skips)'
    m = init_model(path)
    depth = inference_model(m, _image(40, 50))
    assert depth.shape == (40, 50) and np.isfinite(depth).all()
