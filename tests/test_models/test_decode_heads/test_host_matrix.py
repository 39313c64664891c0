"""What every host model shares, as one matrix over the hosts (NeWCRFs, PixelFormer,
Swin-Depth, DepthFormer, AdaBins, DPT-Hybrid, DPT-Large, TransDepth).

For each host at test size (its leaf configs with the sizes in :data:`HOSTS` merged in):
the forward is depth in the head's range at the head's output stride; the loss has
exactly the host's terms, is finite and every parameter (backbone and head) receives a
gradient; ``predict`` with flip TTA returns the input size, stays in range and is
flip-equivariant (derived from the TTA's definition, see the test); the ``-dgr`` variant
takes the baseline's state dict strictly (DGRBackbone's load hook) and then equals the
baseline bit for bit; every leaf config builds, names its head, caps and flip test, and
a ``-dgr`` leaf is its baseline twin with only the backbone wrapped; a few Runner
iterations train the ``-dgr`` variant on generated data.

The official formulas of each host (window attention vs loop references, bins, output
forms, readouts, ...) are pinned in that host's own ``test_<host>_head.py``.
"""
import copy
import functools
import glob
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from _helpers import REPO, check_leaf_config, depth_batch, synthetic_runner_cfg

H, W = 64, 96
NYU, KITTI = 'nyu-416x544', 'kitti-352x704'
SWIN_TINY = {'backbone.embed_dims': 16, 'backbone.depths': [1, 1, 1, 1],
             'backbone.num_heads': [1, 2, 2, 4], 'backbone.pretrain_img_size': 64,
             'backbone.drop_path_rate': 0.0, 'backbone.init_cfg': None,
             'decode_head.in_channels': [16, 32, 64, 128]}
GN8 = dict(type='GN', num_groups=8, requires_grad=True)


@dataclass(frozen=True)
class Host:
    """One host model of the matrix.

    Attributes:
        name: Test id.
        stem: ``configs/<folder>/<prefix>_<encoder>``; the baseline leaves are
            ``<stem>_*.py``, the ``-dgr`` twins ``<folder>/<prefix>-dgr_<encoder>_*.py``.
        head: Registered decode-head type of every leaf.
        tiny: mmengine merge keys (below ``model.``) that shrink every leaf to test size.
        dgr_datasets: The ``4xb4-25k`` datasets whose ``-dgr`` leaf is checked against
            its baseline at initialisation.
        losses: The loss terms of the baseline leaf.
        backbone_params: Backbone weights the loss must reach (attribute paths).
        head_gradient: Whether the head's gradient is non-zero at the tiny init.
        out_stride: Input size / ``_forward`` output size.
        predict_range: ``(lo, hi)`` that ``predict`` must stay in; None: the head's caps.
        tiny_dgr: Extra merge keys for the ``-dgr`` leaves.
        deterministic: Extra merge keys that make the eval forward deterministic (for
            the flip-equivariance check only).
        seeded_forward: The eval forward draws random numbers (reseed before each).
        no_flip_leaves: Name fragments of leaves that validate without flip.
    """
    name: str
    stem: str
    head: str
    tiny: Dict
    dgr_datasets: Tuple[str, ...]
    losses: Tuple[str, ...]
    backbone_params: Tuple[str, ...]
    head_gradient: bool = True
    out_stride: int = 1
    predict_range: Optional[Tuple[float, float]] = None
    tiny_dgr: Dict = field(default_factory=dict)
    deterministic: Dict = field(default_factory=dict)
    seeded_forward: bool = False
    no_flip_leaves: Tuple[str, ...] = ()

    def leaf(self, dataset: str, dgr: bool = False, schedule: str = '4xb4-25k') -> str:
        folder, name = self.stem.split('/')
        prefix, encoder = name.split('_', 1)
        prefix = prefix + '-dgr' if dgr else prefix
        return osp.join(REPO, 'configs', folder, f'{prefix}_{encoder}_{schedule}_{dataset}.py')

    def leaves(self):
        folder, name = self.stem.split('/')
        prefix, encoder = name.split('_', 1)
        return sorted(glob.glob(osp.join(REPO, 'configs', folder,
                                         f'{prefix}_{encoder}_*.py')) +
                      glob.glob(osp.join(REPO, 'configs', folder,
                                         f'{prefix}-dgr_{encoder}_*.py')))


