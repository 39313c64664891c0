"""Convert an official AdaBins checkpoint (shariqfarooq123/AdaBins, ``AdaBins_nyu.pt`` /
``AdaBins_kitti.pt``) to this project's ``AdaBinsHead`` + ``TIMMEncoder`` layout.

Official layout (``models/unet_adaptive_bins.py``, ``miniViT.py``, ``layers.py``).
``train.py`` saves checkpoints with ``model_io.save_checkpoint``: ``{'model':
model.state_dict(), 'optimizer': ..., 'epoch': ...}``; the model is wrapped in
DistributedDataParallel or DataParallel (keys prefixed ``module.``) unless trained on
one given ``--gpu`` (no prefix). Key map (:func:`adabins_to_official` is the exact
inverse)::

    encoder.original_model.<gen-efficientnet tf_efficientnet_b5_ap key>
                                         -> backbone.timm_model.<same key>
    decoder.conv2.*                      -> decode_head.bottleneck_conv.*
    decoder.up{k}._net.{0,1,3,4}.*       -> decode_head.up_blocks.{k-1}.convs.{0.conv,
                                            0.bn, 1.conv, 1.bn}.*
    decoder.conv3.*                      -> decode_head.decoder_out.*
    adaptive_bins_layer.patch_transformer.embedding_convPxP.*
                                         -> decode_head.mvit.patch_embed.*
    adaptive_bins_layer.patch_transformer.positional_encodings
                                         -> decode_head.mvit.pos_embed
    adaptive_bins_layer.patch_transformer.transformer_encoder.*
                                         -> decode_head.mvit.transformer.*
    adaptive_bins_layer.conv3x3.*        -> decode_head.mvit.conv3x3.*
    adaptive_bins_layer.regressor.*      -> decode_head.mvit.regressor.*
    conv_out.0.*                         -> decode_head.conv_out.*

The older names that the official ``model_io.load_checkpoint`` still accepts
(``adaptive_bins_layer.embedding_conv.`` for ``conv3x3``,
``patch_transformer.embedding_encoder`` for ``embedding_convPxP``) are renamed first.

EfficientNet keys: gen-efficientnet and timm 1.0 name the modules identically
(``conv_stem``, ``bn1``, ``blocks.i.j.{conv_pw,bn1,conv_dw,bn2,se.conv_reduce,
se.conv_expand,conv_pwl,bn3}``, ``conv_head``). The head norm ``bn2.*`` is dropped:
AdaBins taps ``conv_head`` *before* ``bn2`` and never uses it (``TIMMEncoder`` removes
it too); the inverse writes an identity ``bn2`` in its place.

The command line checks the checkpoint against the network of ``--config`` first (every
official key there, nothing else; names the file and the keys otherwise) and loads the
result with ``strict=True`` (shared code in ``newcrfs2mmdepth.py``).

Usage::

    python tools/model_converters/adabins2mmdepth.py AdaBins_nyu.pt adabins_nyu_mmdepth.pth
"""
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from newcrfs2mmdepth import convert_checkpoint, main  # noqa: E402,F401

__all__ = ['convert_adabins', 'adabins_to_official', 'rename_legacy_keys',
           'convert_checkpoint', 'DROPPED_PREFIXES']

_WHERE = 'tools/model_converters/adabins2mmdepth.py'
_ENC = 'encoder.original_model.'
# Parts of the official model that its forward never uses (bn2 is the only one with
# weights: global_pool / classifier are nn.Identity in the official build()).
DROPPED_PREFIXES = (_ENC + 'bn2.', _ENC + 'classifier.', _ENC + 'global_pool.')
_UP_NET = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn'}
_UP_NET_INV = {v: k for k, v in _UP_NET.items()}
_RENAMES = (
    ('decoder.conv2.', 'decode_head.bottleneck_conv.'),
    ('decoder.conv3.', 'decode_head.decoder_out.'),
    ('adaptive_bins_layer.patch_transformer.embedding_convPxP.',
     'decode_head.mvit.patch_embed.'),
    ('adaptive_bins_layer.patch_transformer.positional_encodings',
     'decode_head.mvit.pos_embed'),
    ('adaptive_bins_layer.patch_transformer.transformer_encoder.',
     'decode_head.mvit.transformer.'),
    ('adaptive_bins_layer.conv3x3.', 'decode_head.mvit.conv3x3.'),
    ('adaptive_bins_layer.regressor.', 'decode_head.mvit.regressor.'),
    ('conv_out.0.', 'decode_head.conv_out.'),
)
# Older official names, as renamed by the official model_io.load_checkpoint.
_LEGACY = (
    ('adaptive_bins_layer.embedding_conv.', 'adaptive_bins_layer.conv3x3.'),
    ('adaptive_bins_layer.patch_transformer.embedding_encoder',
     'adaptive_bins_layer.patch_transformer.embedding_convPxP'),
)
_UP_RE = re.compile(r'^decoder\.up(\d+)\._net\.(\d+)\.(.+)$')
_UP_INV_RE = re.compile(r'^decode_head\.up_blocks\.(\d+)\.convs\.(\d\.(?:conv|bn))\.(.+)$')


