"""In-backbone DGR: refine the output of every encoder stage before it feeds the next.

"DGR sits after every encoder stage" (Yao, Wu, Zhang, BMVC 2024, Sec. 3.2, Fig. 4).
:class:`DGRBackbone` wraps an mmseg backbone and re-runs its stage loop by calling the
wrapped backbone's *own* submodules (mirroring each class's ``forward`` in mmseg 1.2.2),
inserting a :class:`~mmdepth_dgr.models.layers.DGRBlock` after the chosen stages. No
backbone code is copied: only the control flow is mirrored, so the host's weights,
pretrained ``init_cfg``, ``train()``/frozen stages and ``norm_eval`` all stay the host's.

Where the refinement happens, per host:

* ``MixVisionTransformer``: after stage ``i``'s final norm (the NCHW map that is both
  output ``i`` and the next patch embedding's input).
* ``SwinTransformer``: after stage ``i``'s blocks, before its ``PatchMerging``; output
  ``i`` is ``norm_i`` of the refined map.
* ``VisionTransformer``: after the chosen layers (default: ``out_indices``); the patch
  tokens are reshaped to the ``(H/p, W/p)`` grid, refined, flattened back and fed to the
  next layers (the class token passes through). The last layer is refined after
  ``final_norm``. ``out_origin`` (pre-layer output) is never refined.
* ``ResNet`` and subclasses that keep its ``forward`` (``ResNetV1c``, ``ResNetV1d``,
  ``ResNeXt``): after each residual layer.
* :class:`~mmdepth_dgr.models.backbones.TIMMEncoder` around a timm ``EfficientNet`` or
  ``MobileNetV3`` (mirroring their ``forward_intermediates`` in timm 1.0, as
  ``timm_encoder_forward`` calls it): ``x = bn1(conv_stem(x))``, then every block of
  ``blocks``; feature level ``i`` (``feature_info[i]``, ``num_chs`` channels) ends after
  block ``feature_info[i]['stage'] - 1`` (``stage == 0`` would be the stem) and is
  refined there, whether or not ``i`` is in ``out_indices``. ``conv_head`` (with
  ``with_head_conv``) reads the refined last level. "Stages" are feature levels here.

At initialisation (zero-initialised last conv of every DGR block) and with DGR disabled
(``stages=[]`` or ``dgr=None``) the outputs equal the host's ``forward`` bit for bit.
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleDict
from mmseg.models.backbones import (MixVisionTransformer, ResNet, SwinTransformer,
                                    VisionTransformer)
from mmseg.models.utils import nlc_to_nchw
from mmseg.registry import MODELS

from .timm_encoder import TIMMEncoder

__all__ = ['DGRBackbone', 'SUPPORTED_HOSTS']

_WHERE = 'mmdepth_dgr/models/backbones/dgr_backbone.py'
SUPPORTED_HOSTS = (MixVisionTransformer, SwinTransformer, VisionTransformer, ResNet,
                   TIMMEncoder)


def _timm_stem_blocks_classes() -> tuple:
    """timm classes whose ``forward_intermediates`` is the stem + ``blocks`` loop mirrored
    by :meth:`DGRBackbone._forward_timm` (checked against timm 1.0.31's source)."""
    try:
        from timm.models.efficientnet import EfficientNet
        from timm.models.mobilenetv3 import MobileNetV3
    except ImportError:  # pragma: no cover - timm is a declared dependency
        return ()
    return EfficientNet, MobileNetV3


def _host_kind(backbone: nn.Module) -> str:
    """Name of the supported base class whose ``forward`` ``backbone`` uses, or raise."""
    for base in SUPPORTED_HOSTS:
        if isinstance(backbone, base) and type(backbone).forward is base.forward:
            if base is TIMMEncoder:
                _check_timm_model(backbone.timm_model)
            return base.__name__
    names = ', '.join(b.__name__ for b in SUPPORTED_HOSTS)
    raise TypeError(f'{_WHERE}: DGRBackbone does not support backbone type '
                    f'{type(backbone).__name__!r}; supported: {names} (and subclasses '
                    'that do not override forward, e.g. ResNetV1c, ResNetV1d, ResNeXt). '
                    'Use the neck form (DGRNeck) for other backbones.')


def _check_timm_model(model: nn.Module) -> None:
    """Raise unless ``model``'s ``forward_intermediates`` is the loop we mirror."""
    classes = _timm_stem_blocks_classes()
    for cls in classes:
        if (isinstance(model, cls)
                and type(model).forward_intermediates is cls.forward_intermediates):
            return
    raise TypeError(f'{_WHERE}: DGRBackbone supports TIMMEncoder only around timm '
                    f'{" / ".join(c.__name__ for c in classes)} models (stem + blocks '
                    f'loop), got {type(model).__name__!r}; use the neck form (DGRNeck)')


def _nlc_refine(block: nn.Module, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
    """Refine ``(B, H*W, C)`` tokens on their grid; returns contiguous ``(B, H*W, C)``."""
    return block(nlc_to_nchw(x, hw_shape)).flatten(2).transpose(1, 2).contiguous()


@MODELS.register_module()
class DGRBackbone(BaseModule):
    """Wrap an mmseg backbone and apply DGR after its stages (in-backbone placement).

    Two equivalent ways to give the host:

    * nested: ``DGRBackbone(backbone=dict(type='MixVisionTransformer', ...))``;
    * flat (the one-line config change): ``DGRBackbone(host_type='MixVisionTransformer',
      **host_kwargs)``; with mmengine's dict merge, a leaf config that only says
      ``model = dict(backbone=dict(type='DGRBackbone', host_type='MixVisionTransformer'))``
      keeps every other key of the base backbone and they arrive here as ``host_kwargs``.

    Args:
        backbone (dict, optional): Config of the host backbone. Defaults to None.
        dgr (dict, optional): Keyword arguments of every
            :class:`~mmdepth_dgr.models.layers.DGRBlock` (``in_channels`` is filled per
            stage; ``type`` may be given and defaults to 'DGRBlock'). ``None`` disables
            DGR (the wrapper is then the host). Defaults to ``dict()``.
        stages (Sequence[int], optional): Stages (layer indices for ViT, feature
            levels for TIMMEncoder) to refine. ``None``: every stage (MiT, Swin, ResNet,
            every ``feature_info`` level of TIMMEncoder) or ``out_indices`` (ViT).
            Defaults to None.
        host_type (str, optional): Host type for the flat form. Defaults to None.
        init_cfg (dict | list[dict], optional): Forwarded to the *host* (so a
            ``Pretrained`` checkpoint of the host loads into the host). Defaults to None.
        pretrained (str | bool, optional): Forwarded to the host (mmseg's
            ``EncoderDecoder`` sets ``backbone.pretrained``; ``TIMMEncoder`` takes a
            bool). Defaults to None.
        **host_kwargs: Host arguments in the flat form.

    Attributes:
        out_channels (List[int]): Channels of each returned map (heads can read it).
        dgr_channels (List[int]): Channels at each refinable stage.
    """

    def __init__(self,
                 backbone: Optional[dict] = None,
                 dgr: Optional[dict] = dict(),
                 stages: Optional[Sequence[int]] = None,
                 host_type: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 pretrained: Optional[Union[str, bool]] = None,
                 **host_kwargs) -> None:
        super().__init__(init_cfg=None)
        if backbone is None:
            if host_type is None:
                raise ValueError(f'{_WHERE}: DGRBackbone needs either backbone=dict(type=...)'
                                 ' or host_type=... (flat form)')
            backbone = dict(type=host_type, **host_kwargs)
        else:
            if host_type is not None or host_kwargs:
                raise ValueError(
                    f'{_WHERE}: DGRBackbone got backbone=dict(...) and also flat host '
                    f'arguments {sorted(host_kwargs) + (["host_type"] if host_type else [])}'
                    '; give the host one way only')
            backbone = copy.deepcopy(dict(backbone))
        for key, value in (('init_cfg', init_cfg), ('pretrained', pretrained)):
            if value is not None:
                if backbone.get(key) is not None:
                    raise ValueError(f'{_WHERE}: DGRBackbone: {key} is set both on the '
                                     'wrapper and on the host backbone config')
                backbone[key] = value
        self.backbone = MODELS.build(backbone)
        self.host_kind = _host_kind(self.backbone)
        self.dgr_channels = self._stage_channels()
        self.out_channels = self._out_channels()

        n = len(self.dgr_channels)
        if stages is None:
            stages = (list(self.backbone.out_indices) if self.host_kind == 'VisionTransformer'
                      else list(range(n)))
        stages = sorted(set(int(s) for s in stages))
        bad = [s for s in stages if not 0 <= s < n]
        if bad:
            raise ValueError(f'{_WHERE}: DGRBackbone stages {bad} out of range for '
                             f'{self.host_kind} with {n} stages/layers')
        self.stages = stages if dgr is not None else []
        # mmengine ModuleDict (not nn.ModuleDict): BaseModule.init_weights recurses into it.
        self.dgr = ModuleDict()
        for s in self.stages:
            cfg = dict(type='DGRBlock', **copy.deepcopy(dgr))
            cfg['in_channels'] = self.dgr_channels[s]
            self.dgr[str(s)] = MODELS.build(cfg)

    # ------------------------------------------------------------------ channel bookkeeping
    def _stage_channels(self) -> List[int]:
        bb = self.backbone
        if self.host_kind == 'MixVisionTransformer':
            return [bb.embed_dims * h for h in bb.num_heads[:bb.num_stages]]
        if self.host_kind == 'SwinTransformer':
            return list(bb.num_features)
        if self.host_kind == 'VisionTransformer':
            return [bb.cls_token.shape[-1]] * len(bb.layers)
        if self.host_kind == 'TIMMEncoder':
            return [f['num_chs'] for f in bb.timm_model.feature_info]
        return [bb.block.expansion * bb.base_channels * 2**i
                for i in range(len(bb.res_layers))]

    def _out_channels(self) -> List[int]:
        bb = self.backbone
        if self.host_kind == 'TIMMEncoder':
            return list(bb.out_channels)
        chans = [self.dgr_channels[i] for i in bb.out_indices]
        if self.host_kind == 'VisionTransformer' and bb.out_origin:
            chans = [bb.cls_token.shape[-1]] + chans
        return chans

    def _refine(self, i: int, x: torch.Tensor) -> torch.Tensor:
        key = str(i)
        return self.dgr[key](x) if key in self.dgr else x

    # ------------------------------------------------------------------ per-host stage loops
    def _forward_mit(self, x: torch.Tensor) -> List[torch.Tensor]:
        outs = []
        for i, layer in enumerate(self.backbone.layers):
            x, hw_shape = layer[0](x)
            for block in layer[1]:
                x = block(x, hw_shape)
            x = layer[2](x)
            x = nlc_to_nchw(x, hw_shape)
            x = self._refine(i, x)
            if i in self.backbone.out_indices:
                outs.append(x)
        return outs

    def _forward_swin(self, x: torch.Tensor) -> List[torch.Tensor]:
        bb = self.backbone
        x, hw_shape = bb.patch_embed(x)
        if bb.use_abs_pos_embed:
            x = x + bb.absolute_pos_embed
        x = bb.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(bb.stages):
            for block in stage.blocks:  # SwinBlockSequence.forward, split at downsample
                x = block(x, hw_shape)
            if str(i) in self.dgr:
                x = _nlc_refine(self.dgr[str(i)], x, hw_shape)
            out, out_hw_shape = x, hw_shape
            if stage.downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
            if i in bb.out_indices:
                out = getattr(bb, f'norm{i}')(out)
                out = out.view(-1, *out_hw_shape,
                               bb.num_features[i]).permute(0, 3, 1, 2).contiguous()
                outs.append(out)
        return outs

    def _forward_vit(self, inputs: torch.Tensor) -> Tuple:
        bb = self.backbone
        B = inputs.shape[0]
        x, hw_shape = bb.patch_embed(inputs)
        cls_tokens = bb.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = bb._pos_embeding(x, hw_shape, bb.pos_embed)
        if not bb.with_cls_token:
            x = x[:, 1:]
        if bb.pre_norm:
            x = bb.pre_ln(x)

        def to_out(x):
            out = x[:, 1:] if bb.with_cls_token else x
            out = out.reshape(B, hw_shape[0], hw_shape[1],
                              out.shape[-1]).permute(0, 3, 1, 2).contiguous()
            return [out, x[:, 0]] if bb.output_cls_token else out

        outs = []
        if bb.out_origin:
            outs.append(to_out(x))
        for i, layer in enumerate(bb.layers):
            x = layer(x)
            if i == len(bb.layers) - 1 and bb.final_norm:
                x = bb.norm1(x)
            if str(i) in self.dgr:
                if bb.with_cls_token:
                    tokens = _nlc_refine(self.dgr[str(i)], x[:, 1:], hw_shape)
                    x = torch.cat((x[:, :1], tokens), dim=1)
                else:
                    x = _nlc_refine(self.dgr[str(i)], x, hw_shape)
            if i in bb.out_indices:
                outs.append(to_out(x))
        return tuple(outs)

    def _forward_resnet(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        bb = self.backbone
        if bb.deep_stem:
            x = bb.stem(x)
        else:
            x = bb.conv1(x)
            x = bb.norm1(x)
            x = bb.relu(x)
        x = bb.maxpool(x)
        outs = []
        for i, layer_name in enumerate(bb.res_layers):
            x = getattr(bb, layer_name)(x)
            x = self._refine(i, x)
            if i in bb.out_indices:
                outs.append(x)
        return tuple(outs)

    def _forward_timm(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Mirror of ``timm_encoder_forward`` (``forward_intermediates`` + ``conv_head``)."""
        bb = self.backbone
        m = bb.timm_model
        # feature level ending after loop position p (0: stem, j: blocks[j - 1])
        level_at = {int(f['stage']): i for i, f in enumerate(m.feature_info)}
        feats = {}

        def tap(pos: int, x: torch.Tensor) -> torch.Tensor:
            if pos in level_at:
                x = self._refine(level_at[pos], x)
                feats[level_at[pos]] = x
            return x

        x = tap(0, m.bn1(m.conv_stem(x)))
        for pos, blk in enumerate(m.blocks, start=1):
            if m.grad_checkpointing and not torch.jit.is_scripting():
                from timm.models import checkpoint_seq  # as timm's own loop does
                x = checkpoint_seq(blk, x)
            else:
                x = blk(x)
            x = tap(pos, x)
        outs = [feats[i] for i in bb.out_indices]
        if bb.with_head_conv:
            outs.append(m.conv_head(feats[len(m.feature_info) - 1]))
        return outs

    def forward(self, x: torch.Tensor):
        """Same signature and output container as the host's ``forward``."""
        if self.host_kind == 'MixVisionTransformer':
            return self._forward_mit(x)
        if self.host_kind == 'SwinTransformer':
            return self._forward_swin(x)
        if self.host_kind == 'VisionTransformer':
            return self._forward_vit(x)
        if self.host_kind == 'TIMMEncoder':
            return self._forward_timm(x)
        return self._forward_resnet(x)

    def init_weights(self) -> None:
        """Host ``init_weights`` (its own ``init_cfg``/pretrained) + zero-init DGR.

        ``BaseModule.init_weights`` calls every child's ``init_weights``: the host's
        (which never touches the DGR blocks, they are not inside it) and each
        ``DGRBlock.init_weights`` (which re-zeroes its last conv).
        """
        super().init_weights()
