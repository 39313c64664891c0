"""A timm classification network used as a multi-level encoder, with a head-conv tap.

Why not mmseg's ``TIMMBackbone``: it builds timm's ``features_only`` wrapper, which
drops the network's ``conv_head``. AdaBins (Bhat et al., CVPR 2021, Sec. 3.1) feeds its
decoder with the *output of EfficientNet's* ``conv_head`` (the 1×1 ``512 -> 2048`` conv
of B5, taken before ``bn2``) as the bottleneck, and that conv is ImageNet-pretrained.
This wrapper keeps the whole timm model (so ``pretrained=True`` fills ``conv_head`` too),
returns timm's own stage-end maps via ``forward_intermediates`` (timm's API, not a
re-implementation) and, with ``with_head_conv=True``, appends ``conv_head`` applied to the
last stage map. The unused classifier, pooling and ``bn2`` are removed so that every
parameter receives a gradient (DDP without ``find_unused_parameters``).

The timm model is stored as ``self.timm_model`` (state-dict prefix
``backbone.timm_model.``), as in mmseg's ``TIMMBackbone``.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS

try:
    import timm
except ImportError:  # pragma: no cover - timm is a declared dependency
    timm = None

__all__ = ['TIMMEncoder', 'timm_encoder_forward']

_WHERE = 'mmdepth_dgr/models/backbones/timm_encoder.py'


def timm_encoder_forward(model: nn.Module, x: torch.Tensor, out_indices: Sequence[int],
                         with_head_conv: bool) -> List[torch.Tensor]:
    """Stage-end maps of a timm model, plus ``conv_head`` of the last one if asked.

    Args:
        model (nn.Module): A timm model with ``forward_intermediates`` (and ``conv_head``
            when ``with_head_conv``).
        x (Tensor): (B, 3, H, W) input images.
        out_indices (Sequence[int]): Indices into the model's ``feature_info``
            (EfficientNet: 0..4 at strides 2, 4, 8, 16, 32).
        with_head_conv (bool): Append ``model.conv_head(last stage map)``.

    Returns:
        list[Tensor]: ``len(out_indices) (+1)`` maps (B, C_i, H_i, W_i).
    """
    indices = sorted(set(int(i) for i in out_indices))
    need = indices if not with_head_conv else sorted(set(indices) | {len(model.feature_info) - 1})
    feats = model.forward_intermediates(x, indices=need, intermediates_only=True)
    by_index = dict(zip(need, feats))
    outs = [by_index[i] for i in indices]
    if with_head_conv:
        outs.append(model.conv_head(by_index[need[-1]]))
    return outs


def _distributed_cuda() -> bool:
    dist = torch.distributed
    return (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
            and torch.cuda.is_available())


@MODELS.register_module()
class TIMMEncoder(BaseModule):
    """timm network as an encoder returning stage-end maps (and its head conv output).

    Args:
        model_name (str): timm model name, e.g. ``'tf_efficientnet_b5.ap_in1k'``.
        pretrained (bool): Load timm's pretrained weights (needs the HF hub).
            Defaults to False.
        out_indices (Sequence[int]): Which ``feature_info`` levels to return.
            Defaults to (0, 1, 2, 3).
        with_head_conv (bool): Append ``conv_head(last stage)`` as the final output
            (AdaBins' bottleneck; EfficientNet B5: 2048 channels at stride 32).
            Defaults to True.
        in_channels (int): Input channels. Defaults to 3.
        sync_bn (bool): In a distributed CUDA run, convert the timm model's batch norms
            (fused BN + activation modules) with timm's own
            ``convert_sync_batchnorm``, which keeps the activation. mmengine's
            ``cfg.sync_bn`` must not be used for timm encoders: it replaces them by
            plain SyncBN and drops the activation. Without a process group (one
            process, CPU) nothing changes. Defaults to False.
        init_cfg (dict, optional): mmengine init config. Defaults to None.
        **kwargs: Extra ``timm.create_model`` arguments (e.g. ``drop_path_rate``).

    Attributes:
        out_channels (List[int]): Channels of each returned map.
    """

    def __init__(self,
                 model_name: str,
                 pretrained: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_head_conv: bool = True,
                 in_channels: int = 3,
                 sync_bn: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if timm is None:  # pragma: no cover
            raise RuntimeError(f'{_WHERE}: TIMMEncoder needs timm installed')
        super().__init__(init_cfg=init_cfg)
        try:
            model = timm.create_model(model_name, pretrained=pretrained,
                                      in_chans=in_channels, num_classes=0,
                                      global_pool='', **kwargs)
        except RuntimeError as err:
            raise RuntimeError(f'{_WHERE}: TIMMEncoder could not create timm model '
                               f'{model_name!r} (pretrained={pretrained}): {err}') from err
        if not hasattr(model, 'forward_intermediates') or not hasattr(model, 'feature_info'):
            raise TypeError(f'{_WHERE}: timm model {model_name!r} has no '
                            'forward_intermediates/feature_info; TIMMEncoder needs both')
        n_levels = len(model.feature_info)
        out_indices = [int(i) for i in out_indices]
        bad = [i for i in out_indices if not 0 <= i < n_levels]
        if bad:
            raise ValueError(f'{_WHERE}: TIMMEncoder out_indices {bad} out of range for '
                             f'{model_name!r} with {n_levels} feature levels')
        if with_head_conv and not isinstance(getattr(model, 'conv_head', None), nn.Conv2d):
            raise TypeError(f'{_WHERE}: with_head_conv=True but timm model {model_name!r} '
                            'has no conv_head convolution')
        # Parts after conv_head are never used by the encoder: drop them so that no
        # parameter is left without gradient.
        for name in ('bn2', 'global_pool', 'classifier', 'head', 'fc'):
            if isinstance(getattr(model, name, None), nn.Module):
                setattr(model, name, nn.Identity())
        if not with_head_conv and hasattr(model, 'conv_head'):
            model.conv_head = nn.Identity()
        if sync_bn and _distributed_cuda():
            model = timm.layers.convert_sync_batchnorm(model)
        self.timm_model = model
        self.model_name = model_name
        self.out_indices = sorted(set(out_indices))
        self.with_head_conv = with_head_conv
        chans = [model.feature_info[i]['num_chs'] for i in self.out_indices]
        if with_head_conv:
            chans.append(model.conv_head.out_channels)
        self.out_channels = chans
        if pretrained:  # timm already loaded the weights
            self._is_init = True

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """(B, 3, H, W) -> list of (B, C_i, H_i, W_i); see :func:`timm_encoder_forward`."""
        return timm_encoder_forward(self.timm_model, x, self.out_indices,
                                    self.with_head_conv)
