"""mmseg's Swin Transformer that loads pretrained weights in any of three key layouts.

The hosts' training scripts (NeWCRFs, PixelFormer: ``--pretrain
swin_large_patch4_window7_224_22k.pth``) load Microsoft's original classification
checkpoints, whose keys follow the Swin-Transformer repository (``layers.i.blocks.j.
attn.qkv``, ``layers.i.downsample`` at the *end* of stage ``i``, ``patch_embed.proj``).
mmseg's ``SwinTransformer`` names them differently (``stages.i.blocks.j.attn.w_msa.qkv``,
``ffn.layers.0.0``, ``patch_embed.projection``) and orders the patch-merging channels
differently (``nn.Unfold``), and its ``init_weights`` loads with ``strict=False``: a
Microsoft file "loads" with warnings only and leaves the encoder almost random.

:class:`PretrainedSwinTransformer` is ``SwinTransformer`` with one change,
``init_weights``: it recognises the layout of the ``init_cfg`` checkpoint, converts it
(:func:`convert_swin_state_dict`) and refuses a file whose tensors do not cover the
encoder (:func:`check_swin_coverage`). ``forward`` is mmseg's, so ``DGRBackbone`` wraps
it as a ``SwinTransformer``. Layouts:

* ``'mmseg'``: already mmseg's keys (OpenMMLab's converted downloads); loaded as is.
* ``'microsoft'``: the original release (also what timm < 0.9 used).
* ``'timm'``: timm >= 0.9 (``layers.i.downsample`` at the *start* of stage ``i``,
  ``head.fc``); the same tensors as Microsoft's with the downsample one stage later.

The conversion (learned from mmseg's ``tools/model_converters/swin2mmseg.py``):
``layers`` -> ``stages``; ``attn.`` -> ``attn.w_msa.``; ``mlp.fc1`` -> ``ffn.layers.0.0``,
``mlp.fc2`` -> ``ffn.layers.1``; ``patch_embed.proj`` -> ``patch_embed.projection``;
the classifier ``head``, the final ``norm`` (the hosts add fresh per-level norms
``norm0..3``, as mmseg does), and the buffers ``attn_mask`` / ``relative_position_index``
(recomputed by mmseg) are dropped; patch merging's ``reduction.weight`` columns and
``norm`` entries are permuted from Microsoft's ``cat(x00, x10, x01, x11)`` (row, column
parity) channel blocks to ``nn.Unfold``'s channel-major ``c * 4 + (2 kh + kw)`` order.

Why hand-written: mmseg ships the conversion only as a command-line script outside the
package, and its ``init_weights`` (table interpolation, prefix stripping, the non-strict
load) cannot be reused piecewise.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS

__all__ = [
    'PretrainedSwinTransformer', 'swin_state_dict_layout', 'convert_swin_state_dict',
    'check_swin_coverage', 'SWIN_LAYOUTS'
]

SWIN_LAYOUTS = ('mmseg', 'microsoft', 'timm')
_WHERE = 'mmdepth_dgr/models/backbones/swin_pretrained.py'
_DOWNSAMPLE = re.compile(r'^layers\.(\d+)\.downsample\.')
# Patch merging: Microsoft's channel block k holds (row parity, column parity)
# (0,0), (1,0), (0,1), (1,1); nn.Unfold's kernel position 2*kh + kw reads block
# [0, 2, 1, 3].
_UNFOLD_FROM_MS = [0, 2, 1, 3]


def _unwrap(ckpt: dict) -> Dict[str, torch.Tensor]:
    """The tensor dict of a checkpoint, without ``backbone.`` / ``module.`` prefixes."""
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    out = OrderedDict()
    for k, v in ckpt.items():
        if not isinstance(v, torch.Tensor):
            continue
        for prefix in ('module.', 'backbone.'):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def swin_state_dict_layout(state_dict: Dict[str, torch.Tensor]) -> Optional[str]:
    """Which Swin key layout a state dict uses.

    Args:
        state_dict (dict): checkpoint tensors (prefixes already stripped).

    Returns:
        str | None: ``'mmseg'``, ``'microsoft'``, ``'timm'``, or None when it is no
        Swin checkpoint at all.
    """
    keys = list(state_dict)
    if any(k.startswith('stages.') or k.startswith('patch_embed.projection.')
           for k in keys):
        return 'mmseg'
    if not any(k.startswith('layers.') for k in keys):
        return None
    stages_with_downsample = sorted({int(m.group(1)) for k in keys
                                     for m in [_DOWNSAMPLE.match(k)] if m})
    if stages_with_downsample and stages_with_downsample[0] == 0:
        return 'microsoft'
    if stages_with_downsample:
        return 'timm'
    # A one-stage network has no patch merging; both layouts then agree.
    return 'microsoft'


def _unfold_order_weight(w: torch.Tensor) -> torch.Tensor:
    out_ch, in_ch = w.shape
    c = in_ch // 4
    return w.reshape(out_ch, 4, c)[:, _UNFOLD_FROM_MS, :].transpose(1, 2).reshape(
        out_ch, in_ch)


def _unfold_order_vector(v: torch.Tensor) -> torch.Tensor:
    c = v.shape[0] // 4
    return v.reshape(4, c)[_UNFOLD_FROM_MS, :].transpose(0, 1).reshape(-1)


def convert_swin_state_dict(
        state_dict: Dict[str, torch.Tensor],
        layout: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Convert a Microsoft- or timm-layout Swin state dict to mmseg's keys.

    Args:
        state_dict (dict): checkpoint tensors (prefixes already stripped).
        layout (str, optional): one of ``SWIN_LAYOUTS``; detected when None.

    Returns:
        OrderedDict: mmseg ``SwinTransformer`` keys (``'mmseg'`` input is returned
        unchanged, as a copy).

    Raises:
        ValueError: unknown layout, or not a Swin checkpoint.
    """
    layout = layout or swin_state_dict_layout(state_dict)
    if layout not in SWIN_LAYOUTS:
        raise ValueError(f'{_WHERE}: not a Swin checkpoint (no layers./stages. keys) or '
                         f'unknown layout {layout!r}; expected one of {SWIN_LAYOUTS}')
    if layout == 'mmseg':
        return OrderedDict(state_dict)
    out = OrderedDict()
    for k, v in state_dict.items():
        if (k.startswith('head.') or k.startswith('norm.') or k.endswith('attn_mask')
                or k.endswith('relative_position_index')):
            continue
        if layout == 'timm':
            k = _DOWNSAMPLE.sub(lambda m: f'layers.{int(m.group(1)) - 1}.downsample.', k)
        if k.startswith('patch_embed.proj.'):
            k = 'patch_embed.projection.' + k[len('patch_embed.proj.'):]
        elif k.startswith('layers.'):
            k = 'stages.' + k[len('layers.'):]
            if '.downsample.reduction.weight' in k:
                v = _unfold_order_weight(v)
            elif '.downsample.norm.' in k:
                v = _unfold_order_vector(v)
            else:
                k = (k.replace('.attn.', '.attn.w_msa.').replace(
                    '.mlp.fc1.', '.ffn.layers.0.0.').replace('.mlp.fc2.', '.ffn.layers.1.'))
        out[k] = v
    return out


