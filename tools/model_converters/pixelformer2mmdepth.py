"""Convert an official PixelFormer checkpoint (github.com/ashutosh1807/PixelFormer) to
mmdepth_dgr.

The official ``PixelFormer`` holds ``backbone`` (the same Swin code as NeWCRFs),
``decoder`` (PQI = PSP top), ``sam1..sam4`` (``SAM``), ``bcp`` and ``disp_head1``. Its
``pixelformer/train.py`` saves ``{'model': model.state_dict()}`` with the model wrapped
in DistributedDataParallel / DataParallel, so every key starts with ``module.``. The
result loads into ``configs/pixelformer/pixelformer_swin-l-w7_*.py``; the command line
checks the layout first (see ``newcrfs2mmdepth.py``).

Key map (official -> mmdepth_dgr, decoder under ``decode_head.``;
:func:`pixelformer_to_official` is the exact inverse, filling the unused ``sam{k}.proj``
with zeros):

* ``backbone.*`` -> mmseg Swin names (``newcrfs2mmdepth.convert_swin``).
* ``decoder.*`` -> ``top.*``.
* ``sam{k}.proj_e`` -> ``sams.{k-1}.proj_skip``; ``sam{k}.proj_q`` -> ``sams.{k-1}.proj_query``;
  ``sam{k}.proj`` is dropped (built but never used in the host's ``SAM.forward``).
* ``sam{k}.sam_block.norm1`` -> ``sams.{k-1}.block.norm_query``; ``normv`` -> ``norm_skip``;
  ``attn.{q,kv,proj,relative_position_bias_table}`` and ``norm2`` keep their names;
  ``mlp.fc1`` -> ``ffn.layers.0.0``; ``mlp.fc2`` -> ``ffn.layers.1``;
  ``attn.relative_position_index`` is dropped.
* ``sam{k}.norm_sam`` -> ``sams.{k-1}.norm``.
* ``bcp.fc{1,2}`` -> ``bcp.fc{1,2}``; ``disp_head1.conv1`` -> ``bin_conv``.

Usage::

    python tools/model_converters/pixelformer2mmdepth.py nyu.pth pixelformer_nyu_mmdepth.pth
    # another target network: --config configs/pixelformer/<config>.py
"""
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List

from torch import Tensor

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from newcrfs2mmdepth import (Rule, convert_checkpoint, convert_model, main,  # noqa: E402,F401
                             model_to_official)

_WHERE = 'tools/model_converters/pixelformer2mmdepth.py'

PIXELFORMER_HEAD_RULES: List[Rule] = [
    (r'^decoder\.', 'top.'),
    (r'^sam(\d)\.proj_e\.', r'sams.\1.proj_skip.'),
    (r'^sam(\d)\.proj_q\.', r'sams.\1.proj_query.'),
    (r'^sam(\d)\.sam_block\.norm1\.', r'sams.\1.block.norm_query.'),
    (r'^sam(\d)\.sam_block\.normv\.', r'sams.\1.block.norm_skip.'),
    (r'^sam(\d)\.sam_block\.norm2\.', r'sams.\1.block.norm2.'),
    (r'^sam(\d)\.sam_block\.attn\.(q|kv|proj)\.', r'sams.\1.block.attn.\2.'),
    (r'^sam(\d)\.sam_block\.attn\.relative_position_bias_table$',
     r'sams.\1.block.attn.relative_position_bias_table'),
    (r'^sam(\d)\.sam_block\.mlp\.fc1\.', r'sams.\1.block.ffn.layers.0.0.'),
    (r'^sam(\d)\.sam_block\.mlp\.fc2\.', r'sams.\1.block.ffn.layers.1.'),
    (r'^sam(\d)\.norm_sam\.', r'sams.\1.norm.'),
    (r'^bcp\.(fc[12])\.', r'bcp.\1.'),
    (r'^disp_head1\.conv1\.', 'bin_conv.'),
]
PIXELFORMER_HEAD_INVERSE_RULES: List[Rule] = [
    (r'^top\.', 'decoder.'),
    (r'^sams\.(\d)\.proj_skip\.', r'sam\1.proj_e.'),
    (r'^sams\.(\d)\.proj_query\.', r'sam\1.proj_q.'),
    (r'^sams\.(\d)\.block\.norm_query\.', r'sam\1.sam_block.norm1.'),
    (r'^sams\.(\d)\.block\.norm_skip\.', r'sam\1.sam_block.normv.'),
    (r'^sams\.(\d)\.block\.norm2\.', r'sam\1.sam_block.norm2.'),
    (r'^sams\.(\d)\.block\.attn\.(q|kv|proj)\.', r'sam\1.sam_block.attn.\2.'),
    (r'^sams\.(\d)\.block\.attn\.relative_position_bias_table$',
     r'sam\1.sam_block.attn.relative_position_bias_table'),
    (r'^sams\.(\d)\.block\.ffn\.layers\.0\.0\.', r'sam\1.sam_block.mlp.fc1.'),
    (r'^sams\.(\d)\.block\.ffn\.layers\.1\.', r'sam\1.sam_block.mlp.fc2.'),
    (r'^sams\.(\d)\.norm\.', r'sam\1.norm_sam.'),
    (r'^bcp\.(fc[12])\.', r'bcp.\1.'),
    (r'^bin_conv\.', 'disp_head1.conv1.'),
]
PIXELFORMER_DROP = (r'\.attn\.relative_position_index$', r'^sam\d\.proj\.')


