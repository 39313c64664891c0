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
iterations train four of the hosts on generated data.

The official formulas of each host (window attention vs loop references, bins, output
forms, readouts, ...) are pinned in that host's own ``test_<host>_head.py``.
"""
import copy
import os.path as osp

import pytest
import torch
from mmseg.registry import MODELS

from _helpers import check_leaf_config, depth_batch, synthetic_runner_cfg
from _hosts import BY_NAME, DGR_PAIRS, HOSTS, KITTI, LEAVES, NYU, H, W, leaf_config, tiny_model_cfg


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
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    # no parameter is left out of the graph (DDP needs no find_unused_parameters)
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused, unused
    for name in host.reach:
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
    cfg = leaf_config(path)
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
        twin = leaf_config(path.replace('-dgr_', '_', 1))
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
    if host.check_built is not None:
        assert host.check_built(model, cfg.model.decode_head.max_depth)
    s = host.out_stride
    with torch.no_grad():
        depth = _forward(model, torch.randn(1, 3, H, W), host.seeded_forward)
    assert depth.shape == (1, 1, H // s, W // s)


# ----------------------------------------------------------------- a few Runner iterations
# (host, whether the -dgr leaf or the baseline leaf trains)
RUNNER_CASES = [('newcrfs', True), ('pixelformer', True), ('adabins', False),
                ('dpt-hybrid', True)]


@pytest.mark.parametrize('name,dgr', RUNNER_CASES,
                         ids=[f"{n}{'-dgr' if d else ''}" for n, d in RUNNER_CASES])
def test_a_few_runner_iterations_on_generated_data(name, dgr, synthetic_nyu_root, tmp_path):
    from mmengine.runner import Runner
    host = BY_NAME[name]
    leaf = host.leaf(NYU, dgr=dgr)
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
    head_moved = [k for k, _ in runner.model.decode_head.named_parameters()
                  if not torch.equal(before['decode_head.' + k], after['decode_head.' + k])]
    assert head_moved, 'no decode-head weight changed in training'
    assert any('.dgr.' in k for k in after) == dgr
    metrics = {k: v for k, v in runner.message_hub.log_scalars.items()
               if k.startswith('val/')}
    assert metrics, 'the validation loop did not run'
    assert all(torch.isfinite(torch.as_tensor(v.current())).all() for v in metrics.values())
