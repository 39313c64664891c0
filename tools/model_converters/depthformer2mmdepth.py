"""Convert an official DepthFormer checkpoint (Agarwal & Arora, ashutosh1807/Depthformer:
``Depthformer_nyu.pt`` / ``Depthformer_kitti.pt``) to this project's ``SegFormerMiT`` +
``DepthFormerHead`` layout, and back.

Official layout: ``model_io.save_checkpoint`` writes ``{'model': model.state_dict(),
'optimizer': ..., 'epoch': ...}`` of the DistributedDataParallel ``UnetAdaptiveBins``, so
keys start with ``module.`` (``model_io.load_checkpoint`` strips it when present, and maps
two older AdaBins names, accepted here too)::

    encoder.model1.patch_embed{k}.{proj,norm}  -> backbone.layers.{k-1}.0.{projection,norm}
    encoder.model1.block{k}.{j}.norm1 / norm2 / attn.proj / attn.sr / attn.norm
        -> backbone.layers.{k-1}.1.{j}.norm1 / norm2 / attn.attn.out_proj / attn.sr / attn.norm
    encoder.model1.block{k}.{j}.attn.{q,kv}    -> ...attn.attn.in_proj_* (q then kv)
    encoder.model1.block{k}.{j}.mlp.{fc1, dwconv.dwconv, fc2}
        -> ...ffn.layers.{0, 1, 4} (the linears as 1x1 convs)
    encoder.model1.norm{k}                     -> backbone.layers.{k-1}.2
    decoder.conv1.{0,1}                        -> decode_head.bottleneck.{conv,bn}
    decoder.up{k}.conv_transpose / _net.{0,1,3,4}
        -> decode_head.up_blocks.{k-1}.up / convs.{0.conv,0.bn,1.conv,1.bn}
    decoder.conv_transpose1 / decoder.conv2.{0,1,3,4}
        -> decode_head.final_up / final_convs.{0.conv,0.bn,1.conv,1.bn}
    adaptive_bins_layer.patch_transformer.{embedding_convPxP, positional_encodings,
        transformer_encoder} -> decode_head.transbins.{patch_embed, pos_embed, transformer}
    adaptive_bins_layer.regressor / conv_out.0 -> decode_head.transbins.{regressor, conv_out}

Not converted, because the official forward never uses them (their outputs are
discarded): ``decoder.conv_transpose2``, ``decoder.conv3``, ``decoder.conv4``,
``decoder.regressor`` and ``adaptive_bins_layer.conv3x3`` (the range-attention conv).

Usage::

    python tools/model_converters/depthformer2mmdepth.py Depthformer_nyu.pt \\
        depthformer_nyu_mmdepth.pth \\
        --config configs/depthformer/depthformer_mit-b4_4xb4-25k_nyu-416x544.py
"""
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from dpt2mmdepth import convert_checkpoint, read_official_checkpoint, run_cli  # noqa: E402,F401

__all__ = ['convert_depthformer', 'depthformer_to_official', 'read_depthformer_checkpoint',
           'normalize_legacy_names', 'convert_checkpoint', 'UNUSED_PREFIXES']

_WHERE = 'tools/model_converters/depthformer2mmdepth.py'
_MIT = 'encoder.model1.'
UNUSED_PREFIXES = ('decoder.conv_transpose2.', 'decoder.conv3.', 'decoder.conv4.',
                   'decoder.regressor.', 'adaptive_bins_layer.conv3x3.')
# older AdaBins names that the official loader renames (model_io.load_checkpoint)
_LEGACY = (('adaptive_bins_layer.embedding_conv.', 'adaptive_bins_layer.conv3x3.'),
           ('adaptive_bins_layer.patch_transformer.embedding_encoder',
            'adaptive_bins_layer.patch_transformer.embedding_convPxP'))
_NET = {'0.': '0.conv.', '1.': '0.bn.', '3.': '1.conv.', '4.': '1.bn.'}
_BLOCK = {'norm1.': 'norm1.', 'norm2.': 'norm2.', 'attn.proj.': 'attn.attn.out_proj.',
          'attn.sr.': 'attn.sr.', 'attn.norm.': 'attn.norm.',
          'mlp.fc1.': 'ffn.layers.0.', 'mlp.dwconv.dwconv.': 'ffn.layers.1.',
          'mlp.fc2.': 'ffn.layers.4.'}
_HEAD = (('decoder.conv_transpose1.', 'decode_head.final_up.'),
         ('adaptive_bins_layer.patch_transformer.embedding_convPxP.',
          'decode_head.transbins.patch_embed.'),
         ('adaptive_bins_layer.patch_transformer.positional_encodings',
          'decode_head.transbins.pos_embed'),
         ('adaptive_bins_layer.patch_transformer.transformer_encoder.',
          'decode_head.transbins.transformer.'),
         ('adaptive_bins_layer.regressor.', 'decode_head.transbins.regressor.'),
         ('conv_out.0.', 'decode_head.transbins.conv_out.'))