def _fit_position_tensors(model: SwinTransformer,
                          state_dict: 'OrderedDict[str, torch.Tensor]') -> None:
    """Resize relative position bias tables (bicubic, as mmseg) and reshape an absolute
    position embedding to the model's, in place."""
    own = model.state_dict()
    ape = state_dict.get('absolute_pos_embed')
    if ape is not None and 'absolute_pos_embed' in own and ape.dim() == 3:
        n, c, h, w = own['absolute_pos_embed'].shape
        if ape.shape == (n, h * w, c):
            state_dict['absolute_pos_embed'] = ape.view(n, h, w, c).permute(
                0, 3, 1, 2).contiguous()
    for k, table in list(state_dict.items()):
        if not k.endswith('relative_position_bias_table') or k not in own:
            continue
        (l_old, heads_old), (l_new, heads_new) = table.shape, own[k].shape
        if heads_old == heads_new and l_old != l_new:
            s_old, s_new = int(l_old**0.5), int(l_new**0.5)
            resized = F.interpolate(
                table.permute(1, 0).reshape(1, heads_old, s_old, s_old),
                size=(s_new, s_new), mode='bicubic')
            state_dict[k] = resized.view(heads_new, l_new).permute(1, 0).contiguous()


def check_swin_coverage(model: SwinTransformer,
                        state_dict: Dict[str, torch.Tensor],
                        source: str = '<state dict>',
                        layout: Optional[str] = None) -> Tuple[List[str], List[str]]:
    """Check that a (converted) state dict fills every encoder parameter of ``model``.

    Every parameter of ``model`` except the per-level output norms ``norm0..3``
    (never part of classification checkpoints; the hosts add them fresh) must be
    present with the model's shape.

    Args:
        model (SwinTransformer): the encoder.
        state_dict (dict): mmseg-layout tensors.
        source (str): the checkpoint's name, for the message.
        layout (str, optional): the detected layout, for the message.

    Returns:
        tuple[list[str], list[str]]: ``(matched, unexpected)`` keys.

    Raises:
        RuntimeError: a parameter is missing or has another shape; the message names
            the file, its layout, the counts and the first offending keys.
    """
    params = dict(model.named_parameters())
    needed = [k for k in params if not re.match(r'^norm\d+\.', k)]
    missing = [k for k in needed if k not in state_dict]
    wrong = [f'{k}: file {tuple(state_dict[k].shape)} vs model {tuple(params[k].shape)}'
             for k in needed if k in state_dict and state_dict[k].shape != params[k].shape]
    if missing or wrong:
        lines = [f'{_WHERE}: pretrained Swin weights {source} (detected layout: '
                 f'{layout}) do not fit this SwinTransformer: '
                 f'{len(needed) - len(missing) - len(wrong)}/{len(needed)} encoder '
                 f'parameters match, {len(missing)} missing, {len(wrong)} with another '
                 'shape.']
        if missing:
            lines.append('missing (first 5): ' + ', '.join(missing[:5]))
        if wrong:
            lines.append('shape mismatch (first 5): ' + '; '.join(wrong[:5]))
        lines.append('Expected a Swin checkpoint of the same variant (embed_dims, depths, '
                     'num_heads) in the mmseg, Microsoft or timm layout.')
        raise RuntimeError('\n'.join(lines))
    own = model.state_dict()
    matched = [k for k in state_dict if k in own]
    unexpected = [k for k in state_dict if k not in own]
    return matched, unexpected


