"""Convert an official NeWCRFs checkpoint (github.com/aliyun/NeWCRFs) to mmdepth_dgr.

The official ``NewCRFDepth`` holds ``backbone`` (Swin, Swin-Transformer-Semantic-
Segmentation layout), ``decoder`` (PSP top), ``crf0..crf3`` (``NewCRF``) and
``disp_head1``. Its ``newcrfs/train.py`` saves ``{'global_step', 'model':
model.state_dict(), 'optimizer', 'best_eval_measures_higher_better',
'best_eval_measures_lower_better', 'best_eval_steps'}`` with the model wrapped in
DistributedDataParallel / DataParallel, so every key starts with ``module.``. The result
loads into ``configs/newcrfs/newcrfs_swin-l-w7_*.py`` (the host's Swin-L window 7).

Key map (official -> mmdepth_dgr; :func:`newcrfs_to_official` is the exact inverse):

* ``backbone.*`` -> ``backbone.*`` with mmseg's Swin names (see :func:`convert_swin`).
* ``decoder.{psp_modules,bottleneck}.*`` -> ``decode_head.top.*`` (same ConvModule names).
* ``crf{k}.proj_{x,v}.*`` -> ``decode_head.crf_layers.{k}.proj_{x,v}.*``;
  ``crf{k}.crf_layer.blocks.{j}.{norm1,norm2,attn.qk,attn.proj,
  attn.relative_position_bias_table}`` -> ``decode_head.crf_layers.{k}.blocks.{j}.*``;
  ``...mlp.fc1`` -> ``...ffn.layers.0.0``, ``...mlp.fc2`` -> ``...ffn.layers.1``;
  ``crf{k}.norm_crf`` -> ``decode_head.crf_layers.{k}.norm``;
  ``attn.relative_position_index`` is dropped (a non-persistent buffer here).
* ``disp_head1.conv1`` -> ``decode_head.depth_conv``.

The command line checks the checkpoint against the network of ``--config`` before it
converts: every key of the official layout must be there and nothing else (names the
file and the keys otherwise), and the result must load with ``strict=True``. This module
also holds what the PixelFormer and AdaBins converters share (checkpoint reading, the
layout check, the Swin map, the command line).

Usage::

    python tools/model_converters/newcrfs2mmdepth.py model_nyu.ckpt newcrfs_nyu_mmdepth.pth
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from timm.models.swin_transformer import get_relative_position_index
from torch import Tensor

_WHERE = 'tools/model_converters/newcrfs2mmdepth.py'
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
Rule = Tuple[str, str]
StateDict = Dict[str, Tensor]


# --------------------------------------------------------------------------------------
# Official checkpoints: reading and the strict layout check (shared by the converters).
# --------------------------------------------------------------------------------------
def unwrap_state_dict(checkpoint: dict, src: str = 'the checkpoint') -> StateDict:
    """The model weights of an official train-script checkpoint, without ``module.``.

    The official train scripts save ``{'model': model.state_dict(), ...}`` of a
    DataParallel / DistributedDataParallel model (every key prefixed ``module.``); a bare
    state dict (``torch.save(model.state_dict())``) is accepted too.

    Args:
        checkpoint (dict): The loaded checkpoint.
        src (str): Its file name, for error messages. Defaults to 'the checkpoint'.

    Returns:
        dict[str, Tensor]: State dict, ``module.`` removed.

    Raises:
        KeyError: No ``'model'`` entry and not a bare state dict, or ``module.`` on only
            some keys (names the file).
    """
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{_WHERE}: {src} holds a {type(checkpoint).__name__}; expected the '
                        "dict an official train script saves, {'model': state_dict, ...}.")
    if isinstance(checkpoint.get('model'), dict):
        state_dict = checkpoint['model']
    elif checkpoint and all(isinstance(v, Tensor) for v in checkpoint.values()):
        state_dict = checkpoint
    else:
        raise KeyError(f'{_WHERE}: {src} has no "model" state dict (top-level keys: '
                       f'{sorted(map(str, checkpoint))[:10]}); the official train scripts '
                       "save {'model': model.state_dict(), ...}.")
    prefixed = [k for k in state_dict if k.startswith('module.')]
    if prefixed and len(prefixed) != len(state_dict):
        plain = [k for k in state_dict if not k.startswith('module.')]
        raise KeyError(f'{_WHERE}: {src}: {len(prefixed)} keys start with "module." and '
                       f'{len(plain)} do not (e.g. {plain[:3]}); a DataParallel checkpoint '
                       'prefixes every key.')
    n = len('module.') if prefixed else 0
    return OrderedDict((k[n:], v) for k, v in state_dict.items())


def load_official_checkpoint(src: str) -> StateDict:
    """Read an official checkpoint file and return its model weights (:func:`unwrap_state_dict`).

    ``weights_only=False``: the NeWCRFs / PixelFormer train scripts also store NumPy
    arrays (``best_eval_steps``), which the weights-only unpickler refuses. Only load
    checkpoints from a source you trust.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'{_WHERE}: checkpoint {src} does not exist.')
    return unwrap_state_dict(torch.load(src, map_location='cpu', weights_only=False), src)