def _rename(key: str) -> str:
    if key.startswith(_ENC):
        return 'backbone.timm_model.' + key[len(_ENC):]
    m = _UP_RE.match(key)
    if m:
        block, layer, rest = m.groups()
        if layer not in _UP_NET:
            raise KeyError(f'{_WHERE}: unexpected up-block layer index in {key!r}')
        return f'decode_head.up_blocks.{int(block) - 1}.convs.{_UP_NET[layer]}.{rest}'
    for old, new in _RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    raise KeyError(f'{_WHERE}: checkpoint key {key!r} is not part of the official AdaBins '
                   'layout (UnetAdaptiveBins); is this an AdaBins checkpoint?')


def _rename_to_official(key: str) -> str:
    if key.startswith('backbone.timm_model.'):
        return _ENC + key[len('backbone.timm_model.'):]
    m = _UP_INV_RE.match(key)
    if m:
        block, layer, rest = m.groups()
        return f'decoder.up{int(block) + 1}._net.{_UP_NET_INV[layer]}.{rest}'
    for old, new in _RENAMES:
        if key.startswith(new):
            return old + key[len(new):]
    raise KeyError(f'{_WHERE}: mmdepth_dgr AdaBins key {key!r} has no official name.')


def rename_legacy_keys(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    """Apply the official loader's renames of older AdaBins key names (see ``_LEGACY``)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        for old, new in _LEGACY:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def convert_adabins(state_dict: Dict[str, torch.Tensor]
                    ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official AdaBins state dict to the mmdepth_dgr layout.

    Args:
        state_dict (dict[str, Tensor]): ``checkpoint['model']`` of an official
            checkpoint (a leading ``module.`` is stripped).

    Returns:
        tuple[OrderedDict, list[str]]: The converted state dict and the official keys
        dropped on purpose (unused by the official forward, see ``DROPPED_PREFIXES``).
    """
    out, dropped = OrderedDict(), []
    for key, value in rename_legacy_keys(state_dict).items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith(DROPPED_PREFIXES):
            dropped.append(key)
            continue
        new = _rename(key)
        if new in out:
            raise KeyError(f'{_WHERE}: two checkpoint keys map to {new!r}')
        out[new] = value
    return out, dropped


def adabins_to_official(state_dict: Dict[str, torch.Tensor]
                        ) -> 'OrderedDict[str, torch.Tensor]':
    """mmdepth_dgr AdaBins weights -> the official ``UnetAdaptiveBins`` state dict
    (inverse of :func:`convert_adabins`; the unused encoder ``bn2`` is written as an
    identity BatchNorm sized by ``conv_head``).

    Args:
        state_dict (dict[str, Tensor]): ``MonoDepthEstimator`` with ``TIMMEncoder`` +
            ``AdaBinsHead`` weights.

    Returns:
        OrderedDict[str, Tensor]: Official keys, no ``module.`` prefix.
    """
    out = OrderedDict((_rename_to_official(k), v) for k, v in state_dict.items())
    head = out.get(_ENC + 'conv_head.weight')
    if head is None:
        raise KeyError(f'{_WHERE}: no backbone.timm_model.conv_head.weight: the official '
                       'AdaBins encoder taps conv_head (TIMMEncoder with_head_conv=True).')
    c = head.shape[0]
    out[_ENC + 'bn2.weight'] = head.new_ones(c)
    out[_ENC + 'bn2.bias'] = head.new_zeros(c)
    out[_ENC + 'bn2.running_mean'] = head.new_zeros(c)
    out[_ENC + 'bn2.running_var'] = head.new_ones(c)
    out[_ENC + 'bn2.num_batches_tracked'] = torch.tensor(0)
    return out


def _convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict[str, torch.Tensor]':
    return convert_adabins(state_dict)[0]


if __name__ == '__main__':
    main(_convert, adabins_to_official, 'AdaBins',
         'configs/adabins/adabins_efficientnet-b5_4xb4-25k_nyu-416x544.py',
         normalize=rename_legacy_keys)