def _shift_sam_index(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """``sam1..sam4`` (1-based in the host) -> ``sam0..sam3`` (our finest-first list)."""
    out = {}
    for key, value in state_dict.items():
        m = re.match(r'^sam(\d)\.', key)
        if m:
            k = int(m.group(1))
            if not 1 <= k <= 4:
                raise KeyError(f'{_WHERE}: unexpected SAM index in key "{key}".')
            key = f'sam{k - 1}.' + key[m.end():]
        out[key] = value
    return out


def _shift_sam_index_up(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Inverse of :func:`_shift_sam_index`: ``sam0..sam3`` -> ``sam1..sam4``."""
    out = OrderedDict()
    for key, value in state_dict.items():
        m = re.match(r'^sam(\d)\.', key)
        if m:
            key = f'sam{int(m.group(1)) + 1}.' + key[m.end():]
        out[key] = value
    return out


def _add_unused_sam_proj(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """The official ``SAM`` builds ``proj`` (3×3 conv, ``embed_dim`` -> ``embed_dim``)
    that its forward never uses; the official layout has it, zeros stand in."""
    out = OrderedDict(state_dict)
    for key, value in state_dict.items():
        m = re.match(r'^(sam\d)\.norm_sam\.weight$', key)
        if m:
            dim = value.shape[0]
            out[f'{m.group(1)}.proj.weight'] = value.new_zeros(dim, dim, 3, 3)
            out[f'{m.group(1)}.proj.bias'] = value.new_zeros(dim)
    return out


def pixelformer_to_official(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """mmdepth_dgr PixelFormer weights -> the official ``PixelFormer`` state dict (inverse
    of :func:`convert_pixelformer`; the official ``relative_position_index`` buffers are
    recomputed and the unused ``sam{k}.proj`` convs are zeros).

    Args:
        state_dict (dict[str, Tensor]): ``MonoDepthEstimator`` + ``PixelFormerHead``
            weights.

    Returns:
        dict[str, Tensor]: Official keys, no ``module.`` prefix.
    """
    official = model_to_official(state_dict, PIXELFORMER_HEAD_INVERSE_RULES, 'PixelFormer')
    return _add_unused_sam_proj(_shift_sam_index_up(official))


def convert_pixelformer(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Official ``PixelFormer`` state dict -> ``MonoDepthEstimator`` with
    ``PixelFormerHead``.

    Args:
        state_dict (dict[str, Tensor]): Official weights without ``module.`` (see
            ``newcrfs2mmdepth.unwrap_state_dict``).

    Returns:
        dict[str, Tensor]: Weights for the mmdepth_dgr model.
    """
    return convert_model(_shift_sam_index(state_dict), PIXELFORMER_HEAD_RULES,
                         PIXELFORMER_DROP, 'PixelFormer')


if __name__ == '__main__':
    main(convert_pixelformer, pixelformer_to_official, 'PixelFormer',
         'configs/pixelformer/pixelformer_swin-l-w7_4xb4-25k_nyu-416x544.py')