@MODELS.register_module()
class PretrainedSwinTransformer(SwinTransformer):
    """mmseg ``SwinTransformer`` whose pretrained checkpoint may be in any Swin layout.

    Same arguments and ``forward`` as mmseg's ``SwinTransformer``;
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH_OR_URL)`` may point to an
    mmseg, Microsoft (e.g. ``swin_large_patch4_window7_224_22k.pth``, what the
    NeWCRFs/PixelFormer scripts load) or timm checkpoint. The file is converted on load
    and must cover every encoder parameter (see :func:`check_swin_coverage`), else
    ``init_weights`` raises naming the file.

    Args:
        strict_pretrained (bool): raise when the checkpoint does not cover the
            encoder; False only logs the problem and loads what matches (mmseg's
            behaviour). Defaults to True.
        **kwargs: mmseg ``SwinTransformer`` arguments.
    """

    def __init__(self, strict_pretrained: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.strict_pretrained = strict_pretrained

    def init_weights(self) -> None:
        """Random init (mmseg's), or load, convert and check the ``init_cfg`` file."""
        if self.init_cfg is None or self.init_cfg.get('checkpoint') is None:
            super().init_weights()
            return
        source = self.init_cfg['checkpoint']
        ckpt = CheckpointLoader.load_checkpoint(source, logger=None, map_location='cpu')
        raw = _unwrap(ckpt)
        layout = swin_state_dict_layout(raw)
        state_dict = (convert_swin_state_dict(raw, layout) if layout is not None else raw)
        _fit_position_tensors(self, state_dict)
        try:
            _, unexpected = check_swin_coverage(self, state_dict, source, layout)
        except RuntimeError as err:
            if self.strict_pretrained:
                raise
            print_log(str(err), logger='current', level=30)
            unexpected = [k for k in state_dict if k not in self.state_dict()]
        own = self.state_dict()
        loadable = {k: v for k, v in state_dict.items()
                    if k in own and v.shape == own[k].shape}
        self.load_state_dict(loadable, strict=False)
        print_log(f'PretrainedSwinTransformer: loaded {len(loadable)} tensors from '
                  f'{source} ({layout} layout); ignored {len(unexpected)} keys not in the '
                  'encoder', logger='current')
