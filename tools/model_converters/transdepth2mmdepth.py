"""Convert an official TransDepth checkpoint (ygjwd12345/TransDepth, ``pytorch/bts_main.py``)
to this project's ``CNNViTHybrid`` + ``TransDepthHead`` layout, and back.

Official layout: ``torch.save({'global_step', 'model': model.state_dict(), 'optimizer',
...})`` of the DistributedDataParallel/DataParallel ``BtsModel``, so every key starts with
``module.`` (``bts_test.py`` loads it into ``DataParallel(BtsModel)``)::

    encoder.transformer.embeddings.hybrid_model.{root,body}.*  -> backbone.cnn.{root,body}.*
    encoder.transformer.embeddings.patch_embeddings.*
        -> backbone.vit.patch_embed.projection.*
    encoder.transformer.encoder.layer.{i}.attention_norm / ffn_norm / attn.out / ffn.fc1 /
        ffn.fc2  -> backbone.vit.layers.{i}.ln1 / ln2 / attn.attn.out_proj /
        ffn.layers.0.0 / ffn.layers.1
    encoder.transformer.encoder.layer.{i}.attn.{query,key,value}.*
                 -> backbone.vit.layers.{i}.attn.attn.in_proj_* (concatenated q, k, v)
    encoder.transformer.encoder.encoder_norm.*                 -> backbone.vit.ln1.*
    encoder.decoder.conv_more{,_}.{0,1}.*    -> decode_head.token_proj.{0,1}.{conv,bn}.*
    AttentionGraphCondKernel.conv{3,4,5}.{0,1}.*
                                            -> decode_head.agd.proj.{0,1,2}.{conv,bn}.*
    AttentionGraphCondKernel.attention_MSG_{35,45,55}.*  -> decode_head.agd.gates.{0,1,2}.*
        kernel_prediction_{d} / kernel_se_{d} / kernel_sr_{d} / combination_msgs.0
                            -> kernel_pred.{d-1} / kernel_send.{d-1} / kernel_recv.{d-1} / combine.0
    AttentionGraphCondKernel.combination_msgs_5{1,2}.{0,1}.*
                                            -> decode_head.agd.fuse.{0,1}.{conv,bn}.*
    decoder.<bts key>                        -> decode_head.bts.<key> (upconvN.conv -> upconvN.1,
        daspp_{3,6,12,18,24}.atrous_conv.{first_bn, aconv_sequence.{1,2,4}}
            -> daspp.{0..4}.{bn_first, conv1, bn, conv2},
        reducNxN.reduc.{inter_*.0, plane_params, final.0} -> reducNxN.reduc.{0, 2, ...},
        get_depth.0 -> get_depth)

Not converted, because the official forward never uses them: ``encoder.decoder.blocks.*``
(TransUNet's segmentation decoder blocks, built by ``DecoderCup`` but commented out of its
forward).

Usage::

    python tools/model_converters/transdepth2mmdepth.py model-best_abs_rel \\
        transdepth_nyu_mmdepth.pth \\
        --config configs/transdepth/transdepth_r50-vit-b16_4xb4-25k_nyu-416x544.py
"""
import os.path as osp
import re
import sys
from collections import OrderedDict
from functools import partial
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from dpt2mmdepth import convert_checkpoint, read_official_checkpoint, run_cli  # noqa: E402,F401

__all__ = ['convert_transdepth', 'transdepth_to_official', 'read_transdepth_checkpoint',
           'convert_checkpoint', 'UNUSED_PREFIXES']

_WHERE = 'tools/model_converters/transdepth2mmdepth.py'
_EMB = 'encoder.transformer.embeddings.'
_ENC = 'encoder.transformer.encoder.'
_AGD = 'AttentionGraphCondKernel.'
UNUSED_PREFIXES = ('encoder.decoder.blocks.', )
_LAYER = {'attention_norm.': 'ln1.', 'ffn_norm.': 'ln2.', 'attn.out.': 'attn.attn.out_proj.',
          'ffn.fc1.': 'ffn.layers.0.0.', 'ffn.fc2.': 'ffn.layers.1.'}
_CBR = {'0.': 'conv.', '1.': 'bn.'}
_PROJ = {'conv3': '0', 'conv4': '1', 'conv5': '2'}
_GATES = {'attention_MSG_35': '0', 'attention_MSG_45': '1', 'attention_MSG_55': '2'}
_GATE_PARTS = (('kernel_prediction_', 'kernel_pred.'), ('kernel_se_', 'kernel_send.'),
               ('kernel_sr_', 'kernel_recv.'))