HOSTS = [
    Host('newcrfs', 'newcrfs/newcrfs_swin-l-w7', 'NeWCRFsHead',
         dict(SWIN_TINY, **{'decode_head.channels': 32,
                            'decode_head.crf_dims': (16, 32, 64, 128),
                            'decode_head.crf_num_heads': (1, 2, 2, 4),
                            'decode_head.ppm_norm_cfg': GN8}),
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', ),
         backbone_params=('backbone.patch_embed.projection.weight', )),
    Host('pixelformer', 'pixelformer/pixelformer_swin-l-w7', 'PixelFormerHead',
         dict(SWIN_TINY, **{'decode_head.channels': 32,
                            'decode_head.sam_dims': (16, 32, 64, 128),
                            'decode_head.sam_num_heads': (1, 2, 2, 4),
                            'decode_head.num_bins': 16, 'decode_head.bcp_hidden_channels': 32,
                            'decode_head.ppm_norm_cfg': GN8}),
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', ),
         backbone_params=('backbone.patch_embed.projection.weight', )),
    Host('swindepth', 'swindepth/swindepth_swin-b', 'SwinDepthHead',
         dict(SWIN_TINY, **{'backbone.window_size': 4, 'decode_head.channels': 16}),
         dgr_datasets=(NYU, KITTI), losses=('decode.loss_silog', ),
         backbone_params=('backbone.patch_embed.projection.weight', ),
         predict_range=(1e-3, 10.0)),
    Host('depthformer', 'depthformer/depthformer_mit-b4', 'DepthFormerHead',
         {'backbone.embed_dims': 8, 'backbone.num_layers': [1, 1, 1, 1],
          'backbone.num_heads': [1, 2, 4, 4], 'backbone.drop_path_rate': 0.0,
          'backbone.init_cfg': None, 'decode_head.in_channels': [8, 16, 32, 32],
          'decode_head.channels': 16,
          'decode_head.transbins': dict(n_bins=16, embed_dims=16, patch_size=8, num_layers=1,
                                        num_heads=2, feedforward_channels=32)},
         dgr_datasets=(NYU, KITTI), losses=('decode.loss_silog', 'decode.loss_bins_chamfer'),
         backbone_params=('backbone.layers.0.0.projection.weight', ),
         out_stride=2, predict_range=(1e-3, 10.0)),
    Host('adabins', 'adabins/adabins_efficientnet-b5', 'AdaBinsHead',
         {'backbone.model_name': 'test_efficientnet', 'backbone.pretrained': False,
          'decode_head.in_channels': [16, 24, 32, 48, 256], 'decode_head.channels': 64,
          'decode_head.n_bins': 16, 'decode_head.n_query': 8,
          'decode_head.decoder_channels': 16, 'decode_head.embed_dims': 16,
          'decode_head.patch_size': 4, 'decode_head.num_heads': 2,
          'decode_head.num_layers': 1, 'decode_head.ffn_dims': 32,
          'decode_head.max_patches': 128},
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', 'decode.loss_chamfer'),
         backbone_params=('backbone.timm_model.conv_stem.weight',
                          'backbone.timm_model.conv_head.weight'),
         out_stride=2, no_flip_leaves=('_4xb4-25e_', )),
    Host('dpt-hybrid', 'dpt/dpt_r50-vit-b16', 'DPTDepthHead',
         {'backbone.cnn.layers': [1, 1, 1], 'backbone.vit.embed_dims': 32,
          'backbone.vit.num_layers': 4, 'backbone.vit.num_heads': 2,
          'backbone.vit.out_indices': [2, 3], 'decode_head.in_channels': [256, 512, 32, 32],
          'decode_head.post_process_channels': [256, 512, 32, 32],
          'decode_head.channels': 16, 'decode_head.head_channels': 8},
         # the leaves refine ViT layers 3, 6, 9, 12; the tiny ViT has 4
         tiny_dgr={'backbone.vit.stages': [1, 3]},
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', ),
         backbone_params=('backbone.cnn.model.stem.conv.weight',
                          'backbone.vit.layers.0.ln1.weight'),
         # official NYU constants: 1 / (0.000305 * relu(z) + 0.1378) <= 1 / 0.1378
         predict_range=(0.0, 1 / 0.1378 + 1e-4)),
    Host('dpt-large', 'dpt/dpt_vit-l16', 'DPTDepthHead',
         {'backbone.embed_dims': 32, 'backbone.num_layers': 4, 'backbone.num_heads': 2,
          'backbone.out_indices': [0, 1, 2, 3], 'decode_head.in_channels': [32] * 4,
          'decode_head.post_process_channels': [8, 16, 32, 32],
          'decode_head.channels': 16, 'decode_head.head_channels': 8},
         dgr_datasets=(KITTI, ), losses=('decode.loss_silog', ),
         # at this tiny random init the head's final ReLU (non_negative) is closed on the
         # whole test batch, so every gradient is zero (graph membership still checked);
         # the same ViT's gradients are checked on the hybrid
         backbone_params=(), head_gradient=False,
         predict_range=(0.0, 1 / 0.1378 + 1e-4)),
    Host('transdepth', 'transdepth/transdepth_r50-vit-b16', 'TransDepthHead',
         {'backbone.cnn.block_units': [1, 1, 1], 'backbone.cnn.width_factor': 0.5,
          'backbone.vit.in_channels': 512, 'backbone.vit.embed_dims': 32,
          'backbone.vit.num_layers': 4, 'backbone.vit.num_heads': 2,
          'backbone.vit.out_indices': [3], 'decode_head.in_channels': [32, 128, 256, 32],
          'decode_head.channels': 128, 'decode_head.token_channels': [64, 64],
          'decode_head.agd.width': 16},
         tiny_dgr={'backbone.vit.stages': [1, 3]},
         dgr_datasets=(NYU, KITTI), losses=('decode.loss_silog', ),
         backbone_params=('backbone.cnn.root.conv.weight', 'backbone.vit.layers.0.ln1.weight'),
         predict_range=(0.0, 10.0),
         # the official attention gates draw a random channel weighting every forward
         seeded_forward=True, deterministic={'decode_head.agd.gate': 'sigmoid'}),
]
BY_NAME = {h.name: h for h in HOSTS}
LEAVES = [(h, p) for h in HOSTS for p in h.leaves()]
DGR_PAIRS = [(h, ds) for h in HOSTS for ds in h.dgr_datasets]


