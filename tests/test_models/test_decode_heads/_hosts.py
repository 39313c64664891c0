"""The host models of the decode-head tests: each host's leaf configs, the merge keys
that shrink them to test size, and what the shared checks (test_host_matrix.py) expect of
it. The hosts' own test files take their tiny sizes from here."""
import copy
import functools
import glob
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from mmengine.config import Config

from _helpers import REPO

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
        reach: Weights (backbone first, then head) whose loss gradient must be non-zero
            (attribute paths).
        head_gradient: Whether the head's gradient is non-zero at the tiny init.
        out_stride: Input size / ``_forward`` output size.
        predict_range: ``(lo, hi)`` that the forward and ``predict`` stay in; None: the
            head's ``min_depth`` / ``max_depth``.
        tiny_dgr: Extra merge keys for the ``-dgr`` leaves.
        deterministic: Extra merge keys that make the eval forward deterministic (for
            the flip-equivariance check only).
        seeded_forward: The eval forward draws random numbers (reseed before each).
        no_flip_leaves: Name fragments of leaves that validate without flip.
        check_built: Extra check of a built leaf ``(model, max_depth)``, or None.
    """
    name: str
    stem: str
    head: str
    tiny: Dict
    dgr_datasets: Tuple[str, ...]
    losses: Tuple[str, ...]
    reach: Tuple[str, ...]
    head_gradient: bool = True
    out_stride: int = 1
    predict_range: Optional[Tuple[float, float]] = None
    tiny_dgr: Dict = field(default_factory=dict)
    deterministic: Dict = field(default_factory=dict)
    seeded_forward: bool = False
    no_flip_leaves: Tuple[str, ...] = ()
    check_built: Optional[Callable] = None

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
         reach=('backbone.patch_embed.projection.weight',
                'decode_head.top.bottleneck.conv.weight')),
    Host('pixelformer', 'pixelformer/pixelformer_swin-l-w7', 'PixelFormerHead',
         dict(SWIN_TINY, **{'decode_head.channels': 32,
                            'decode_head.sam_dims': (16, 32, 64, 128),
                            'decode_head.sam_num_heads': (1, 2, 2, 4),
                            'decode_head.num_bins': 16, 'decode_head.bcp_hidden_channels': 32,
                            'decode_head.ppm_norm_cfg': GN8}),
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', ),
         reach=('backbone.patch_embed.projection.weight',
                'decode_head.top.bottleneck.conv.weight')),
    Host('swindepth', 'swindepth/swindepth_swin-b', 'SwinDepthHead',
         dict(SWIN_TINY, **{'backbone.window_size': 4, 'decode_head.channels': 16}),
         dgr_datasets=(NYU, KITTI), losses=('decode.loss_silog', ),
         reach=('backbone.patch_embed.projection.weight', ),
         predict_range=(1e-3, 10.0)),
    Host('depthformer', 'depthformer/depthformer_mit-b4', 'DepthFormerHead',
         {'backbone.embed_dims': 8, 'backbone.num_layers': [1, 1, 1, 1],
          'backbone.num_heads': [1, 2, 4, 4], 'backbone.drop_path_rate': 0.0,
          'backbone.init_cfg': None, 'decode_head.in_channels': [8, 16, 32, 32],
          'decode_head.channels': 16,
          'decode_head.transbins': dict(n_bins=16, embed_dims=16, patch_size=8, num_layers=1,
                                        num_heads=2, feedforward_channels=32)},
         dgr_datasets=(NYU, KITTI), losses=('decode.loss_silog', 'decode.loss_bins_chamfer'),
         reach=('backbone.layers.0.0.projection.weight',
                'decode_head.transbins.regressor.0.weight'),
         out_stride=2, predict_range=(1e-3, 10.0),
         check_built=lambda model, max_depth: (
             model.decode_head.transbins.max_depth == max_depth)),
    Host('adabins', 'adabins/adabins_efficientnet-b5', 'AdaBinsHead',
         {'backbone.model_name': 'test_efficientnet', 'backbone.pretrained': False,
          'decode_head.in_channels': [16, 24, 32, 48, 256], 'decode_head.channels': 64,
          'decode_head.n_bins': 16, 'decode_head.n_query': 8,
          'decode_head.decoder_channels': 16, 'decode_head.embed_dims': 16,
          'decode_head.patch_size': 4, 'decode_head.num_heads': 2,
          'decode_head.num_layers': 1, 'decode_head.ffn_dims': 32,
          'decode_head.max_patches': 128},
         dgr_datasets=(NYU, ), losses=('decode.loss_silog', 'decode.loss_chamfer'),
         reach=('backbone.timm_model.conv_stem.weight',
                'backbone.timm_model.conv_head.weight', 'decode_head.mvit.pos_embed',
                'decode_head.conv_out.weight'),
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
         reach=('backbone.cnn.model.stem.conv.weight', 'backbone.vit.layers.0.ln1.weight'),
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
         reach=(), head_gradient=False,
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
         reach=('backbone.cnn.root.conv.weight', 'backbone.vit.layers.0.ln1.weight'),
         predict_range=(0.0, 10.0),
         # the official attention gates draw a random channel weighting every forward
         seeded_forward=True, deterministic={'decode_head.agd.gate': 'sigmoid'}),
]
BY_NAME = {h.name: h for h in HOSTS}
LEAVES = [(h, p) for h in HOSTS for p in h.leaves()]
DGR_PAIRS = [(h, ds) for h in HOSTS for ds in h.dgr_datasets]


@functools.lru_cache(maxsize=None)
def leaf_config(path: str) -> Config:
    """``Config.fromfile(path)``, parsed once per session (shared: deepcopy to change)."""
    return Config.fromfile(path)


def tiny_model_cfg(host: Host, path: str, **extra) -> Config:
    """``path``'s model with ``host.tiny`` (and ``host.tiny_dgr`` for a -dgr leaf) and
    ``extra`` merged in (nested merge keys, mmengine semantics)."""
    cfg = copy.deepcopy(leaf_config(path))
    opts = dict(host.tiny, **(host.tiny_dgr if '-dgr_' in osp.basename(path) else {}),
                **extra)
    cfg.merge_from_dict({'model.' + k: v for k, v in opts.items()})
    return cfg.model




def tiny_head_cfg(name: str) -> dict:
    """The ``decode_head`` merge keys of host ``name`` as head keyword arguments."""
    return {k.split('.', 1)[1]: copy.deepcopy(v) for k, v in BY_NAME[name].tiny.items()
            if k.startswith('decode_head.') and k.count('.') == 1}