_RE_BLOCK = re.compile(r'^block(\d)\.(\d+)\.(.+)$')
_RE_UP = re.compile(r'^decoder\.up(\d)\.(.+)$')


def _swap(rest: str, table: Dict[str, str]) -> str:
    for old, new in table.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    raise KeyError(rest)


def _official_to_project(key: str, value: torch.Tensor) -> Tuple[str, torch.Tensor]:
    if key.startswith(_MIT):
        rest = key[len(_MIT):]
        m = re.match(r'^patch_embed(\d)\.(proj|norm)\.(.+)$', rest)
        if m:
            part = 'projection' if m.group(2) == 'proj' else 'norm'
            return f'backbone.layers.{int(m.group(1)) - 1}.0.{part}.{m.group(3)}', value
        m = re.match(r'^norm(\d)\.(.+)$', rest)
        if m:
            return f'backbone.layers.{int(m.group(1)) - 1}.2.{m.group(2)}', value
        m = _RE_BLOCK.match(rest)
        if m:
            k, j, sub = m.groups()
            new = f'backbone.layers.{int(k) - 1}.1.{j}.{_swap(sub, _BLOCK)}'
            if sub.startswith(('mlp.fc1.weight', 'mlp.fc2.weight')):
                value = value[:, :, None, None]          # Linear -> 1x1 conv
            return new, value
    if key.startswith('decoder.conv1.'):
        return 'decode_head.bottleneck.' + _swap(key[len('decoder.conv1.'):],
                                                 {'0.': 'conv.', '1.': 'bn.'}), value
    if key.startswith('decoder.conv2.'):
        return 'decode_head.final_convs.' + _swap(key[len('decoder.conv2.'):], _NET), value
    m = _RE_UP.match(key)
    if m:
        k, sub = m.groups()
        base = f'decode_head.up_blocks.{int(k) - 1}.'
        if sub.startswith('conv_transpose.'):
            return base + 'up.' + sub[len('conv_transpose.'):], value
        if sub.startswith('_net.'):
            return base + 'convs.' + _swap(sub[len('_net.'):], _NET), value
    for old, new in _HEAD:
        if key.startswith(old):
            return new + key[len(old):], value
    raise KeyError(key)


def normalize_legacy_names(state_dict: Dict[str, torch.Tensor]
                           ) -> 'OrderedDict[str, torch.Tensor]':
    """Rename the two older AdaBins key names, as ``model_io.load_checkpoint`` does."""
    out = OrderedDict()
    for key, value in state_dict.items():
        for old, new in _LEGACY:
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


