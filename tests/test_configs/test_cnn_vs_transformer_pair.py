"""The CNN-vs-Transformer pair (Sec. 3.1): the two configs of each pair differ only in the
encoder, every leaf builds, the README's diff is the real one, and the quickstart pair
trains a few Runner iterations on generated data."""
import copy
import difflib
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmdepth_dgr.apis import disable_pretrained_weights

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDER = osp.join(REPO, 'configs', 'cnn_vs_transformer')
LEAVES = sorted(glob.glob(osp.join(FOLDER, '*.py')))
PAIRS = {
    'nyu': ('hu-pair_r50_4xb4-25k_nyu-416x544.py', 'hu-pair_mit-b2_4xb4-25k_nyu-416x544.py'),
    'kitti': ('hu-pair_r50_4xb4-25k_kitti-352x704.py',
              'hu-pair_mit-b2_4xb4-25k_kitti-352x704.py'),
    'quickstart': ('hu-pair_r18_1xb4-600iter_synnyu-240x320.py',
                   'hu-pair_mit-b0_1xb4-600iter_synnyu-240x320.py'),
}


def _without_encoder(cfg):
    d = copy.deepcopy(cfg.to_dict())
    d['model'].pop('backbone')
    d['model']['decode_head'].pop('in_channels')  # derived from the encoder's widths
    return d


@pytest.mark.parametrize('pair', sorted(PAIRS))
def test_pair_configs_differ_only_in_the_encoder(pair):
    cnn, vit = (Config.fromfile(osp.join(FOLDER, f)) for f in PAIRS[pair])
    assert cnn.model.backbone.type == 'ResNetV1c'
    assert vit.model.backbone.type == 'MixVisionTransformer'
    assert cnn.model.decode_head.in_channels != vit.model.decode_head.in_channels
    assert _without_encoder(cnn) == _without_encoder(vit)
    assert cnn.model.decode_head.type == 'HuDecoderHead'
    assert [loss.type for loss in cnn.model.decode_head.loss_decode] == ['HuDepthLoss']


@pytest.mark.parametrize('pair', ['nyu', 'quickstart'])  # kitti: the nyu encoders
def test_head_in_channels_are_the_encoders_level_widths(pair):
    for name in PAIRS[pair]:
        cfg = Config.fromfile(osp.join(FOLDER, name))
        backbone = MODELS.build(disable_pretrained_weights(copy.deepcopy(cfg.model)).backbone)
        with torch.no_grad():
            feats = backbone(torch.zeros(1, 3, 64, 64))
        assert [f.shape[1] for f in feats] == list(cfg.model.decode_head.in_channels), name
        assert [64 // f.shape[2] for f in feats] == [4, 8, 16, 32], name


@pytest.mark.parametrize('path', LEAVES, ids=[osp.basename(p) for p in LEAVES])
def test_every_leaf_config_builds_with_pretrained_off(path):
    cfg = Config.fromfile(path)
    assert cfg.model.data_preprocessor.seg_pad_val == 0
    max_depth = 80.0 if 'kitti' in path else 10.0
    assert cfg.model.decode_head.max_depth == cfg.val_evaluator.max_depth == max_depth
    model = MODELS.build(disable_pretrained_weights(copy.deepcopy(cfg.model))).eval()
    with torch.no_grad():
        depth = model._forward(torch.rand(1, 3, 64, 96) * 255)
    assert depth.shape == (1, 1, 32, 48)  # Hu's decoder predicts at 1/2 resolution


def test_readme_shows_the_real_config_diff():
    a, b = PAIRS['nyu']
    with open(osp.join(FOLDER, a)) as fa, open(osp.join(FOLDER, b)) as fb:
        diff = difflib.unified_diff(fa.read().splitlines(), fb.read().splitlines(),
                                    a, b, lineterm='', n=1)
    with open(osp.join(FOLDER, 'README.md')) as f:
        readme = f.read()
    assert '\n'.join(diff) in readme


# ----------------------------------------------------------------- a few Runner iterations
@pytest.fixture(scope='module')
def tiny_nyu_root(tmp_path_factory):
    """A tiny generated NYU-layout dataset (4 train / 1 test frames of 64x96)."""
    from mmdepth_dgr.datasets.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('syn_nyu_pair'))
    generate_dataset(root, kind='nyu', num_train=4, num_test=1, height=64, width=96,
                     progress=False, num_workers=1)
    return root


def _runner_cfg(config_path, work_dir, data_root, iters=2):
    cfg = Config.fromfile(config_path)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        if split == 'train':
            loader.batch_size = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False,
                                begin=0, end=iters)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=1000)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('leaf', PAIRS['quickstart'])
def test_quickstart_pair_trains_a_few_runner_iterations(leaf, tiny_nyu_root, tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_runner_cfg(osp.join(FOLDER, leaf), str(tmp_path),
                                         tiny_nyu_root))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    losses = runner.message_hub.get_scalar('train/decode.loss_hu').data[0]
    assert len(losses) == 2 and torch.isfinite(torch.as_tensor(losses)).all()
    after = runner.model.state_dict()
    for key in ('decode_head.depth_pred.weight', 'decode_head.bottleneck.conv.weight'):
        assert not torch.equal(before[key], after[key]), key
    assert any(k.startswith('val/') for k in runner.message_hub.log_scalars)