_DASPP = {'3': '0', '6': '1', '12': '2', '18': '3', '24': '4'}
_ASPP = {'atrous_conv.first_bn.': 'bn_first.', 'atrous_conv.aconv_sequence.1.': 'conv1.',
         'atrous_conv.aconv_sequence.2.': 'bn.', 'atrous_conv.aconv_sequence.4.': 'conv2.'}
_QKV = ('query', 'key', 'value')
# BTS decoder modules whose names are the same in both layouts
_BTS_SAME = ('bn5', 'bn4', 'bn4_2', 'bn3', 'bn2', 'conv5', 'conv4', 'conv3', 'conv2', 'conv1',
             'daspp_conv')
_RE_LAYER = re.compile(r'^layer\.(\d+)\.(.+)$')
_RE_GATE = re.compile(r'^(kernel_prediction_|kernel_se_|kernel_sr_)(\d)\.(.+)$')
_RE_INTER = re.compile(r'^inter_(\d+)_(\d+)\.0\.(.+)$')


def _swap(rest: str, table: Dict[str, str]) -> str:
    for old, new in table.items():
        if rest.startswith(old):
            return new + rest[len(old):]
    raise KeyError(rest)


def _reduction_index(key: str, sub: str, inters: Dict[str, List[int]]) -> str:
    """Position in the project's flat ``reduc`` Sequential of one official entry."""
    m = _RE_INTER.match(sub)
    outs = inters[key]                     # decreasing widths of this reduction's inters
    if m:
        return f'{2 * outs.index(int(m.group(2)))}.{m.group(3)}'
    for name in ('plane_params.', 'final.0.'):
        if sub.startswith(name):
            return f'{2 * len(outs)}.{sub[len(name):]}'
    raise KeyError(sub)


def _official_to_project(key: str, inters: Dict[str, List[int]]) -> str:
    if key.startswith(_EMB + 'hybrid_model.'):
        return 'backbone.cnn.' + key[len(_EMB + 'hybrid_model.'):]
    if key.startswith(_EMB + 'patch_embeddings.'):
        return 'backbone.vit.patch_embed.projection.' + key[len(_EMB + 'patch_embeddings.'):]
    if key.startswith(_ENC + 'encoder_norm.'):
        return 'backbone.vit.ln1.' + key[len(_ENC + 'encoder_norm.'):]
    if key.startswith(_ENC):
        m = _RE_LAYER.match(key[len(_ENC):])
        if m:
            return f'backbone.vit.layers.{m.group(1)}.{_swap(m.group(2), _LAYER)}'
    for name, idx in (('conv_more.', '0'), ('conv_more_.', '1')):
        if key.startswith('encoder.decoder.' + name):
            return (f'decode_head.token_proj.{idx}.' +
                    _swap(key[len('encoder.decoder.' + name):], _CBR))
    if key.startswith(_AGD):
        head, sub = key[len(_AGD):].split('.', 1)
        if head in _PROJ:
            return f'decode_head.agd.proj.{_PROJ[head]}.{_swap(sub, _CBR)}'
        if head in _GATES:
            base = f'decode_head.agd.gates.{_GATES[head]}.'
            if sub.startswith('combination_msgs.0.'):
                return base + 'combine.0.' + sub[len('combination_msgs.0.'):]
            m = _RE_GATE.match(sub)
            if m:
                part = dict(_GATE_PARTS)[m.group(1)]
                return f'{base}{part}{int(m.group(2)) - 1}.{m.group(3)}'
        if head in ('combination_msgs_51', 'combination_msgs_52'):
            return f'decode_head.agd.fuse.{int(head[-1]) - 1}.{_swap(sub, _CBR)}'
    if key.startswith('decoder.'):
        head, sub = key[len('decoder.'):].split('.', 1)
        base = 'decode_head.bts.'
        if head.startswith('upconv') and sub.startswith('conv.'):
            return f'{base}{head}.1.{sub[len("conv."):]}'
        if head.startswith('daspp_') and head != 'daspp_conv':
            return f'{base}daspp.{_DASPP[head[len("daspp_"):]]}.{_swap(sub, _ASPP)}'
        if head.startswith('reduc') and sub.startswith('reduc.'):
            return (f'{base}{head}.reduc.' +
                    _reduction_index(head, sub[len('reduc.'):], inters))
        if head == 'get_depth' and sub.startswith('0.'):
            return f'{base}get_depth.{sub[2:]}'
        if head in _BTS_SAME:
            return base + key[len('decoder.'):]
    raise KeyError(key)


