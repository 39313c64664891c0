"""Convert an official AdaBins checkpoint (shariqfarooq123/AdaBins, ``AdaBins_nyu.pt`` /
``AdaBins_kitti.pt``) to this project's ``AdaBinsHead`` + ``TIMMEncoder`` layout.

Official layout (``models/unet_adaptive_bins.py``, ``miniViT.py``, ``layers.py``; the
checkpoint stores ``{'model': state_dict, ...}``, keys possibly prefixed by ``module.``)::

    encoder.original_model.<gen-efficientnet tf_efficientnet_b5_ap key>
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

EfficientNet keys: gen-efficientnet and timm 1.0 name the modules identically
(``conv_stem``, ``bn1``, ``blocks.i.j.{conv_pw,bn1,conv_dw,bn2,se.conv_reduce,
se.conv_expand,conv_pwl,bn3}``, ``conv_head``), so they move under
``backbone.timm_model.``. The head norm ``bn2.*`` is dropped: AdaBins taps ``conv_head``
*before* ``bn2`` and never uses it (``TIMMEncoder`` removes it too).

Usage::

    python tools/model_converters/adabins2mmdepth.py AdaBins_nyu.pt adabins_nyu_mmdepth.pth
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

__all__ = ['convert_adabins', 'DROPPED_PREFIXES']

_WHERE = 'tools/model_converters/adabins2mmdepth.py'
_ENC = 'encoder.original_model.'
# Parts of the official model that its forward never uses.
DROPPED_PREFIXES = (_ENC + 'bn2.', _ENC + 'classifier.', _ENC + 'global_pool.')
_UP_NET = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn'}
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
_UP_RE = re.compile(r'^decoder\.up(\d+)\._net\.(\d+)\.(.+)$')


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
    for key, value in state_dict.items():
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


def _load(path: str) -> Dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if isinstance(ckpt, dict) and 'model' in ckpt:
        return ckpt['model']
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        return ckpt['state_dict']
    if isinstance(ckpt, dict):
        return ckpt
    raise TypeError(f'{_WHERE}: {path} holds a {type(ckpt).__name__}, expected a dict '
                    "with a 'model' state dict")


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Convert an official AdaBins checkpoint to mmdepth_dgr keys')
    parser.add_argument('src', help='official checkpoint (AdaBins_nyu.pt / _kitti.pt)')
    parser.add_argument('dst', help='output path (.pth)')
    args = parser.parse_args()
    state, dropped = convert_adabins(_load(args.src))
    torch.save(dict(state_dict=state, meta=dict(converted_from=args.src)), args.dst)
    print(f'{len(state)} tensors written to {args.dst}; dropped {len(dropped)} unused '
          f'official keys ({", ".join(sorted({k.rsplit(".", 1)[0] for k in dropped}))})')


if __name__ == '__main__':
    main()
