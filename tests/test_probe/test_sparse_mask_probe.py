"""SparseMaskProbe / MaskNet (Yao et al., BMVC 2024, Sec. 3.1, Eq. 4; Hu et al., ICCV 2019):
N frozen and bit-identical after training G, G in (0, 1), lambda lowers the density, the two
masking spaces, binarisation and the Eq. 4 terms."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmdepth_dgr.models.losses import HuDepthLoss
from mmdepth_dgr.probe import (MaskNet, SparseMaskProbe, apply_mask, binarize_mask,
                               image_region_mask, sparse_mask_loss)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAIR_MIT = osp.join(REPO, 'configs/cnn_vs_transformer',
                    'hu-pair_mit-b0_1xb4-600iter_synnyu-240x320.py')
PROBE_CFG = osp.join(REPO, 'configs/probe/sparse-mask-probe_masknet_1xb4-100iter_synnyu-240x320.py')

TINY_MIT = f"""_base_ = [{PAIR_MIT!r}]
model = dict(
    backbone=dict(embed_dims=8, num_layers=[1, 1, 1, 1], drop_path_rate=0.0),
    decode_head=dict(in_channels=[8, 16, 40, 64], channels=32, mff_pre_reduce=4,
                     mff_channels=4, refine_channels=8))
"""


@pytest.fixture(scope='module')
def tiny_mit_config(tmp_path_factory):
    path = tmp_path_factory.mktemp('probe_cfg') / 'tiny_mit.py'
    path.write_text(TINY_MIT)
    return str(path)


def _probe(config, **kw):
    kw.setdefault('mask_net', dict(type='MaskNet', widths=(4, 8)))
    return MODELS.build(dict(type='SparseMaskProbe', depth_net=dict(config=config), **kw))


def _samples(n, img_shape, pad_shape):
    return [SegDataSample(metainfo=dict(img_shape=img_shape, pad_shape=pad_shape))
            for _ in range(n)]


def test_mask_net_output_is_one_channel_in_open_unit_interval_at_input_size():
    net = MaskNet(widths=(4, 8, 16), init_bias=0.0)
    torch.nn.init.normal_(net.logit.weight, std=1.0)  # a non-constant mask
    m = net(torch.randn(2, 3, 37, 53) * 3)
    assert m.shape == (2, 1, 37, 53)
    assert (m > 0).all() and (m < 1).all()
    assert m.std() > 0


def test_mask_net_starts_as_the_constant_sigmoid_of_init_bias():
    net = MaskNet(widths=(4, 8), init_bias=2.0)
    net.init_weights()
    m = net(torch.randn(1, 3, 16, 24))
    assert torch.allclose(m, torch.full_like(m, 1 / (1 + torch.exp(torch.tensor(-2.0)))))


def test_depth_net_is_frozen_in_eval_mode_and_gets_no_gradient(tiny_mit_config):
    probe = _probe(tiny_mit_config)
    probe.train()
    assert probe.mask_net.training
    assert not probe.depth_net.training
    assert not any(m.training for m in probe.depth_net.modules())
    assert not any(p.requires_grad for p in probe.depth_net.parameters())
    losses = probe.loss(torch.randn(2, 3, 64, 96), _samples(2, (60, 90), (64, 96)))
    assert set(losses) == {'loss_dif', 'loss_sparse', 'density', 'density_bin'}
    (losses['loss_dif'] + losses['loss_sparse']).backward()
    assert all(p.grad is None for p in probe.depth_net.parameters())
    assert all(p.grad is not None for p in probe.mask_net.parameters())
    assert not losses['density'].requires_grad and not losses['density_bin'].requires_grad


def test_depth_net_is_bit_identical_after_training_g_with_the_runner(
        tiny_mit_config, synthetic_nyu_root, tmp_path):
    from mmengine.runner import Runner

    from mmdepth_dgr.apis import init_model
    reference = init_model(tiny_mit_config)  # random init, seeded below
    ckpt = str(tmp_path / 'n.pth')
    torch.save(dict(state_dict=reference.state_dict()), ckpt)
    cfg = Config.fromfile(PROBE_CFG)
    cfg.model.depth_net = dict(config=tiny_mit_config, checkpoint=ckpt)
    cfg.model.mask_net.widths = (4, 8)
    cfg.train_dataloader.dataset.data_root = synthetic_nyu_root
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_iters = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    cfg.experiment_name = 'test_probe_bit_identical'
    cfg.visualizer.name = 'test_probe_bit_identical_vis'
    runner = Runner.from_cfg(cfg)
    g_before = copy.deepcopy(runner.model.mask_net.state_dict())
    runner.train()
    after = runner.model.depth_net.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(value, after[key]), key  # incl. BN running stats
    g_after = runner.model.mask_net.state_dict()
    assert any(not torch.equal(g_before[k], g_after[k]) for k in g_before)
    density = runner.message_hub.get_scalar('train/density').data[0]
    assert len(density) == 3 and all(0 < d < 1 for d in density)
    assert 'train/density_bin' in runner.message_hub.log_scalars


def _train_density(config, lam, steps=15):
    """Density of G (train mode, as logged) after ``steps`` Adam steps on one fixed batch."""
    torch.manual_seed(0)
    probe = _probe(config, lam=lam)
    probe.train()
    x = torch.randn(1, 3, 32, 32)
    samples = _samples(1, (32, 32), (32, 32))
    opt = torch.optim.Adam(probe.mask_net.parameters(), lr=0.05)
    for _ in range(steps):
        losses = probe.loss(x, samples)
        opt.zero_grad()
        (losses['loss_dif'] + losses['loss_sparse']).backward()
        opt.step()
    return float(probe.loss(x, samples)['density'])


def test_raising_lambda_lowers_the_mask_density(tiny_mit_config):
    low = _train_density(tiny_mit_config, lam=0.0)
    high = _train_density(tiny_mit_config, lam=100.0)
    # Both start at sigmoid(2) = 0.88 (seen: ~0.98 vs ~0.22). lambda is large because the
    # untrained N is very sensitive to its input, so L_dif's pull towards M = 1 is strong.
    assert high < low - 0.3, (low, high)


def test_apply_mask_pixel_space_gives_black_and_normalized_space_the_mean_colour():
    mean = torch.tensor([120.0, 110.0, 100.0]).view(3, 1, 1)
    std = torch.tensor([60.0, 50.0, 40.0]).view(3, 1, 1)
    rgb = torch.rand(1, 3, 4, 5) * 255
    x = (rgb - mean) / std
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., :2, :] = 1.0
    valid = torch.ones(1, 1, 4, 5, dtype=torch.bool)
    valid[..., -1] = False  # padding column: never masked
    pix = apply_mask(x, mask, mean, std, 'pixel', valid)
    expected = (rgb * torch.where(valid, mask, torch.ones_like(mask)) - mean) / std
    assert torch.allclose(pix, expected, atol=1e-5)
    assert torch.allclose(pix[0, :, 3, 0], (-mean / std).flatten())  # black
    norm = apply_mask(x, mask, mean, std, 'normalized', valid)
    assert torch.equal(norm[..., 2:, :4], torch.zeros_like(norm[..., 2:, :4]))  # mean colour
    assert torch.equal(norm[..., -1], x[..., -1]) and torch.equal(pix[..., :2, :], x[..., :2, :])
    with pytest.raises(ValueError, match='space'):
        apply_mask(x, mask, mean, std, 'rgb')


def test_probe_uses_the_chosen_mask_space(tiny_mit_config):
    x = torch.randn(1, 3, 32, 32)
    zero = torch.zeros(1, 1, 32, 32)
    pixel = _probe(tiny_mit_config).masked_inputs(x, zero)
    normalized = _probe(tiny_mit_config, mask_space='normalized').masked_inputs(x, zero)
    mean, std = _probe(tiny_mit_config).mean_std
    assert torch.allclose(pixel[0], (-mean / std).expand(3, 32, 32))
    assert torch.equal(normalized, torch.zeros_like(x))
    with pytest.raises(ValueError, match='mask_space'):
        _probe(tiny_mit_config, mask_space='rgb')


def test_binarize_mask_threshold_and_top_k_density_per_image():
    torch.manual_seed(0)
    soft = torch.rand(2, 1, 10, 10)
    valid = torch.ones(2, 1, 10, 10, dtype=torch.bool)
    valid[1, :, :, 5:] = False  # second image: 50 valid pixels
    thr = binarize_mask(soft, threshold=0.5, valid=valid)
    assert torch.equal(thr.bool(), (soft > 0.5) & valid)
    top = binarize_mask(soft, density=0.1, valid=valid)
    assert top[0].sum() == 10 and top[1].sum() == 5
    assert not top[1][~valid[1]].any()
    kth = soft[0].flatten().sort(descending=True).values[9]
    assert torch.equal(top[0].bool(), soft[0] >= kth)
    with pytest.raises(ValueError, match='density'):
        binarize_mask(soft, density=1.5)


def test_image_region_mask_excludes_the_right_and_bottom_padding():
    region = image_region_mask([dict(img_shape=(3, 4)), dict(img_shape=(5, 6))], (2, 3, 5, 6))
    assert region[0, 0, :3, :4].all() and region[0].sum() == 12
    assert region[1].all()


def test_sparse_mask_loss_is_hu_loss_to_the_detached_full_prediction_plus_lambda_mean():
    full = (torch.rand(1, 1, 8, 8) + 1).requires_grad_(True)
    masked = (torch.rand(1, 1, 8, 8) + 1).requires_grad_(True)
    mask = torch.rand(1, 1, 8, 8)
    hu = HuDepthLoss()
    out = sparse_mask_loss(masked, full, mask, 0.7, hu)
    assert torch.allclose(out['loss_dif'], hu(masked, full.detach()))
    assert torch.allclose(out['loss_sparse'], 0.7 * mask.sum() / 64)
    out['loss_dif'].backward()
    assert full.grad is None and masked.grad is not None


def test_probe_rejects_a_preprocessor_with_another_normalisation(tiny_mit_config):
    pre = Config.fromfile(tiny_mit_config).model.data_preprocessor.to_dict()
    pre['mean'] = [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match='data_preprocessor'):
        _probe(tiny_mit_config, data_preprocessor=pre)
    with pytest.raises(ValueError, match='depth_net.config'):
        MODELS.build(dict(type='SparseMaskProbe', depth_net=dict(config=None, checkpoint=None)))


def test_predict_returns_unpadded_mask_and_both_depths(tiny_mit_config):
    probe = _probe(tiny_mit_config).eval()
    with torch.no_grad():
        out = probe.predict(torch.randn(1, 3, 64, 96), _samples(1, (60, 90), (64, 96)))
    assert out[0].pred_mask.shape == (60, 90)
    assert out[0].pred_depth_map.shape == out[0].full_depth_map.shape == (60, 90)
    assert isinstance(probe, SparseMaskProbe)


def test_probe_handed_a_built_depth_net_uses_it_and_its_preprocessor(tiny_mit_config):
    from mmdepth_dgr.apis import init_model
    net = init_model(tiny_mit_config, None, device='cpu')
    probe = MODELS.build(dict(type='SparseMaskProbe', depth_net=net,
                              mask_net=dict(type='MaskNet', widths=(4, 8))))
    assert probe.depth_net is net  # handed, not rebuilt
    assert probe.data_preprocessor is not net.data_preprocessor  # a copy ...
    assert torch.equal(probe.data_preprocessor.mean, net.data_preprocessor.mean)  # ... of N's
    assert torch.equal(probe.data_preprocessor.std, net.data_preprocessor.std)
    x = torch.randn(1, 3, 64, 96)
    metas = [dict(img_shape=(64, 96), pad_shape=(64, 96))]
    with torch.no_grad():
        assert torch.equal(probe.depth(x, metas), net.encode_decode(x, metas))
