"""Convert an official DPT checkpoint (isl-org/DPT: ``dpt_hybrid-midas-501f0c75.pt``,
``dpt_hybrid_nyu-2ce69ec7.pt``, ``dpt_hybrid_kitti-cb926ef4.pt``, ``dpt_large-midas-
2f21e586.pt``) to this project's ``DPTDepthHead`` + backbone layout, and back.

Official layout (``dpt/models.py``, ``dpt/vit.py``, ``dpt/blocks.py``; ``BaseModel.load``
reads a bare state dict, or ``{'model': ..., 'optimizer': ...}``; no prefix)::

    pretrained.model.patch_embed.backbone.<timm ResNetV2 key>   (DPT-Hybrid only)
                                         -> backbone.cnn.model.<same>
    pretrained.model.patch_embed.proj.*  -> <vit>.patch_embed.projection.*
    pretrained.model.{cls_token,pos_embed} -> <vit>.{cls_token,pos_embed}
    pretrained.model.blocks.{i}.norm1 / attn.qkv / attn.proj / norm2 / mlp.fc1 / mlp.fc2
        -> <vit>.layers.{i}.ln1 / attn.attn.in_proj_* / attn.attn.out_proj / ln2 /
           ffn.layers.0.0 / ffn.layers.1
    pretrained.act_postprocess{k}.0.project.0 / .3 / .4
        -> decode_head.reassemble.{k-1}.readout.project.0 / .project / .resize
    scratch.layer{k}_rn                  -> decode_head.layer_rn.{k-1}
    scratch.refinenet{k}.resConfUnit{1,2} / out_conv
                                         -> decode_head.fusion.{k-1}.res{1,2} / out_conv
    scratch.output_conv.{0,2,4}          -> decode_head.depth_head.{0,2,4}

``<vit>`` is ``backbone.vit`` (DPT-Hybrid, ``CNNViTHybrid``) or ``backbone`` (ViT-B/L).
Not converted, because the official forward never uses them: ``pretrained.model.norm``
and ``pretrained.model.head`` (timm's final norm and classifier; DPT reads the blocks
before the norm) and ``scratch.refinenet4.resConfUnit1`` (the coarsest fusion block has
no second input). The output constants ``scale``/``shift``/``invert`` are constructor
arguments, not weights: set ``decode_head.inverse_scale/inverse_shift`` in the config.

Usage::

    python tools/model_converters/dpt2mmdepth.py dpt_hybrid-midas-501f0c75.pt \\
        pretrain/dpt_hybrid-midas-501f0c75_mmdepth.pth \\
        --config configs/dpt/dpt_r50-vit-b16_4xb4-25k_nyu-416x544.py

The checkpoint is checked against the network of ``--config`` before conversion: every
key of its official layout must be there with its shape and nothing else (the error
names the file and the keys), and the result loads with ``strict=True``. This file also
holds the reading/checking/command-line code the TransDepth and DepthFormer converters
share.
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Sequence, Tuple

import torch

__all__ = ['convert_dpt', 'dpt_to_official', 'read_official_checkpoint', 'convert_checkpoint',
           'check_official_layout', 'run_cli', 'UNUSED_PREFIXES']

_WHERE = 'tools/model_converters/dpt2mmdepth.py'
_P = 'pretrained.model.'
_HYBRID = _P + 'patch_embed.backbone.'
UNUSED_PREFIXES = (_P + 'norm.', _P + 'head.', 'scratch.refinenet4.resConfUnit1.')
_BLOCK = {'norm1.': 'ln1.', 'norm2.': 'ln2.', 'attn.proj.': 'attn.attn.out_proj.',
          'mlp.fc1.': 'ffn.layers.0.0.', 'mlp.fc2.': 'ffn.layers.1.'}
_POST = {'0.project.0.': 'readout.project.0.', '3.': 'project.', '4.': 'resize.'}
_RE_BLOCK = re.compile(r'^blocks\.(\d+)\.(.+)$')
_RE_POST = re.compile(r'^pretrained\.act_postprocess(\d)\.(.+)$')
_RE_RN = re.compile(r'^scratch\.layer(\d)_rn\.(.+)$')
_RE_REFINE = re.compile(r'^scratch\.refinenet(\d)\.(.+)$')


def _swap(rest: str, table: Dict[str, str]) -> str:
    for old, new in table.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    raise KeyError(rest)


def _official_to_project(key: str, vit: str) -> str:
    """Project key of one (used) official key; KeyError if it is not DPT's."""
    if key.startswith(_HYBRID):
        return 'backbone.cnn.model.' + key[len(_HYBRID):]
    if key.startswith(_P):
        rest = key[len(_P):]
        if rest in ('cls_token', 'pos_embed'):
            return vit + rest
        if rest.startswith('patch_embed.proj.'):
            return vit + 'patch_embed.projection.' + rest[len('patch_embed.proj.'):]
        m = _RE_BLOCK.match(rest)
        if m:
            i, sub = m.groups()
            if sub.startswith('attn.qkv.'):
                return f'{vit}layers.{i}.attn.attn.in_proj_{sub[len("attn.qkv."):]}'
            return f'{vit}layers.{i}.{_swap(sub, _BLOCK)}'
    m = _RE_POST.match(key)
    if m:
        return f'decode_head.reassemble.{int(m.group(1)) - 1}.{_swap(m.group(2), _POST)}'
    m = _RE_RN.match(key)
    if m:
        return f'decode_head.layer_rn.{int(m.group(1)) - 1}.{m.group(2)}'
    m = _RE_REFINE.match(key)
    if m:
        sub = m.group(2).replace('resConfUnit1.', 'res1.').replace('resConfUnit2.', 'res2.')
        if not sub.startswith(('res1.', 'res2.', 'out_conv.')):
            raise KeyError(key)
        return f'decode_head.fusion.{int(m.group(1)) - 1}.{sub}'
    if key.startswith('scratch.output_conv.'):
        return 'decode_head.depth_head.' + key[len('scratch.output_conv.'):]
    raise KeyError(key)