def convert_depthformer(state_dict: Dict[str, torch.Tensor], source: str = '<state dict>'
                        ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official DepthFormer state dict (``module.`` removed, see
    :func:`read_depthformer_checkpoint`) to the mmdepth_dgr layout.

    Args:
        state_dict (dict[str, Tensor]): Official weights without the ``module.`` prefix.
        source (str): Name of the file it came from, for error messages.

    Returns:
        tuple[OrderedDict, list[str]]: The converted state dict and the official keys left
        out on purpose (``UNUSED_PREFIXES``).

    Raises:
        KeyError: Naming ``source`` and the keys that are not part of the official layout.
    """
    out, unused, unknown, qkv = OrderedDict(), [], [], {}
    for key, value in normalize_legacy_names(state_dict).items():
        if key.startswith(UNUSED_PREFIXES):
            unused.append(key)
            continue
        m = re.match(re.escape(_MIT) + r'block(\d)\.(\d+)\.attn\.(q|kv)\.(weight|bias)$', key)
        if m:
            qkv.setdefault((m.group(1), m.group(2), m.group(4)), {})[m.group(3)] = value
            continue
        try:
            new, value = _official_to_project(key, value)
        except KeyError:
            unknown.append(key)
            continue
        if new in out:
            raise KeyError(f'{_WHERE}: {source}: two keys map to {new!r}')
        out[new] = value
    for (k, j, kind), parts in qkv.items():
        if set(parts) != {'q', 'kv'}:
            unknown.append(f'{_MIT}block{k}.{j}.attn.{{q,kv}}.{kind} (one is missing)')
            continue
        out[f'backbone.layers.{int(k) - 1}.1.{j}.attn.attn.in_proj_{kind}'] = torch.cat(
            [parts['q'], parts['kv']], dim=0)
    if unknown:
        raise KeyError(f'{_WHERE}: {source}: {len(unknown)} keys are not part of the official '
                       f'DepthFormer layout (UnetAdaptiveBins with mit_b4): {unknown[:10]}'
                       f'{" ..." if len(unknown) > 10 else ""}')
    return out, unused


def _project_to_official(key: str, value: torch.Tensor) -> List[Tuple[str, torch.Tensor]]:
    m = re.match(r'^backbone\.layers\.(\d)\.(\d)\.(.+)$', key)
    if m:
        k, part, rest = int(m.group(1)) + 1, m.group(2), m.group(3)
        if part == '0':
            name, leaf = rest.split('.', 1)
            return [(f'{_MIT}patch_embed{k}.{"proj" if name == "projection" else "norm"}.'
                     f'{leaf}', value)]
        if part == '2':
            return [(f'{_MIT}norm{k}.{rest}', value)]
        j, sub = rest.split('.', 1)
        base = f'{_MIT}block{k}.{j}.'
        if sub.startswith('attn.attn.in_proj_'):
            kind = sub[len('attn.attn.in_proj_'):]
            dims = value.shape[0] // 3
            return [(base + f'attn.q.{kind}', value[:dims].clone()),
                    (base + f'attn.kv.{kind}', value[dims:].clone())]
        new = base + _swap(sub, {v: o for o, v in _BLOCK.items()})
        if sub in ('ffn.layers.0.weight', 'ffn.layers.4.weight'):
            value = value[:, :, 0, 0]                   # 1x1 conv -> Linear
        return [(new, value)]
    inv_net = {v: o for o, v in _NET.items()}
    if key.startswith('decode_head.bottleneck.'):
        return [('decoder.conv1.' + _swap(key[len('decode_head.bottleneck.'):],
                                          {'conv.': '0.', 'bn.': '1.'}), value)]
    if key.startswith('decode_head.final_convs.'):
        return [('decoder.conv2.' + _swap(key[len('decode_head.final_convs.'):], inv_net),
                 value)]
    m = re.match(r'^decode_head\.up_blocks\.(\d)\.(up|convs)\.(.+)$', key)
    if m:
        base = f'decoder.up{int(m.group(1)) + 1}.'
        if m.group(2) == 'up':
            return [(base + 'conv_transpose.' + m.group(3), value)]
        return [(base + '_net.' + _swap(m.group(3), inv_net), value)]
    for old, new in _HEAD:
        if key.startswith(new):
            return [(old + key[len(new):], value)]
    raise KeyError(f'{_WHERE}: project key {key!r} has no official DepthFormer counterpart')


def depthformer_to_official(state_dict: Dict[str, torch.Tensor], n_classes: int = 256
                            ) -> 'OrderedDict[str, torch.Tensor]':
    """Inverse of :func:`convert_depthformer` (no ``module.`` prefix).

    The official modules the forward never uses (``UNUSED_PREFIXES``) are added as zeros
    (BN running variances as ones) of their official shapes, so the result loads strictly
    into ``UnetAdaptiveBins``.

    Args:
        state_dict (dict[str, Tensor]): ``MonoDepthEstimator.state_dict()`` of a
            DepthFormer config.
        n_classes (int): Outputs of the unused ``decoder.conv4`` (``DecoderBN``'s
            ``num_classes``, 256 whatever ``n_bins`` is). Defaults to 256.

    Returns:
        OrderedDict[str, Tensor]: Official keys.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        for name, tensor in _project_to_official(key, value):
            out[name] = tensor
    like = state_dict['decode_head.final_up.weight']
    c0 = like.shape[0]
    embed = state_dict['decode_head.transbins.patch_embed.weight'].shape[0]
    width = state_dict['decode_head.transbins.conv_out.weight'].shape[1]
    z = like.new_zeros
    out['decoder.conv_transpose2.weight'] = z(c0, c0, 2, 2)
    out['decoder.conv_transpose2.bias'] = z(c0)
    for idx in ('0', '3'):
        out[f'decoder.conv3.{idx}.weight'] = z(c0, c0, 3, 3)
        out[f'decoder.conv3.{idx}.bias'] = z(c0)
    for idx in ('1', '4'):
        for name in ('weight', 'bias', 'running_mean'):
            out[f'decoder.conv3.{idx}.{name}'] = z(c0)
        out[f'decoder.conv3.{idx}.running_var'] = like.new_ones(c0)
        out[f'decoder.conv3.{idx}.num_batches_tracked'] = torch.zeros((), dtype=torch.long)
    out['decoder.conv4.0.weight'] = z(n_classes, c0, 1, 1)
    out['decoder.conv4.0.bias'] = z(n_classes)
    for idx in ('0', '2', '4'):
        out[f'decoder.regressor.{idx}.weight'] = z(256, 256)
        out[f'decoder.regressor.{idx}.bias'] = z(256)
    out['adaptive_bins_layer.conv3x3.weight'] = z(embed, width, 3, 3)
    out['adaptive_bins_layer.conv3x3.bias'] = z(embed)
    return out


def read_depthformer_checkpoint(src: str) -> Dict[str, torch.Tensor]:
    """The official layout: ``{'model', 'optimizer', 'epoch'}``, keys all with the
    ``module.`` prefix (as saved) or all without (the official loader strips it), older
    AdaBins names renamed as the official loader does."""
    return normalize_legacy_names(read_official_checkpoint(src, prefix='optional',
                                                           model_key_required=True))


def main() -> None:
    run_cli('Convert an official DepthFormer checkpoint to mmdepth_dgr keys', 'DepthFormer',
            convert_depthformer, depthformer_to_official, read_depthformer_checkpoint)


if __name__ == '__main__':
    main()