def _inter_widths(keys, prefix: str) -> Dict[str, List[int]]:
    """Widths of the ``inter_{in}_{out}`` convs of each BTS reduction, in forward order."""
    out: Dict[str, List[int]] = {}
    for key in keys:
        m = re.match(re.escape(prefix) + r'(reduc\dx\d)\.reduc\.inter_(\d+)_(\d+)\.0\.weight$',
                     key)
        if m:
            out.setdefault(m.group(1), []).append(int(m.group(3)))
    for name in ('reduc8x8', 'reduc4x4', 'reduc2x2', 'reduc1x1'):
        out.setdefault(name, [])
        out[name].sort(reverse=True)
    return out


def convert_transdepth(state_dict: Dict[str, torch.Tensor], source: str = '<state dict>'
                       ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official TransDepth state dict (``module.`` removed, see
    :func:`read_transdepth_checkpoint`) to the mmdepth_dgr layout.

    Args:
        state_dict (dict[str, Tensor]): Official weights without the ``module.`` prefix.
        source (str): Name of the file it came from, for error messages.

    Returns:
        tuple[OrderedDict, list[str]]: The converted state dict and the official keys
        left out on purpose (``UNUSED_PREFIXES``).

    Raises:
        KeyError: Naming ``source`` and the keys that are not part of the official layout.
    """
    sd = state_dict
    inters = _inter_widths(sd, 'decoder.')
    out, unused, unknown, qkv = OrderedDict(), [], [], {}
    for key, value in sd.items():
        if key.startswith(UNUSED_PREFIXES):
            unused.append(key)
            continue
        m = re.match(re.escape(_ENC) + r'layer\.(\d+)\.attn\.(query|key|value)\.(weight|bias)$',
                     key)
        if m:
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = value
            continue
        try:
            new = _official_to_project(key, inters)
        except (KeyError, ValueError):
            unknown.append(key)
            continue
        out[new] = value
    for (i, kind), parts in qkv.items():
        if set(parts) != set(_QKV):
            unknown += [f'{_ENC}layer.{i}.attn.{n}.{kind}' for n in _QKV
                        if n not in parts]
            continue
        out[f'backbone.vit.layers.{i}.attn.attn.in_proj_{kind}'] = torch.cat(
            [parts[n] for n in _QKV], dim=0)
    if unknown:
        raise KeyError(f'{_WHERE}: {source}: {len(unknown)} keys are not part of the official '
                       f'TransDepth layout (BtsModel) or are incomplete: {unknown[:10]}'
                       f'{" ..." if len(unknown) > 10 else ""}')
    return out, unused


def _project_to_official(key: str, state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """Official key(s) of one project key (three for a fused q/k/v projection)."""
    inv_cbr = {v: k for k, v in _CBR.items()}
    if key.startswith('backbone.cnn.'):
        return [_EMB + 'hybrid_model.' + key[len('backbone.cnn.'):]]
    if key.startswith('backbone.vit.patch_embed.projection.'):
        return [_EMB + 'patch_embeddings.' + key.rsplit('.', 1)[1]]
    if key.startswith('backbone.vit.ln1.'):
        return [_ENC + 'encoder_norm.' + key.rsplit('.', 1)[1]]
    if key.startswith('backbone.vit.layers.'):
        i, sub = key[len('backbone.vit.layers.'):].split('.', 1)
        if sub.startswith('attn.attn.in_proj_'):
            kind = sub[len('attn.attn.in_proj_'):]
            return [f'{_ENC}layer.{i}.attn.{n}.{kind}' for n in _QKV]
        return [f'{_ENC}layer.{i}.' + _swap(sub, {v: k for k, v in _LAYER.items()})]
    if key.startswith('decode_head.token_proj.'):
        idx, sub = key[len('decode_head.token_proj.'):].split('.', 1)
        return [f'encoder.decoder.{("conv_more", "conv_more_")[int(idx)]}.' +
                _swap(sub, inv_cbr)]
    if key.startswith('decode_head.agd.proj.'):
        idx, sub = key[len('decode_head.agd.proj.'):].split('.', 1)
        name = {v: k for k, v in _PROJ.items()}[idx]
        return [f'{_AGD}{name}.{_swap(sub, inv_cbr)}']
    if key.startswith('decode_head.agd.gates.'):
        idx, sub = key[len('decode_head.agd.gates.'):].split('.', 1)
        base = f'{_AGD}{ {v: k for k, v in _GATES.items()}[idx]}.'
        if sub.startswith('combine.0.'):
            return [base + 'combination_msgs.0.' + sub[len('combine.0.'):]]
        for official, project in _GATE_PARTS:
            if sub.startswith(project):
                d, rest = sub[len(project):].split('.', 1)
                return [f'{base}{official}{int(d) + 1}.{rest}']
    if key.startswith('decode_head.agd.fuse.'):
        idx, sub = key[len('decode_head.agd.fuse.'):].split('.', 1)
        return [f'{_AGD}combination_msgs_5{int(idx) + 1}.{_swap(sub, inv_cbr)}']
    if key.startswith('decode_head.bts.'):
        head, sub = key[len('decode_head.bts.'):].split('.', 1)
        if head.startswith('upconv'):
            return [f'decoder.{head}.conv.{sub[len("1."):]}']
        if head == 'daspp':
            idx, rest = sub.split('.', 1)
            d = {v: k for k, v in _DASPP.items()}[idx]
            return [f'decoder.daspp_{d}.' + _swap(rest, {v: k for k, v in _ASPP.items()})]
        if head.startswith('reduc'):
            pos, leaf = sub[len('reduc.'):].split('.', 1)
            convs = sorted({int(k.split('.')[4]) for k in state_dict
                            if k.startswith(f'decode_head.bts.{head}.reduc.')})
            if int(pos) != convs[-1]:
                w = state_dict[f'decode_head.bts.{head}.reduc.{pos}.weight']
                return [f'decoder.{head}.reduc.inter_{w.shape[1]}_{w.shape[0]}.0.{leaf}']
            last = 'final.0' if head == 'reduc1x1' else 'plane_params'
            return [f'decoder.{head}.reduc.{last}.{leaf}']
        if head == 'get_depth':
            return [f'decoder.get_depth.0.{sub}']
        return [f'decoder.{head}.{sub}']
    raise KeyError(f'{_WHERE}: project key {key!r} has no official TransDepth counterpart')


def _unused_official(like: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Zero tensors for TransUNet's unused ``DecoderCup.blocks`` of the R50-ViT-B_16
    configuration (head 512, decoder (256, 128, 64, 16), skips (512, 256, 64, 0))."""
    out = {}
    ins, outs, skips = (512, 256, 128, 64), (256, 128, 64, 16), (512, 256, 64, 0)
    for b, (cin, cout, skip) in enumerate(zip(ins, outs, skips)):
        for c, (ci, co) in enumerate(((cin + skip, cout), (cout, cout)), start=1):
            base = f'encoder.decoder.blocks.{b}.conv{c}.'
            out[base + '0.weight'] = like.new_zeros(co, ci, 3, 3)
            for name in ('weight', 'bias', 'running_mean'):
                out[f'{base}1.{name}'] = like.new_zeros(co)
            out[base + '1.running_var'] = like.new_ones(co)
            out[base + '1.num_batches_tracked'] = torch.zeros((), dtype=torch.long)
    return out


def transdepth_to_official(state_dict: Dict[str, torch.Tensor]
                           ) -> 'OrderedDict[str, torch.Tensor]':
    """Inverse of :func:`convert_transdepth` (no ``module.`` prefix): a project
    state dict in the official ``BtsModel`` layout. The unused ``encoder.decoder.blocks``
    of TransUNet's R50-ViT-B_16 decoder are added as zero tensors of their official
    shapes, so the result loads strictly into the official network."""
    out = OrderedDict()
    for key, value in state_dict.items():
        names = _project_to_official(key, state_dict)
        if len(names) == 3:
            for name, part in zip(names, value.chunk(3, dim=0)):
                out[name] = part.clone()
        else:
            out[names[0]] = value
    out.update(_unused_official(next(iter(state_dict.values()))))
    return out


#: The official layout: ``{'global_step', 'model', 'optimizer', ...}`` with every key
#: prefixed ``module.`` (bts_main.py saves the DistributedDataParallel model).
read_transdepth_checkpoint = partial(read_official_checkpoint, prefix='required',
                                     model_key_required=True)


def main() -> None:
    run_cli('Convert an official TransDepth checkpoint to mmdepth_dgr keys', 'TransDepth',
            convert_transdepth, transdepth_to_official, read_transdepth_checkpoint)


if __name__ == '__main__':
    main()
