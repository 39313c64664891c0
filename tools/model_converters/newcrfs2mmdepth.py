"""Convert an official NeWCRFs checkpoint (github.com/aliyun/NeWCRFs) to mmdepth_dgr.

The official ``NewCRFDepth`` holds ``backbone`` (Swin, Swin-Transformer-Semantic-
Segmentation layout), ``decoder`` (PSP top), ``crf0..crf3`` (``NewCRF``) and
``disp_head1``; its training script saves ``{'model': DDP.state_dict(), ...}`` so keys
usually start with ``module.``. The result loads into
``configs/newcrfs/newcrfs_swin-l-w7_*.py`` (the host's Swin-L window 7).

Key map (official -> mmdepth_dgr):

* ``backbone.*`` -> ``backbone.*`` with mmseg's Swin names (see :func:`convert_swin`).
* ``decoder.{psp_modules,bottleneck}.*`` -> ``decode_head.top.*`` (same ConvModule names).
* ``crf{k}.proj_{x,v}.*`` -> ``decode_head.crf_layers.{k}.proj_{x,v}.*``;
  ``crf{k}.crf_layer.blocks.{j}.{norm1,norm2,attn.qk,attn.proj,
  attn.relative_position_bias_table}`` -> ``decode_head.crf_layers.{k}.blocks.{j}.*``;
  ``...mlp.fc1`` -> ``...ffn.layers.0.0``, ``...mlp.fc2`` -> ``...ffn.layers.1``;
  ``crf{k}.norm_crf`` -> ``decode_head.crf_layers.{k}.norm``;
  ``attn.relative_position_index`` is dropped (a non-persistent buffer here).
* ``disp_head1.conv1`` -> ``decode_head.depth_conv``.

Usage::

    python tools/model_converters/newcrfs2mmdepth.py model_nyu.ckpt newcrfs_nyu_mmdepth.pth
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

_WHERE = 'tools/model_converters/newcrfs2mmdepth.py'
Rule = Tuple[str, str]


def unwrap_state_dict(checkpoint: dict) -> Dict[str, Tensor]:
    """The model weights of a checkpoint dict, without a DDP ``module.`` prefix.

    Args:
        checkpoint (dict): Loaded checkpoint: ``{'model': sd}``, ``{'state_dict': sd}``
            or a bare state dict.

    Returns:
        dict[str, Tensor]: State dict.
    """
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in checkpoint.items())


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


def _apply_rules(key: str, rules: List[Rule]) -> Optional[str]:
    for pattern, repl in rules:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key, count=1)
    return None


def convert_swin(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
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
NEWCRFS_DROP = (r'\.attn\.relative_position_index$', )


def convert_model(state_dict: Dict[str, Tensor], head_rules: List[Rule],
                  drop: Tuple[str, ...], what: str,
                  backbone_fn: Callable = convert_swin) -> Dict[str, Tensor]:
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
        raise KeyError(f'{_WHERE}: {what} keys with no mapping: {unknown[:10]}'
                       f'{" ..." if len(unknown) > 10 else ""}')
    if not backbone:
        raise KeyError(f'{_WHERE}: no "backbone." keys: is this a {what} checkpoint?')
    converted = OrderedDict(('backbone.' + k, v) for k, v in backbone_fn(backbone).items())
    converted.update(out)
    return converted


def convert_newcrfs(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
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


def main(convert: Callable = convert_newcrfs, host: str = 'NeWCRFs') -> None:
    parser = argparse.ArgumentParser(
        description=f'Convert an official {host} checkpoint to mmdepth_dgr names.')
    parser.add_argument('src', help='official checkpoint (.ckpt / .pth)')
    parser.add_argument('dst', help='output path of the converted checkpoint')
    args = parser.parse_args()
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    converted = convert(unwrap_state_dict(checkpoint))
    dst_dir = osp.dirname(osp.abspath(args.dst))
    if not osp.isdir(dst_dir):
        raise FileNotFoundError(f'{_WHERE}: output folder {dst_dir} does not exist.')
    torch.save({'state_dict': converted, 'meta': {'converted_from': args.src}}, args.dst)
    print(f'{len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
