"""Helpers shared by the decode-head tests: tiny model configs, fake batches, the DGR
state-dict check, leaf-config checks, the checks every host model's test file runs (loss,
flip prediction, DGR identity at init, leaf builds) and the "few Runner iterations"
config."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from tests.conftest import REPO_ROOT, tiny_runner_cfg

REPO = REPO_ROOT
SYNTHETIC_NYU = osp.join(REPO, 'configs/_base_/datasets/synthetic_nyu.py')


def level_feats(channels, strides=(4, 8, 16, 32), b=2, h=64, w=96):
    """Random multi-level features ``[B, C_i, H / s_i, W / s_i]``."""
    return [torch.randn(b, c, h // s, w // s) for c, s in zip(channels, strides)]


def tiny_model_cfg(config_path, **parts):
    """``config_path``'s model with each ``parts[name]`` dict merged into ``model[name]``
    (e.g. ``backbone=TINY_BACKBONE, decode_head=TINY_HEAD``)."""
    model = copy.deepcopy(Config.fromfile(config_path).model)
    for name, tiny in parts.items():
        model[name].update(tiny)
    return model


def depth_batch(b=2, h=64, w=96):
    """Float inputs and data samples whose GT depth is in (0.5, 9.5) with the first four
    rows invalid (0)."""
    inputs = torch.randn(b, 3, h, w)
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        gt = torch.rand(1, h, w) * 9 + 0.5
        gt[:, :4] = 0  # some invalid pixels
        s.gt_depth_map = PixelData(data=gt)
        samples.append(s)
    return inputs, samples


def uint8_batch(model, n, h, w, gt_fn):
    """Uint8 images + samples with ``gt_fn()`` depth, run through ``model``'s
    data preprocessor (training mode)."""
    imgs = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(gt_depth_map=PixelData(data=gt_fn()))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return model.data_preprocessor(dict(inputs=imgs, data_samples=samples), True)


def load_baseline_into_dgr(base, dgr):
    """Initialise both models, load ``base``'s weights strictly into the DGRBackbone
    variant ``dgr`` (DGRBackbone's load hook moves the host keys one level deeper and keeps
    its DGR blocks at their initialisation), and put both in eval mode."""
    base.init_weights()
    dgr.init_weights()
    assert type(dgr.backbone).__name__ == 'DGRBackbone'
    dgr.load_state_dict(base.state_dict(), strict=True)
    base.eval(), dgr.eval()


def check_leaf_config(cfg, path, head_type):
    """Check the head type, GT pad value, flip test and NYU/KITTI depth caps of a leaf
    config; return the expected ``max_depth``."""
    assert cfg.model.decode_head.type == head_type
    assert cfg.model.data_preprocessor.seg_pad_val == 0
    assert cfg.model.test_cfg.flip is True
    max_depth = 80.0 if 'kitti' in path else 10.0
    assert cfg.model.decode_head.max_depth == max_depth
    assert cfg.val_evaluator.max_depth == max_depth
    return max_depth


def check_loss_reaches_backbone(model_cfg, param_of):
    """Build ``model_cfg``; its loss on :func:`depth_batch` is exactly a finite
    ``decode.loss_silog`` whose backward reaches ``param_of(model)`` (a backbone weight)."""
    model = MODELS.build(model_cfg)
    losses = model.loss(*depth_batch())
    assert set(losses) == {'decode.loss_silog'}
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    g = param_of(model).grad
    assert g is not None and g.abs().sum() > 0


def check_flip_predict_in_range(model_cfg, min_depth=None, max_depth=None):
    """Build ``model_cfg`` (eval); flip TTA is on and ``predict`` returns a (1, 64, 96)
    depth map within [min_depth, max_depth] (default: the head's own caps)."""
    model = MODELS.build(model_cfg).eval()
    inputs, samples = depth_batch(1)
    with torch.no_grad():
        pred = model.predict(inputs, samples)[0].pred_depth_map.data
    assert model.test_cfg.flip is True
    assert pred.shape == (1, 64, 96)
    lo = model.decode_head.min_depth if min_depth is None else min_depth
    hi = model.decode_head.max_depth if max_depth is None else max_depth
    assert pred.min() >= lo and pred.max() <= hi


def check_dgr_equals_baseline(base_cfg, dgr_cfg):
    """Build both models, load the baseline's weights into the DGRBackbone variant
    (:func:`load_baseline_into_dgr`); at initialisation both compute the same deepest
    features and the same depth, bit for bit."""
    base, dgr = MODELS.build(base_cfg), MODELS.build(dgr_cfg)
    load_baseline_into_dgr(base, dgr)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(base.extract_feat(x)[-1], dgr.extract_feat(x)[-1])
        assert torch.equal(base._forward(x), dgr._forward(x))


def check_leaf_builds(path, head_type, model_cfg, out_shape=(1, 1, 64, 96)):
    """:func:`check_leaf_config` on the leaf at ``path``, then build ``model_cfg`` (its
    tiny version) and check ``_forward``'s output shape; return the model and the
    expected ``max_depth``."""
    max_depth = check_leaf_config(Config.fromfile(path), path, head_type)
    model = MODELS.build(model_cfg).eval()
    with torch.no_grad():
        assert model._forward(torch.randn(1, 3, 64, 96)).shape == out_shape
    return model, max_depth


def synthetic_runner_cfg(leaf, work_dir, data_root, model):
    """``leaf`` shrunk by :func:`tests.conftest.tiny_runner_cfg` to 3 iterations (one
    validation at the end, no checkpoint), with ``model`` and the synthetic-NYU loaders
    and evaluators on ``data_root``; PolyLR as in the leaves."""
    cfg = tiny_runner_cfg(leaf, str(work_dir), data_root, max_iters=3,
                          **{'default_hooks.checkpoint.interval': 1000})
    cfg.model = Config(dict(model=model)).model
    syn = Config.fromfile(SYNTHETIC_NYU)
    for split in ('train', 'val', 'test'):
        loader = copy.deepcopy(syn[f'{split}_dataloader'])
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        if split == 'train':
            loader.batch_size = 2
        cfg[f'{split}_dataloader'] = loader
    cfg.val_evaluator = cfg.test_evaluator = syn.val_evaluator
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False,
                                begin=0, end=3)]
    return cfg