def convert_dpt(state_dict: Dict[str, torch.Tensor], source: str = '<state dict>'
                ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official DPT state dict to the mmdepth_dgr layout.

    Args:
        state_dict (dict[str, Tensor]): The official model's ``state_dict()``.
        source (str): Name of the file it came from, for error messages.

    Returns:
        tuple[OrderedDict, list[str]]: The converted state dict and the official keys
        left out on purpose (see ``UNUSED_PREFIXES``).

    Raises:
        KeyError: Naming ``source`` and every key that is not part of the official DPT
            layout.
    """
    vit = 'backbone.vit.' if any(k.startswith(_HYBRID) for k in state_dict) else 'backbone.'
    out, unused, unknown = OrderedDict(), [], []
    for key, value in state_dict.items():
        if key.startswith(UNUSED_PREFIXES):
            unused.append(key)
            continue
        try:
            new = _official_to_project(key, vit)
        except KeyError:
            unknown.append(key)
            continue
        if new in out:
            raise KeyError(f'{_WHERE}: {source}: two keys map to {new!r}')
        out[new] = value
    if unknown:
        raise KeyError(f'{_WHERE}: {source}: {len(unknown)} keys are not part of the official '
                       f'DPT layout (DPTDepthModel): {unknown[:10]}'
                       f'{" ..." if len(unknown) > 10 else ""}')
    return out, unused


def dpt_to_official(state_dict: Dict[str, torch.Tensor], num_classes: int = 1000
                    ) -> 'OrderedDict[str, torch.Tensor]':
    """Inverse of :func:`convert_dpt`: a project state dict in the official layout.

    The official keys the forward never uses (``UNUSED_PREFIXES``) are added as zeros of
    their official shapes (timm's classifier has ``num_classes`` outputs), so the result
    loads strictly into ``DPTDepthModel``.

    Args:
        state_dict (dict[str, Tensor]): ``MonoDepthEstimator.state_dict()`` of a DPT config.
        num_classes (int): Rows of the unused timm classifier. Defaults to 1000.

    Returns:
        OrderedDict[str, Tensor]: Official keys.
    """
    hybrid = any(k.startswith('backbone.cnn.') for k in state_dict)
    vit = 'backbone.vit.' if hybrid else 'backbone.'
    inverse = {}
    for key in state_dict:
        if key.startswith(vit + 'patch_embed.projection.'):
            official = _P + 'patch_embed.proj.' + key.rsplit('.', 1)[1]
        elif key.startswith('backbone.cnn.model.'):
            official = _HYBRID + key[len('backbone.cnn.model.'):]
        elif key.startswith(vit + 'layers.'):
            i, sub = key[len(vit + 'layers.'):].split('.', 1)
            if sub.startswith('attn.attn.in_proj_'):
                official = f'{_P}blocks.{i}.attn.qkv.{sub[len("attn.attn.in_proj_"):]}'
            else:
                official = f'{_P}blocks.{i}.' + _swap(sub, {v: k for k, v in _BLOCK.items()})
        elif key in (vit + 'cls_token', vit + 'pos_embed'):
            official = _P + key[len(vit):]
        elif key.startswith('decode_head.reassemble.'):
            k, sub = key[len('decode_head.reassemble.'):].split('.', 1)
            official = (f'pretrained.act_postprocess{int(k) + 1}.' +
                        _swap(sub, {v: o for o, v in _POST.items()}))
        elif key.startswith('decode_head.layer_rn.'):
            k, sub = key[len('decode_head.layer_rn.'):].split('.', 1)
            official = f'scratch.layer{int(k) + 1}_rn.{sub}'
        elif key.startswith('decode_head.fusion.'):
            k, sub = key[len('decode_head.fusion.'):].split('.', 1)
            sub = sub.replace('res1.', 'resConfUnit1.').replace('res2.', 'resConfUnit2.')
            official = f'scratch.refinenet{int(k) + 1}.{sub}'
        elif key.startswith('decode_head.depth_head.'):
            official = 'scratch.output_conv.' + key[len('decode_head.depth_head.'):]
        else:
            raise KeyError(f'{_WHERE}: project key {key!r} has no official DPT counterpart')
        inverse[official] = state_dict[key]
    dims = state_dict[vit + 'cls_token'].shape[-1]
    feats = state_dict['decode_head.fusion.3.res2.conv1.weight'].shape[0]
    like = state_dict[vit + 'cls_token']
    unused = {_P + 'norm.weight': (dims, ), _P + 'norm.bias': (dims, ),
              _P + 'head.weight': (num_classes, dims), _P + 'head.bias': (num_classes, )}
    for j in (1, 2):
        unused[f'scratch.refinenet4.resConfUnit1.conv{j}.weight'] = (feats, feats, 3, 3)
        unused[f'scratch.refinenet4.resConfUnit1.conv{j}.bias'] = (feats, )
    for key, shape in unused.items():
        inverse[key] = like.new_zeros(shape)
    return OrderedDict(inverse)


# --------------------------------------------------------------------------------------
# Reading official files, the strict layout check and the command line (shared by the
# DPT, TransDepth and DepthFormer converters).
# --------------------------------------------------------------------------------------
def _listing(keys: Sequence[str], limit: int = 10) -> str:
    more = f' ... ({len(keys)} in all)' if len(keys) > limit else ''
    return f'{list(keys[:limit])}{more}'


def read_official_checkpoint(src: str, prefix: str = 'forbidden',
                             model_key_required: bool = False) -> Dict[str, torch.Tensor]:
    """The model weights of an official checkpoint file, without any ``module.`` prefix.

    Args:
        src (str): The file.
        prefix (str): ``'required'`` (every key must start with ``module.``, as a
            DataParallel train script saves and its loader expects), ``'forbidden'`` (no
            key may) or ``'optional'`` (all or none, the official loader strips it).
            Defaults to 'forbidden'.
        model_key_required (bool): The file must be ``{'model': state_dict, ...}``; else
            a bare state dict is accepted too. Defaults to False.

    Returns:
        dict[str, Tensor]: The weights, prefix removed.

    Raises:
        KeyError / TypeError: Naming ``src`` when the file is not in that layout.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'{_WHERE}: checkpoint {src} does not exist')
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    if not isinstance(ckpt, dict):
        raise TypeError(f'{_WHERE}: {src} holds a {type(ckpt).__name__}, not a checkpoint dict')
    if isinstance(ckpt.get('model'), dict):
        state = ckpt['model']
    elif not model_key_required and ckpt and all(torch.is_tensor(v) for v in ckpt.values()):
        state = ckpt
    else:
        raise KeyError(f'{_WHERE}: {src} has no "model" state dict (top-level keys '
                       f'{_listing(sorted(map(str, ckpt)))}); the official train script saves '
                       "{'model': model.state_dict(), ...}")
    with_prefix = [k for k in state if k.startswith('module.')]
    if prefix == 'required' and len(with_prefix) != len(state):
        bare = [k for k in state if not k.startswith('module.')]
        raise KeyError(f'{_WHERE}: {src}: keys {_listing(bare)} lack the "module." prefix the '
                       'official train script saves (DataParallel / DistributedDataParallel)')
    if prefix == 'forbidden' and with_prefix:
        raise KeyError(f'{_WHERE}: {src}: keys {_listing(with_prefix)} start with "module."; '
                       'the official loader reads unprefixed keys')
    if prefix == 'optional' and with_prefix and len(with_prefix) != len(state):
        raise KeyError(f'{_WHERE}: {src}: {len(with_prefix)} keys start with "module." and '
                       f'{len(state) - len(with_prefix)} do not; expected one layout')
    n = len('module.') if with_prefix else 0
    return OrderedDict((k[n:], v) for k, v in state.items())


def check_official_layout(state_dict: Dict[str, torch.Tensor],
                          expected: Dict[str, torch.Tensor], src: str, host: str) -> None:
    """Raise unless ``state_dict`` has exactly the keys and shapes of ``expected`` (the
    target network's weights mapped to the official layout), naming ``src`` and the
    missing, unexpected and mis-shaped keys."""
    missing = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    shapes = [f'{k}: {tuple(state_dict[k].shape)} != {tuple(expected[k].shape)}'
              for k in expected if k in state_dict
              and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    parts = ([f'missing keys {_listing(missing)}'] if missing else []) + \
        ([f'unexpected keys {_listing(extra)}'] if extra else []) + \
        ([f'shapes that differ (checkpoint != expected) {_listing(shapes)}'] if shapes else [])
    if parts:
        raise KeyError(f'{_WHERE}: {src} is not an official {host} checkpoint of the '
                       'configured network (keys without "module."): ' + '; '.join(parts))


def convert_checkpoint(src: str, model: torch.nn.Module, convert: Callable,
                       to_official: Callable, host: str,
                       read: Callable[[str], Dict[str, torch.Tensor]] = None
                       ) -> Dict[str, torch.Tensor]:
    """Read ``src``, check it is exactly ``model``'s official layout, convert, load strictly.

    Args:
        src (str): Official checkpoint file.
        model (nn.Module): The mmdepth_dgr network it is meant for (its weights are
            replaced by the converted ones).
        convert (callable): Official state dict -> mmdepth_dgr state dict (or the
            ``(state dict, unused keys)`` pair the ``convert_*`` functions return).
        to_official (callable): The inverse of ``convert`` (gives the expected layout).
        host (str): Network name for messages.
        read (callable, optional): File -> official state dict without prefix.
            Defaults to :func:`read_official_checkpoint` with DPT's layout.

    Returns:
        dict[str, Tensor]: The converted state dict (loaded into ``model``).
    """
    state = (read or read_official_checkpoint)(src)
    check_official_layout(state, to_official(model.state_dict()), src, host)
    converted = convert(state)
    if isinstance(converted, tuple):
        converted = converted[0]
    model.load_state_dict(converted, strict=True)
    return converted


def run_cli(description: str, host: str, convert: Callable, to_official: Callable,
            read: Callable[[str], Dict[str, torch.Tensor]]) -> None:
    """``SRC DST --config CONFIG``: convert ``SRC`` for the network of ``CONFIG`` (checked
    key by key and loaded strictly) and save ``{'state_dict', 'meta'}`` to ``DST``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=f'official {host} checkpoint')
    parser.add_argument('dst', help='output path (.pth)')
    parser.add_argument('--config', required=True,
                        help='mmdepth_dgr config of the network the checkpoint is for; the '
                        'checkpoint must match it key by key')
    args = parser.parse_args()
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmdepth_dgr  # noqa: F401  (registers the project's modules)
    from mmdepth_dgr.apis import disable_pretrained_weights
    init_default_scope('mmseg')
    model = MODELS.build(disable_pretrained_weights(Config.fromfile(args.config).model))
    state = convert_checkpoint(args.src, model, convert, to_official, host, read)
    torch.save(dict(state_dict=state, meta=dict(converted_from=args.src,
                                                config=args.config)), args.dst)
    print(f'{host}: {len(state)} tensors written to {args.dst} (checked against '
          f'{args.config}, loaded with strict=True)')


def main() -> None:
    run_cli('Convert an official DPT checkpoint to mmdepth_dgr keys', 'DPT', convert_dpt,
            dpt_to_official, read_official_checkpoint)


if __name__ == '__main__':
    main()