@functools.lru_cache(maxsize=None)
def _config(path: str) -> Config:
    return Config.fromfile(path)


def tiny_model_cfg(host: Host, path: str, **extra) -> Config:
    """``path``'s model with ``host.tiny`` (and ``host.tiny_dgr`` for a -dgr leaf) and
    ``extra`` merged in (nested merge keys, mmengine semantics)."""
    cfg = copy.deepcopy(_config(path))
    opts = dict(host.tiny, **(host.tiny_dgr if '-dgr_' in osp.basename(path) else {}),
                **extra)
    cfg.merge_from_dict({'model.' + k: v for k, v in opts.items()})
    return cfg.model


def _param(model, dotted: str) -> torch.Tensor:
    obj = model
    for part in dotted.split('.'):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def _tensors(x):
    """The tensors of a (nested) feature structure, in order."""
    if isinstance(x, torch.Tensor):
        return [x]
    return [t for item in x for t in _tensors(item)]


def _forward(model, x, seeded):
    if seeded:
        torch.manual_seed(0)
    return model._forward(x)


def _has_dgr_backbone(model) -> bool:
    return any(type(m).__name__ == 'DGRBackbone' for m in model.backbone.modules())


ids = pytest.mark.parametrize('host', HOSTS, ids=[h.name for h in HOSTS])