def _listing(keys: Sequence[str], limit: int = 10) -> str:
    more = f' ... ({len(keys)} in all)' if len(keys) > limit else ''
    return f'{list(keys[:limit])}{more}'


def check_official_layout(state_dict: StateDict, expected: StateDict, src: str,
                          host: str) -> None:
    """Raise unless ``state_dict`` has exactly the keys and shapes of ``expected``.

    Args:
        state_dict (dict[str, Tensor]): Official-layout weights read from ``src``.
        expected (dict[str, Tensor]): The official layout of the target network (the
            project model's weights mapped back with the converter's inverse).
        src (str): The checkpoint file, named in the error.
        host (str): Network name for the message.

    Raises:
        KeyError: Naming ``src`` and the missing keys, the unexpected keys and the keys
            whose shapes differ.
    """
    missing = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    shapes = [f'{k}: {tuple(state_dict[k].shape)} != {tuple(expected[k].shape)}'
              for k in expected if k in state_dict and
              tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if not (missing or extra or shapes):
        return
    parts = []
    if missing:
        parts.append(f'missing keys {_listing(missing)}')
    if extra:
        parts.append(f'unexpected keys {_listing(extra)}')
    if shapes:
        parts.append(f'shapes that differ (checkpoint != expected) {_listing(shapes)}')
    raise KeyError(f'{_WHERE}: {src} is not an official {host} checkpoint of the '
                   f'configured network (keys without "module."): ' + '; '.join(parts))


def convert_checkpoint(src: str, model: torch.nn.Module, convert: Callable[[StateDict],
                       StateDict], to_official: Callable[[StateDict], StateDict],
                       host: str,
                       normalize: Optional[Callable[[StateDict], StateDict]] = None
                       ) -> StateDict:
    """Read ``src``, check it is exactly ``model``'s official layout, convert, load strictly.

    Args:
        src (str): Official checkpoint file.
        model (nn.Module): The mmdepth_dgr network it is meant for; its weights are
            replaced by the converted ones.
        convert (callable): Official state dict -> mmdepth_dgr state dict.
        to_official (callable): The inverse of ``convert`` (gives the expected layout).
        host (str): Network name for messages.
        normalize (callable, optional): Applied to the read weights before the check
            (e.g. renames of older official key names). Defaults to None.

    Returns:
        dict[str, Tensor]: The converted state dict (already loaded into ``model``).
    """
    state_dict = load_official_checkpoint(src)
    if normalize is not None:
        state_dict = normalize(state_dict)
    check_official_layout(state_dict, to_official(model.state_dict()), src, host)
    converted = convert(state_dict)
    model.load_state_dict(converted, strict=True)
    return converted


# --------------------------------------------------------------------------------------
# Key rules.
# --------------------------------------------------------------------------------------
def _apply_rules(key: str, rules: List[Rule]) -> Optional[str]:
    for pattern, repl in rules:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return None


def official_relative_position_index(table: Tensor) -> Tensor:
    """The host repos' ``relative_position_index`` buffer for a (2w-1)^2-row bias table."""
    side = round(table.shape[0]**0.5)
    if side * side != table.shape[0] or side % 2 == 0:
        raise ValueError(f'{_WHERE}: a relative_position_bias_table with {table.shape[0]} '
                         'rows is not (2w-1)^2 for a window w.')
    w = (side + 1) // 2
    return get_relative_position_index(w, w)


def add_relative_position_index(state_dict: StateDict) -> StateDict:
    """Insert the ``attn.relative_position_index`` buffer after every bias table that has
    none (the official blocks save it; this project's decoder blocks keep it
    non-persistent)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        out[key] = value
        if key.endswith('attn.relative_position_bias_table'):
            index_key = key[:-len('bias_table')] + 'index'
            if index_key not in state_dict:
                out[index_key] = official_relative_position_index(value)
    return out


# --------------------------------------------------------------------------------------
# Swin (the same file in both host repos).
# --------------------------------------------------------------------------------------
def unfold_reduction_order(weight: Tensor) -> Tensor:
    """Reorder a Swin ``PatchMerging.reduction`` weight for mmseg's ``nn.Unfold`` merge.

    The official merge concatenates the four 2×2 neighbours as
    ``[x(0,0), x(1,0), x(0,1), x(1,1)]`` (row, col offsets), each a block of ``C``
    channels; mmseg's ``nn.Unfold(2, stride=2)`` yields channel-major order
    ``c·4 + (2·row + col)``, i.e. neighbour order ``[(0,0), (0,1), (1,0), (1,1)]``
    interleaved. So: swap neighbours 1 and 2, then interleave (same rule as mmseg's
    ``swin2mmseg.py``).

    Args:
        weight (Tensor): (C_out, 4·C) official reduction weight.

    Returns:
        Tensor: (C_out, 4·C) weight for mmseg's PatchMerging.
    """
    c_out, c_in = weight.shape
    w = weight.reshape(c_out, 4, c_in // 4)[:, [0, 2, 1, 3], :]
    return w.transpose(1, 2).reshape(c_out, c_in)


def unfold_norm_order(param: Tensor) -> Tensor:
    """As :func:`unfold_reduction_order` for the (4·C,) merge LayerNorm parameters."""
    c_in = param.shape[0]
    return param.reshape(4, c_in // 4)[[0, 2, 1, 3], :].transpose(0, 1).reshape(c_in)


def official_reduction_order(weight: Tensor) -> Tensor:
    """Inverse of :func:`unfold_reduction_order` (mmseg merge weight -> official)."""
    c_out, c_in = weight.shape
    w = weight.reshape(c_out, c_in // 4, 4).transpose(1, 2)[:, [0, 2, 1, 3], :]
    return w.reshape(c_out, c_in)


def official_norm_order(param: Tensor) -> Tensor:
    """Inverse of :func:`unfold_norm_order`."""
    c_in = param.shape[0]
    return param.reshape(c_in // 4, 4).transpose(0, 1)[[0, 2, 1, 3], :].reshape(c_in)


SWIN_RULES: List[Rule] = [
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^patch_embed\.norm\.', 'patch_embed.norm.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.', r'stages.\1.blocks.\2.attn.w_msa.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.', r'stages.\1.blocks.\2.ffn.layers.0.0.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.', r'stages.\1.blocks.\2.ffn.layers.1.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.(norm[12])\.', r'stages.\1.blocks.\2.\3.'),
    (r'^layers\.(\d+)\.downsample\.', r'stages.\1.downsample.'),
    (r'^(norm\d+)\.', r'\1.'),
    (r'^absolute_pos_embed$', 'absolute_pos_embed'),
]
SWIN_INVERSE_RULES: List[Rule] = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^patch_embed\.norm\.', 'patch_embed.norm.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.attn\.w_msa\.', r'layers.\1.blocks.\2.attn.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.0\.0\.', r'layers.\1.blocks.\2.mlp.fc1.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.ffn\.layers\.1\.', r'layers.\1.blocks.\2.mlp.fc2.'),
    (r'^stages\.(\d+)\.blocks\.(\d+)\.(norm[12])\.', r'layers.\1.blocks.\2.\3.'),
    (r'^stages\.(\d+)\.downsample\.', r'layers.\1.downsample.'),
    (r'^(norm\d+)\.', r'\1.'),
    (r'^absolute_pos_embed$', 'absolute_pos_embed'),
]


def convert_swin(state_dict: StateDict) -> StateDict:
    """Official Swin backbone keys (no ``backbone.`` prefix) -> mmseg ``SwinTransformer``.

    Args:
        state_dict (dict[str, Tensor]): Official Swin weights.

    Returns:
        dict[str, Tensor]: mmseg-named weights (merge weights reordered).

    Raises:
        KeyError: On a key no rule knows (names the key).
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.'):  # ImageNet classifier of a bare Swin checkpoint
            continue
        new = _apply_rules(key, SWIN_RULES)
        if new is None:
            raise KeyError(f'{_WHERE}: unknown Swin backbone key "backbone.{key}".')
        if '.downsample.reduction.' in new:
            value = unfold_reduction_order(value)
        elif '.downsample.norm.' in new:
            value = unfold_norm_order(value)
        out[new] = value
    return out


def swin_to_official(state_dict: StateDict) -> StateDict:
    """Inverse of :func:`convert_swin`: mmseg ``SwinTransformer`` -> official Swin keys."""
    out = OrderedDict()
    for key, value in state_dict.items():
        new = _apply_rules(key, SWIN_INVERSE_RULES)
        if new is None:
            raise KeyError(f'{_WHERE}: mmseg Swin key "backbone.{key}" has no official name.')
        if '.downsample.reduction.' in new:
            value = official_reduction_order(value)
        elif '.downsample.norm.' in new:
            value = official_norm_order(value)
        out[new] = value
    return out


# --------------------------------------------------------------------------------------
# NeWCRFs.
# --------------------------------------------------------------------------------------
NEWCRFS_HEAD_RULES: List[Rule] = [
    (r'^decoder\.', 'top.'),
    (r'^crf(\d)\.proj_([xv])\.', r'crf_layers.\1.proj_\2.'),
    (r'^crf(\d)\.crf_layer\.blocks\.(\d+)\.mlp\.fc1\.', r'crf_layers.\1.blocks.\2.ffn.layers.0.0.'),
    (r'^crf(\d)\.crf_layer\.blocks\.(\d+)\.mlp\.fc2\.', r'crf_layers.\1.blocks.\2.ffn.layers.1.'),
    (r'^crf(\d)\.crf_layer\.blocks\.(\d+)\.(norm[12]|attn\.qk|attn\.proj)\.',
     r'crf_layers.\1.blocks.\2.\3.'),
    (r'^crf(\d)\.crf_layer\.blocks\.(\d+)\.attn\.relative_position_bias_table$',
     r'crf_layers.\1.blocks.\2.attn.relative_position_bias_table'),
    (r'^crf(\d)\.norm_crf\.', r'crf_layers.\1.norm.'),
    (r'^disp_head1\.conv1\.', 'depth_conv.'),
]
NEWCRFS_HEAD_INVERSE_RULES: List[Rule] = [
    (r'^top\.', 'decoder.'),
    (r'^crf_layers\.(\d)\.proj_([xv])\.', r'crf\1.proj_\2.'),
    (r'^crf_layers\.(\d)\.blocks\.(\d+)\.ffn\.layers\.0\.0\.',
     r'crf\1.crf_layer.blocks.\2.mlp.fc1.'),
    (r'^crf_layers\.(\d)\.blocks\.(\d+)\.ffn\.layers\.1\.', r'crf\1.crf_layer.blocks.\2.mlp.fc2.'),
    (r'^crf_layers\.(\d)\.blocks\.(\d+)\.(norm[12]|attn\.qk|attn\.proj)\.',
     r'crf\1.crf_layer.blocks.\2.\3.'),
    (r'^crf_layers\.(\d)\.blocks\.(\d+)\.attn\.relative_position_bias_table$',
     r'crf\1.crf_layer.blocks.\2.attn.relative_position_bias_table'),
    (r'^crf_layers\.(\d)\.norm\.', r'crf\1.norm_crf.'),
    (r'^depth_conv\.', 'disp_head1.conv1.'),
]
NEWCRFS_DROP = (r'\.attn\.relative_position_index$', )


def convert_model(state_dict: StateDict, head_rules: List[Rule],
                  drop: Tuple[str, ...], what: str,
                  backbone_fn: Callable = convert_swin) -> StateDict:
    """Convert a whole official depth network: ``backbone.*`` by ``backbone_fn``, every
    other key by ``head_rules`` under ``decode_head.``; keys matching ``drop`` (decoder
    only) are discarded. Unknown keys raise ``KeyError`` naming them."""
    backbone, out, unknown = OrderedDict(), OrderedDict(), []
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            backbone[key[len('backbone.'):]] = value
            continue
        if any(re.search(p, key) for p in drop):
            continue
        new = _apply_rules(key, head_rules)
        if new is None:
            unknown.append(key)
        else:
            out['decode_head.' + new] = value
    if unknown:
        raise KeyError(f'{_WHERE}: {what} keys with no mapping: {_listing(unknown)}')
    if not backbone:
        raise KeyError(f'{_WHERE}: no "backbone." keys: is this a {what} checkpoint?')
    converted = OrderedDict(('backbone.' + k, v) for k, v in backbone_fn(backbone).items())
    converted.update(out)
    return converted


def model_to_official(state_dict: StateDict, head_inverse_rules: List[Rule], what: str,
                      backbone_fn: Callable = swin_to_official) -> StateDict:
    """Inverse of :func:`convert_model` for the kept keys: ``backbone.*`` by
    ``backbone_fn``, ``decode_head.*`` by ``head_inverse_rules``; the dropped
    ``relative_position_index`` buffers are recomputed (:func:`add_relative_position_index`).
    Keys with no official name raise ``KeyError`` naming them."""
    backbone, head, unknown = OrderedDict(), OrderedDict(), []
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            backbone[key[len('backbone.'):]] = value
            continue
        new = (_apply_rules(key[len('decode_head.'):], head_inverse_rules)
               if key.startswith('decode_head.') else None)
        if new is None:
            unknown.append(key)
        else:
            head[new] = value
    if unknown:
        raise KeyError(f'{_WHERE}: mmdepth_dgr {what} keys with no official name: '
                       f'{_listing(unknown)}')
    out = OrderedDict(('backbone.' + k, v) for k, v in backbone_fn(backbone).items())
    out.update(add_relative_position_index(head))
    return out


def convert_newcrfs(state_dict: StateDict) -> StateDict:
    """Official ``NewCRFDepth`` state dict -> ``MonoDepthEstimator`` with ``NeWCRFsHead``.

    Args:
        state_dict (dict[str, Tensor]): Official weights (``module.`` already removed,
            see :func:`unwrap_state_dict`).

    Returns:
        dict[str, Tensor]: Weights for the mmdepth_dgr model.
    """
    if any(k.startswith('mask_head.') for k in state_dict):
        raise KeyError(f'{_WHERE}: the checkpoint has "mask_head.*" (NeWCRFs up_mode='
                       "'mask'); only the released bilinear-upsampling model is supported.")
    return convert_model(state_dict, NEWCRFS_HEAD_RULES, NEWCRFS_DROP, 'NeWCRFs')


def newcrfs_to_official(state_dict: StateDict) -> StateDict:
    """mmdepth_dgr NeWCRFs weights -> the official ``NewCRFDepth`` state dict (exact
    inverse of :func:`convert_newcrfs`, with the official ``relative_position_index``
    buffers added).

    Args:
        state_dict (dict[str, Tensor]): ``MonoDepthEstimator`` + ``NeWCRFsHead`` weights.

    Returns:
        dict[str, Tensor]: Official keys, no ``module.`` prefix.
    """
    return model_to_official(state_dict, NEWCRFS_HEAD_INVERSE_RULES, 'NeWCRFs')


# --------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------
def build_model(config: str, cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """The mmdepth_dgr network of ``config`` (no pretrained weights are fetched)."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'{_WHERE}: config {config} does not exist; pass --config '
                                'with the config the weights are meant for.')
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmdepth_dgr  # noqa: F401  (registers the models)
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.backbone.get('pretrained') is True:  # a timm encoder: weights come next
        cfg.model.backbone.pretrained = False
    return MODELS.build(cfg.model)


def main(convert: Callable[[StateDict], StateDict] = convert_newcrfs,
         to_official: Callable[[StateDict], StateDict] = newcrfs_to_official,
         host: str = 'NeWCRFs',
         default_config: str = 'configs/newcrfs/newcrfs_swin-l-w7_4xb4-25k_nyu-416x544.py',
         normalize: Optional[Callable[[StateDict], StateDict]] = None,
         argv: Optional[Iterable[str]] = None) -> None:
    """Command line shared by the converters (``--help`` lists the options)."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description=f'Convert an official {host} checkpoint to mmdepth_dgr names; the '
        'checkpoint must hold exactly the official layout of the --config network.')
    parser.add_argument('src', help='official checkpoint (as the official train script '
                        "saves it: {'model': state_dict, ...}, keys prefixed module.)")
    parser.add_argument('dst', help='output path of the converted checkpoint')
    parser.add_argument('--config', default=osp.join(_REPO, default_config),
                        help=f'config of the target network (default: {default_config})')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (mmengine syntax)')
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{_WHERE}: checkpoint {args.src} does not exist.')
    dst_dir = osp.dirname(osp.abspath(args.dst))
    if not osp.isdir(dst_dir):
        raise FileNotFoundError(f'{_WHERE}: output folder {dst_dir} does not exist.')
    model = build_model(args.config, args.cfg_options)
    converted = convert_checkpoint(args.src, model, convert, to_official, host, normalize)
    torch.save({'state_dict': converted,
                'meta': {'converted_from': args.src, 'config': args.config}}, args.dst)
    print(f'{len(converted)} tensors written to {args.dst} (strictly loadable into '
          f'{args.config})')


if __name__ == '__main__':
    main()