# ----------------------------------------------------------------- forward / loss / predict
@ids
def test_forward_is_depth_in_range_at_the_head_output_stride(host):
    model = MODELS.build(tiny_model_cfg(host, host.leaf(NYU))).eval()
    with torch.no_grad():
        depth = _forward(model, torch.randn(2, 3, H, W), host.seeded_forward)
    s = host.out_stride
    assert depth.shape == (2, 1, H // s, W // s)
    head = model.decode_head
    lo, hi = host.predict_range or (head.min_depth, head.max_depth)
    assert torch.isfinite(depth).all() and depth.min() >= lo and depth.max() <= hi


@ids
def test_loss_has_the_host_terms_and_every_parameter_gets_a_gradient(host):
    model = MODELS.build(tiny_model_cfg(host, host.leaf(NYU)))
    losses = model.loss(*depth_batch())
    assert set(losses) == set(host.losses)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    # no parameter is left out of the graph (DDP needs no find_unused_parameters)
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, unused
    for name in host.backbone_params:
        assert _param(model, name).grad.abs().sum() > 0, name
    if host.head_gradient:
        assert sum(p.grad.abs().sum() for p in model.decode_head.parameters()) > 0


@ids
def test_predict_with_flip_is_flip_equivariant_and_in_range(host):
    """Flip TTA merges ``d = f(x)`` with ``d' = flip(f(flip(x)))`` by a rule symmetric in
    the two (``'mean'``, or ``'edge_ramp'`` whose ramps are mirror images), so
    ``predict(flip(x)) == flip(predict(x))``: a missing or doubled flip-back breaks it."""
    model = MODELS.build(tiny_model_cfg(host, host.leaf(NYU), **host.deterministic)).eval()
    assert model.test_cfg.flip is True
    inputs, samples = depth_batch(1)
    with torch.no_grad():
        pred = model.predict(inputs, samples)[0].pred_depth_map.data
        pred_of_flipped = model.predict(inputs.flip(3), samples)[0].pred_depth_map.data
    assert pred.shape == (1, H, W)
    lo, hi = host.predict_range or (model.decode_head.min_depth, model.decode_head.max_depth)
    assert pred.min() >= lo and pred.max() <= hi
    torch.testing.assert_close(pred_of_flipped, pred.flip(2), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------- DGR
@pytest.mark.parametrize('host,dataset', DGR_PAIRS,
                         ids=[f'{h.name}-{ds}' for h, ds in DGR_PAIRS])
def test_dgr_variant_loads_the_baseline_strictly_and_equals_it_at_init(host, dataset):
    base = MODELS.build(tiny_model_cfg(host, host.leaf(dataset)))
    dgr = MODELS.build(tiny_model_cfg(host, host.leaf(dataset, dgr=True)))
    base.init_weights()
    dgr.init_weights()
    assert _has_dgr_backbone(dgr) and not _has_dgr_backbone(base)
    # DGRBackbone's load hook moves the host keys one level down; DGR keeps its init
    dgr.load_state_dict(base.state_dict(), strict=True)
    base.eval(), dgr.eval()
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        feats_base, feats_dgr = _tensors(base.extract_feat(x)), _tensors(dgr.extract_feat(x))
        assert len(feats_base) == len(feats_dgr)
        assert all(torch.equal(a, b) for a, b in zip(feats_base, feats_dgr))
        assert torch.equal(_forward(base, x, host.seeded_forward),
                           _forward(dgr, x, host.seeded_forward))


# ----------------------------------------------------------------- leaf configs
@ids
def test_host_has_baseline_and_dgr_leaves_for_nyu_and_kitti(host):
    for dataset in (NYU, KITTI):
        for dgr in (False, True):
            assert osp.isfile(host.leaf(dataset, dgr)), host.leaf(dataset, dgr)


def _flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        key = f'{prefix}{k}'
        if isinstance(v, dict):
            out.update(_flat(v, key + '.'))
        else:
            out[key] = v
    return out


@pytest.mark.parametrize('host,path', LEAVES,
                         ids=[osp.basename(p)[:-3] for _, p in LEAVES])
def test_leaf_config_builds_and_a_dgr_leaf_differs_from_its_twin_only_by_the_wrapper(
        host, path):
    cfg = _config(path)
    flip = not any(s in osp.basename(path) for s in host.no_flip_leaves)
    if flip:
        check_leaf_config(cfg, path, host.head)
    else:  # the official-recipe leaves that validate without flip, as the host's train.py
        assert cfg.model.test_cfg.flip is False
        cfg_flip = copy.deepcopy(cfg)
        cfg_flip.model.test_cfg.flip = True
        check_leaf_config(cfg_flip, path, host.head)
    assert cfg.custom_imports == dict(imports=['mmdepth_dgr'], allow_failed_imports=False)
    is_dgr = '-dgr_' in osp.basename(path)
    if is_dgr:
        twin = _config(path.replace('-dgr_', '_', 1))
        got, want = _flat(cfg.to_dict()), _flat(twin.to_dict())
        changed = {k for k in set(got) | set(want) if got.get(k, None) != want.get(k, None)}
        wrapper = 'model.backbone.vit.' if 'model.backbone.vit.type' in got else \
            'model.backbone.'
        # the one-line change: the host's backbone keys stay, DGRBackbone wraps them
        assert got[wrapper + 'type'] == 'DGRBackbone'
        assert got[wrapper + 'host_type'] == want[wrapper + 'type']
        assert changed <= {wrapper + k for k in ('type', 'host_type', 'stages',
                                                 'placement')}, changed
    model = MODELS.build(tiny_model_cfg(host, path)).eval()
    assert type(model.decode_head).__name__ == host.head
    assert _has_dgr_backbone(model) == is_dgr
    s = host.out_stride
    with torch.no_grad():
        depth = _forward(model, torch.randn(1, 3, H, W), host.seeded_forward)
    assert depth.shape == (1, 1, H // s, W // s)


# ----------------------------------------------------------------- a few Runner iterations
RUNNER_HOSTS = ['newcrfs', 'pixelformer', 'adabins', 'dpt-hybrid']


@pytest.mark.parametrize('name', RUNNER_HOSTS)
def test_a_few_runner_iterations_of_the_dgr_variant_on_generated_data(
        name, synthetic_nyu_root, tmp_path):
    from mmengine.runner import Runner
    host = BY_NAME[name]
    leaf = host.leaf(NYU, dgr=True)
    extra = {'decode_head.max_patches': 4096} if name == 'adabins' else {}  # any size
    cfg = synthetic_runner_cfg(leaf, tmp_path, synthetic_nyu_root,
                               tiny_model_cfg(host, leaf, **extra))
    cfg.load_from = None  # DPT's leaves start from the MiDaS weights
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    losses = runner.message_hub.get_scalar('train/decode.loss_silog').data[0]
    assert len(losses) == 3 and torch.isfinite(torch.as_tensor(losses)).all()
    after = runner.model.state_dict()
    head_moved = [k for k in after if k.startswith('decode_head.')
                  and after[k].is_floating_point() and not torch.equal(before[k], after[k])]
    assert head_moved, 'no decode-head weight changed in training'
    assert any('.dgr.' in k for k in after), 'the -dgr leaf built no DGR block'
    metrics = {k: v for k, v in runner.message_hub.log_scalars.items()
               if k.startswith('val/')}
    assert metrics, 'the validation loop did not run'
    assert all(torch.isfinite(torch.as_tensor(v.current())).all() for v in metrics.values())
